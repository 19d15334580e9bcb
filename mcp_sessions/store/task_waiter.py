"""Long-poll claims woken by LISTEN/NOTIFY, and the periodic sweep of expired leases.

One TaskWaiter per server process owns one dedicated connection (not from the pool)
that LISTENs on a channel of this process's own. It is the process's only LISTEN
connection: other waiters (the event feed's, store/event_waiter.py) add handlers for the
payloads that are not a claimer's, and are told when it reconnects. A claimer with nothing to claim
registers a row in task_waiters and waits on a local event; whoever makes a task
claimable (the insert trigger, a completion that unblocks a dependent, a requeue, a
recovered lease) deletes one matching waiter row per task and NOTIFYs that waiter's
channel with its id, so one task wakes one claimer (no thundering herd). No pool
connection and no transaction is held while waiting.

A dropped listening connection is re-established with backoff; meanwhile, and always
every POLL_SECONDS, waiting claimers simply try again, so a lost wake-up delays work
but never strands it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from typing import Awaitable, Callable

import anyio
import asyncpg

from mcp_sessions.models import ClaimResult
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.store import events, reservations, schedules, tasks

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0  # the fallback: how long a waiter sleeps without a wake-up
SWEEP_SECONDS = 15.0  # recovery of expired leases and due schedules, jittered so servers don't align
PING_SECONDS = 30.0  # how often an idle LISTEN connection is checked

Claim = Callable[[], Awaitable[ClaimResult]]


class TaskWaiter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: Callable[[], Awaitable[str]],
        *,
        poll_seconds: float = POLL_SECONDS,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self.poll_seconds = poll_seconds
        self.sweep_seconds = sweep_seconds
        self.channel = f"mcp_sessions_waiter_{uuid.uuid4().hex}"
        self._listener: asyncpg.Connection | None = None
        self._events: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._reconnect = asyncio.Event()
        self._closing = False
        # Other users of this connection: payloads that name no claimer, and reconnects
        # (after which anything may have been missed).
        self.on_payload: list[Callable[[str], None]] = []
        self.on_reconnect: list[Callable[[], None]] = []

    # Lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        with contextlib.suppress(Exception):
            await self._listen()  # a failure here is retried by the keeper
        self._tasks = [asyncio.create_task(self._keep_listening()), asyncio.create_task(self._sweep())]

    async def stop(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._listener is not None and not self._listener.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._listener.close(), 2)
        self._wake_all()

    @property
    def listener_pid(self) -> int | None:
        conn = self._listener
        return None if conn is None or conn.is_closed() else conn.get_server_pid()

    async def _listen(self) -> None:
        conn = await asyncpg.connect(await self._dsn())
        conn.add_termination_listener(self._lost)
        await conn.add_listener(self.channel, self._notified)
        self._listener = conn
        log.debug("listening on %s (backend %s)", self.channel, conn.get_server_pid())

    def _lost(self, _conn: asyncpg.Connection) -> None:
        if self._closing:
            return
        log.warning("the LISTEN connection was lost; reconnecting, waiters fall back to polling")
        self._listener = None
        self._reconnect.set()
        # Their registrations name a dead listener: let them retry and re-register.
        self._wake_all()

    async def _keep_listening(self) -> None:
        delay = 0.2
        while True:
            if self.listener_pid is not None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._reconnect.wait(), PING_SECONDS)
                self._reconnect.clear()
                if self.listener_pid is not None and await self._alive():
                    continue
                self._drop()
            try:
                await self._listen()
                delay = 0.2
                self._wake_all()
            except Exception as exc:  # noqa: BLE001 - any failure: try again later
                log.warning("cannot LISTEN (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _alive(self) -> bool:
        """A connection can die without a word (a network partition): ask it."""
        conn = self._listener
        try:
            await asyncio.wait_for(conn.execute(Q["listener_ping"]), 5)  # type: ignore[union-attr]
            return True
        except Exception:  # noqa: BLE001 - any failure means: reconnect
            return False

    def _drop(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
        self._wake_all()

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        event = self._events.get(payload)
        if event is not None:
            event.set()
            return
        for handler in self.on_payload:
            handler(payload)

    def _wake_all(self) -> None:
        for event in self._events.values():
            event.set()
        for handler in self.on_reconnect:
            handler()

    # The periodic sweep --------------------------------------------------------------

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_seconds * random.uniform(0.5, 1.5))
            try:
                async with self._pool.acquire() as conn:
                    recovered = await tasks.recover_expired(conn, 1000)
                    await conn.execute(Q["sweep_waiters"])
                    # Recurring tasks: each due occurrence once, whichever server gets there first.
                    scheduled = await schedules.sweep(conn)
                    # Path reservations past their expiry go, each writing reservation.expired.
                    expired = await reservations.expire(conn)
                if expired:
                    log.info("%d path reservations expired", expired)
                if recovered:
                    log.info("recovered %d tasks whose lease ran out", recovered)
                if scheduled:
                    log.info("created %d scheduled tasks", scheduled)
            except Exception as exc:  # noqa: BLE001 - the next sweep tries again
                log.warning("lease sweep failed: %s", exc)

    # Waiting ---------------------------------------------------------------------------

    async def claim(
        self,
        claim: Claim,
        *,
        agent: str,
        session_id: str | None,
        task_types: list[str] | None,
        wait_seconds: float,
    ) -> ClaimResult:
        """Claim, waiting up to wait_seconds for a claimable task."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        result = await claim()
        waiter_id = str(uuid.uuid4())
        event = asyncio.Event()
        self._events[waiter_id] = event
        registered = False
        try:
            while result.task is None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                if not registered:
                    registered = await self._register(waiter_id, agent, session_id, task_types, remaining)
                    if registered:
                        # A task that appeared between the claim and the registration
                        # woke nobody: look once more before sleeping, once the writers
                        # that may have looked for waiters before we were visible are done.
                        await events.settle(self._pool, min(remaining, 1.0))
                        result = await claim()
                        continue
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(event.wait(), min(remaining, self.poll_seconds))
                if event.is_set():
                    event.clear()
                    registered = False  # the waker deleted our row (or the listener died)
                result = await claim()
        finally:
            del self._events[waiter_id]
            if registered:
                # Shielded: a call cancelled by its client (notifications/cancelled) still
                # takes its registration back, so no task is handed to a waiter that left.
                with anyio.CancelScope(shield=True), anyio.move_on_after(5), contextlib.suppress(Exception):
                    async with self._pool.acquire() as conn:
                        await conn.execute(Q["unregister_waiter"], uuid.UUID(waiter_id))
        return result

    async def _register(
        self, waiter_id: str, agent: str, session_id: str | None, task_types: list[str] | None, seconds: float
    ) -> bool:
        pid = self.listener_pid
        if pid is None:
            return False  # no listener: poll until the keeper has reconnected
        async with self._pool.acquire() as conn:
            await conn.execute(
                Q["register_waiter"], uuid.UUID(waiter_id), self.channel, pid, agent, session_id,
                task_types or None, seconds + 1.0,
            )
        return True

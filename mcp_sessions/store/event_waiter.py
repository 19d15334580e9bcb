"""Waiting for events, woken by LISTEN/NOTIFY across server processes.

Readers in this process (watch calls, resource subscriptions, the dashboard's live
pages) subscribe to a scope: a session id, or '*' for every session. The process
registers each scope it has readers for in event_listeners, on the one LISTEN channel
it already has (store/task_waiter.py), and every event written for that scope, by any
process or by psql, NOTIFYs that channel with its session id. One NOTIFY wakes every
local reader of the session: nothing is queried per reader, and nothing polls while
the LISTEN connection is up. Registrations are refreshed while used and dropped (or
expire, if the process died) when not, so writers pay a NOTIFY only while somebody
waits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable

import asyncpg

from mcp_sessions.config import Settings
from mcp_sessions.db import listen_dsn
from mcp_sessions.models import EventPage
from mcp_sessions.store import events
from mcp_sessions.store.task_waiter import TaskWaiter

log = logging.getLogger(__name__)

REFRESH_SECONDS = 20.0  # registrations are renewed this often, and live 3 times as long
HELD_BACKOFF = (0.01, 0.5)
SETTLE_SECONDS = 1.0  # at most this long for writers in flight at a registration to end  # re-read delays while an older transaction holds events back

Callback = Callable[[str], None]


@asynccontextmanager
async def listening(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[tuple[TaskWaiter, EventWaiter]]:
    """The process's one LISTEN connection, with the queue's waiter (and its lease sweep)
    and the event waiter on it, both started; stopped, events first, on the way out.
    The server, the dashboard, `dispatch` and `watch` each run one."""
    waiter = TaskWaiter(pool, lambda: listen_dsn(settings), sweep_seconds=settings.sweep_seconds)
    await waiter.start()
    try:
        event_waiter = EventWaiter(pool, waiter, retention_days=settings.event_retention_days)
        await event_waiter.start()
        try:
            yield waiter, event_waiter
        finally:
            await event_waiter.stop()
    finally:
        await waiter.stop()


class EventWaiter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        listener: TaskWaiter,
        *,
        retention_days: int = 30,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self._pool = pool
        self._listener = listener
        self.retention_days = retention_days
        self.refresh_seconds = refresh_seconds
        self._subs: dict[str, set[Callback]] = {}
        self._registered: set[str] = set()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        listener.on_payload.append(self._notified)
        listener.on_reconnect.append(self._wake_all)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._maintain())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._registered:
            with contextlib.suppress(Exception):
                async with self._pool.acquire(timeout=2) as conn:
                    await events.unregister(conn, self._listener.channel, sorted(self._registered))
        self._wake_all()

    # Subscriptions -------------------------------------------------------------------

    @asynccontextmanager
    async def subscribed(self, scope: str, callback: Callback) -> AsyncIterator[None]:
        """callback(session_id) is called (in the event loop, must not block) for every
        committed event of the scope, from any process, while inside."""
        self._subs.setdefault(scope, set()).add(callback)
        try:
            await self._ensure_registered(scope)
            yield
        finally:
            subs = self._subs.get(scope)
            if subs is not None:
                subs.discard(callback)
                if not subs:
                    del self._subs[scope]  # unregistered lazily, by the next refresh

    async def _ensure_registered(self, scope: str) -> None:
        if scope in self._registered:
            return
        async with self._lock:
            if scope in self._registered:
                return
            async with self._pool.acquire() as conn:
                await events.register(conn, self._listener.channel, [scope], 3 * self.refresh_seconds)
            # Writers that looked for listeners before this registration was visible
            # notify nobody: once they have ended, a read sees their events.
            await events.settle(self._pool, SETTLE_SECONDS)
            self._registered.add(scope)

    def _notified(self, session_id: str) -> None:
        for scope in (session_id, "*"):
            for callback in tuple(self._subs.get(scope, ())):
                callback(session_id)

    def _wake_all(self) -> None:
        # The listener reconnected (or stops): anything may have been missed.
        for subs in tuple(self._subs.values()):
            for callback in tuple(subs):
                callback("*")

    # Waiting for a page ----------------------------------------------------------------

    async def wait(self, read: Callable[[], Awaitable[events.Read]], scope: str, wait_seconds: float) -> EventPage:
        """read() until it returns events or wait_seconds run out. Holds no connection
        and no transaction while it waits."""
        result = await read()
        if result.page.events or wait_seconds <= 0:
            return result.page
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        woke = asyncio.Event()
        async with self.subscribed(scope, lambda _session: woke.set()):
            delay = HELD_BACKOFF[0]
            while True:
                # Registered first, read second: an event committed in between is read here.
                result = await read()
                remaining = deadline - loop.time()
                if result.page.events or remaining <= 0:
                    return result.page
                if result.held:
                    timeout, delay = min(delay, remaining), min(delay * 2, HELD_BACKOFF[1])
                else:
                    # Woken by NOTIFY; the timeout only covers a LISTEN connection that is down.
                    timeout, delay = min(self._listener.poll_seconds, remaining), HELD_BACKOFF[0]
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(woke.wait(), timeout)
                woke.clear()

    # Upkeep ----------------------------------------------------------------------------

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds * random.uniform(0.8, 1.2))
            try:
                async with self._lock:
                    active = sorted(self._subs)
                    stale = sorted(self._registered - set(active))
                    async with self._pool.acquire() as conn:
                        if active:
                            await events.register(conn, self._listener.channel, active, 3 * self.refresh_seconds)
                        if stale:
                            await events.unregister(conn, self._listener.channel, stale)
                        self._registered = set(active)
                        pruned = await events.sweep(conn, self.retention_days)
                if pruned:
                    log.info("deleted %d events older than %d days", pruned, self.retention_days)
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.warning("event listener upkeep failed: %s", exc)

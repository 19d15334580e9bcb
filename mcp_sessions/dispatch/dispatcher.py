"""The claiming loop and the supervision of each task's agent process.

For each agent, `concurrency` slots each claim a task (long-polling through the
process's TaskWaiter: woken by NOTIFY, no polling loop), run the agent's command for it
and report the result. While the process runs, its attempt is watched three ways:
the heartbeat (every third of the lease) is refused once the claim is dead; every
event of the task's session (EventWaiter) makes it check that the claim is still its
own (cancel_task, requeue and lease recovery each write one); and --timeout. A dead
claim stops the process group and writes nothing more for that attempt: whoever holds
the task now owns it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from mcp_sessions.dispatch import capture
from mcp_sessions.dispatch.process import AgentProcess, argv_for, environment, parse_command
from mcp_sessions.errors import NotFound, SessionsError, StaleClaim
from mcp_sessions.models import ClaimedTask
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.store import chunks
from mcp_sessions.store import tasks as store
from mcp_sessions.store.errors import translate_errors
from mcp_sessions.store.event_waiter import EventWaiter
from mcp_sessions.store.task_waiter import TaskWaiter

log = logging.getLogger("mcp_sessions.dispatch")

CLAIM_WAIT_SECONDS = 60.0  # one long-poll; the loop simply waits again


@dataclass
class Options:
    agents: list[str]
    session_id: str | None = None
    task_types: list[str] | None = None
    concurrency: int = 1
    lease: float = 300.0
    timeout: float | None = None
    grace: float = 10.0
    cwd: str | None = None


@dataclass
class Outcome:
    """How an attempt ended: exited (returncode), timed_out, lost (claim dead) or shutdown."""

    kind: str
    returncode: int | None = None
    reason: str = ""


@dataclass
class Running:
    task: ClaimedTask
    agent: str
    started: float = field(default_factory=time.monotonic)


class Dispatcher:
    def __init__(self, pool: asyncpg.Pool, waiter: TaskWaiter, events: EventWaiter, options: Options) -> None:
        self.pool = pool
        self.waiter = waiter
        self.events = events
        self.options = options
        self.commands: dict[str, list[str]] = {}
        self.running: dict[str, Running] = {}
        self._stopping = asyncio.Event()
        self._shutdown = asyncio.Event()  # the grace is over: stop the agents still running

    # The loop ----------------------------------------------------------------------

    async def load_agents(self) -> None:
        """Every named agent must be registered with a command (refused before anything runs)."""
        with translate_errors():
            async with self.pool.acquire() as conn:
                rows = {r["name"]: r["command"] for r in await conn.fetch(Q["dispatch_agents"], self.options.agents)}
        for agent in self.options.agents:
            if agent not in rows:
                raise NotFound(f"agent {agent!r} is not registered: register_agent(name={agent!r}, command='...') first")
            self.commands[agent] = parse_command(agent, rows[agent])

    async def run(self) -> None:
        await self.load_agents()
        slots = [
            asyncio.create_task(self._slot(agent), name=f"dispatch-{agent}-{i}")
            for agent in self.options.agents for i in range(self.options.concurrency)
        ]
        log.warning("dispatching tasks of %s (%d at once each)", ", ".join(self.options.agents), self.options.concurrency)
        try:
            await asyncio.gather(*slots)
        finally:
            for slot in slots:
                slot.cancel()
            await asyncio.gather(*slots, return_exceptions=True)

    def stop(self) -> None:
        """Stop claiming; running agents get --grace to finish, then are stopped and their tasks put back."""
        if self._stopping.is_set():
            return
        log.warning("stopping: no new claims; %d running agent(s) get %.0fs to finish", len(self.running), self.options.grace)
        self._stopping.set()
        asyncio.get_running_loop().call_later(self.options.grace, self._shutdown.set)

    async def _slot(self, agent: str) -> None:
        while not self._stopping.is_set():
            claiming = asyncio.create_task(self._claim(agent))
            stopping = asyncio.create_task(self._stopping.wait())
            await asyncio.wait({claiming, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not claiming.done():
                claiming.cancel()
            try:
                task = await claiming
            except asyncio.CancelledError:
                return
            except (SessionsError, OSError, asyncpg.PostgresError) as exc:
                log.warning("claim for %s failed (%s); retrying in 1s", agent, exc)
                await asyncio.sleep(1)
                continue
            if task is not None:
                await self._attempt(agent, task)

    async def _claim(self, agent: str) -> ClaimedTask | None:
        async def attempt() -> Any:
            with translate_errors():
                async with self.pool.acquire() as conn:
                    return await store.claim(conn, agent=agent, session_id=self.options.session_id,
                                             task_types=self.options.task_types, lease_seconds=self.options.lease)

        with translate_errors():
            result = await self.waiter.claim(attempt, agent=agent, session_id=self.options.session_id,
                                             task_types=self.options.task_types, wait_seconds=CLAIM_WAIT_SECONDS)
        return result.task

    # One attempt ---------------------------------------------------------------------

    async def _attempt(self, agent: str, task: ClaimedTask) -> None:
        workdir = Path(tempfile.mkdtemp(prefix=f"mcp-sessions-{task.id[:8]}-"))
        self.running[task.id] = Running(task, agent)
        try:
            await self._supervise(agent, task, workdir)
        except Exception:  # noqa: BLE001 - one task's trouble must not stop the dispatcher
            log.exception("task %s: the dispatcher failed while running it; its lease will run out", task.id)
        finally:
            self.running.pop(task.id, None)
            shutil.rmtree(workdir, ignore_errors=True)
            await self._agent_status(agent)

    async def _supervise(self, agent: str, task: ClaimedTask, workdir: Path) -> None:
        input_file = workdir / "input.json"
        input_bytes = json.dumps(task.input_data, ensure_ascii=False).encode()
        input_file.write_bytes(input_bytes)
        values = {"task_id": task.id, "session_id": task.session_id, "task_type": task.task_type,
                  "title": task.title or "", "input_file": str(input_file)}
        argv = argv_for(self.commands[agent], values)
        try:
            proc = await AgentProcess.start(argv, environment(task, agent, str(input_file)), input_bytes,
                                            cwd=self.options.cwd)
        except OSError as exc:
            log.warning("task %s: cannot start %s: %s", task.id, argv[0], exc)
            await self._report(self._fail, task, f"cannot start the agent's command {argv[0]!r}: {exc}", retry=True)
            return
        log.info("task %s: started %s (pid %d) for %s", task.id, argv[0], proc.pid, agent)
        try:
            async with self.pool.acquire() as conn:
                await store.start(conn, task.id, task.claim_token, proc.pid)
        except StaleClaim as exc:
            log.info("task %s: claim gone before it started (%s); stopping pid %d", task.id, exc, proc.pid)
            await proc.stop(self.options.grace)
            return
        try:
            await self._agent_status(agent)
            outcome = await self._watch(task, proc)
            if outcome.kind != "exited":
                await proc.stop(self.options.grace)
            await proc.finish(self.options.grace)
        except BaseException:
            # Anything unexpected (or the dispatcher cancelled): no agent left running unwatched.
            await asyncio.shield(proc.stop(self.options.grace))
            raise
        elapsed = time.monotonic() - self.running[task.id].started
        if outcome.kind == "lost":
            log.info("task %s: %s; stopped pid %d, nothing written", task.id, outcome.reason, proc.pid)
            return
        await self._conclude(agent, task, argv, proc, outcome, elapsed)

    async def _watch(self, task: ClaimedTask, proc: AgentProcess) -> Outcome:
        """Until the process exits or the attempt must end; whichever comes first."""
        lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        check = asyncio.Event()

        def lose(reason: str) -> None:
            if not lost.done():
                lost.set_result(reason)

        async with self.events.subscribed(task.session_id, lambda _session: check.set()):
            check.set()  # a cancel between start_task and this subscription woke nobody
            watchers = [
                asyncio.create_task(self._heartbeat(task, lose)),
                asyncio.create_task(self._check_claim(task, check, lose)),
            ]
            exited = asyncio.create_task(proc.wait())
            shutdown = asyncio.create_task(self._shutdown.wait())
            waits = {exited, lost, shutdown}
            try:
                done, _ = await asyncio.wait(waits, timeout=self.options.timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (*watchers, shutdown):
                    t.cancel()
                await asyncio.gather(*watchers, shutdown, return_exceptions=True)
        if exited in done:
            return Outcome("exited", exited.result())
        exited.cancel()
        if lost in done:
            return Outcome("lost", reason=lost.result())
        if shutdown in done:
            return Outcome("shutdown", reason="the dispatcher was stopped before the agent finished; put back")
        return Outcome("timed_out", reason=f"timed out after {self.options.timeout:g}s")

    async def _heartbeat(self, task: ClaimedTask, lose: Any) -> None:
        loop = asyncio.get_running_loop()
        period = self.options.lease / 3
        expires = loop.time() + self.options.lease
        while True:
            await asyncio.sleep(period)
            try:
                async with self.pool.acquire() as conn:
                    await store.heartbeat(conn, task.id, task.claim_token, self.options.lease)
                expires = loop.time() + self.options.lease
            except StaleClaim as exc:
                lose(f"heartbeat refused: {exc}")
                return
            except Exception as exc:  # noqa: BLE001 - the database may be back by the next beat
                log.warning("task %s: heartbeat failed (%s)", task.id, exc)
                if loop.time() >= expires:
                    lose("the lease ran out while the database could not be reached")
                    return

    async def _check_claim(self, task: ClaimedTask, check: asyncio.Event, lose: Any) -> None:
        """Woken by any event of the task's session (or a LISTEN reconnect): is the claim still ours?"""
        while True:
            await check.wait()
            check.clear()
            try:
                async with self.pool.acquire() as conn:
                    row = await conn.fetchrow(Q["dispatch_claim_state"], task.id)
            except Exception as exc:  # noqa: BLE001 - the heartbeat is the backstop
                log.warning("task %s: cannot check its claim (%s)", task.id, exc)
                continue
            if row is None:
                lose("the task was deleted")
                return
            if row["token"] != task.claim_token or row["status"] not in ("claimed", "running"):
                lose(f"the claim is gone (the task is {row['status']})")
                return

    # Reporting ----------------------------------------------------------------------

    async def _conclude(
        self, agent: str, task: ClaimedTask, argv: list[str], proc: AgentProcess, outcome: Outcome, elapsed: float
    ) -> None:
        code = proc.returncode
        status = _status(code) if outcome.kind == "exited" else f"{outcome.reason} ({_status(code)})"
        header = f"task {task.id} (attempt {task.attempts}) by {agent}: {status}, {elapsed:.1f}s"
        text = capture.transcript(argv, header, proc.stdout, proc.stderr)
        chunk_id = f"dispatch-{task.id}-{task.attempts}"
        if outcome.kind == "exited" and code == 0:
            output = {**capture.output_of(proc.stdout, code), "transcript_chunk_id": chunk_id}
            await self._report(self._complete, task, output, text, chunk_id, agent)
            log.info("task %s: completed (%.1fs)", task.id, elapsed)
            return
        stderr = proc.stderr.tail_text(capture.STDERR_TAIL_CHARS)
        error = f"{status}; transcript chunk {chunk_id}" + (f"; stderr tail:\n{stderr}" if stderr else "")
        await self._report(self._fail, task, error, text, chunk_id, agent, retry=True)
        log.info("task %s: failed: %s", task.id, status)

    async def _report(self, step: Any, task: ClaimedTask, *args: Any, **kwargs: Any) -> None:
        try:
            with translate_errors():
                async with self.pool.acquire() as conn:
                    await step(conn, task, *args, **kwargs)
        except StaleClaim as exc:
            log.info("task %s: result not recorded: %s", task.id, exc)
        except SessionsError as exc:
            log.warning("task %s: result not recorded: %s", task.id, exc)

    async def _complete(self, conn: asyncpg.Connection, task: ClaimedTask, output: dict, text: str, chunk_id: str,
                        agent: str) -> None:
        # One transaction: a completion refused (the claim died at the last moment) leaves no transcript.
        try:
            async with conn.transaction():
                await chunks.add(conn, task.session_id, content=text, format="transcript", chunk_id=chunk_id,
                                 extracted_items={"task_id": task.id, "attempt": task.attempts}, agent=agent)
                await store.complete(conn, task.id, task.claim_token, output)
        except StaleClaim:
            # The agent may have completed the task itself (with MCP_SESSIONS_CLAIM_TOKEN): keep its transcript.
            current = await store.get_row(conn, task.id)
            if current.status == "completed" and current.attempts == task.attempts and current.claimed_by == agent:
                await chunks.add(conn, task.session_id, content=text, format="transcript", chunk_id=chunk_id,
                                 extracted_items={"task_id": task.id, "attempt": task.attempts}, agent=agent)
                log.info("task %s: the agent completed it itself", task.id)
                return
            raise

    async def _fail(self, conn: asyncpg.Connection, task: ClaimedTask, error: str, text: str | None = None,
                    chunk_id: str | None = None, agent: str | None = None, *, retry: bool) -> None:
        async with conn.transaction():
            if text is not None:
                await chunks.add(conn, task.session_id, content=text, format="transcript", chunk_id=chunk_id,
                                 extracted_items={"task_id": task.id, "attempt": task.attempts}, agent=agent)
            await store.fail(conn, task.id, task.claim_token, error[:10000], retry)

    async def _agent_status(self, agent: str) -> None:
        with contextlib.suppress(Exception):
            async with self.pool.acquire() as conn:
                await conn.execute(Q["dispatch_agent_status"], agent)


def _status(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"

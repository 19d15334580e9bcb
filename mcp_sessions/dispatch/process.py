"""One agent process: its argument list and environment from the task, started in a
process group of its own (so that stopping it stops whatever it started), its input on
stdin, its output captured, and a stop that escalates from SIGTERM to SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import shlex
import signal
import subprocess
import sys
from typing import Any

from mcp_sessions.dispatch.capture import Capture
from mcp_sessions.errors import InvalidInput

PLACEHOLDER = re.compile(r"\{(task_id|session_id|task_type|title|input_file)\}")
PR_SET_PDEATHSIG = 1
GONE_CHECK_SECONDS = 0.05  # how often a stopping process group is checked for members


def parse_command(agent: str, command: str | None) -> list[str]:
    """An agent's registered command as an argument list (never a shell)."""
    if not command or not command.strip():
        raise InvalidInput(f"agent {agent!r} has no command: register_agent(name={agent!r}, command='...') first")
    try:
        return shlex.split(command)
    except ValueError as exc:
        raise InvalidInput(f"agent {agent!r} has a command that is not a valid argument list ({exc}): {command!r}") from None


def argv_for(template: list[str], values: dict[str, str]) -> list[str]:
    """Each argument with {task_id}, {session_id}, {task_type}, {title}, {input_file}
    replaced; other braces (JSON in an argument) are left alone."""
    return [PLACEHOLDER.sub(lambda m: values[m[1]], arg) for arg in template]


def environment(task: Any, agent: str, input_file: str) -> dict[str, str]:
    """The dispatcher's environment, plus who the agent is and what it works on, so an
    agent that talks to mcp-sessions itself acts as the right identity on the right task."""
    env = dict(os.environ)
    env.update({
        "MCP_SESSIONS_AGENT": agent,
        "MCP_SESSIONS_TASK_ID": task.id,
        "MCP_SESSIONS_SESSION_ID": task.session_id,
        "MCP_SESSIONS_CLAIM_TOKEN": task.claim_token,
        "MCP_SESSIONS_TASK_TYPE": task.task_type,
        "MCP_SESSIONS_INPUT_FILE": input_file,
    })
    return env


class AgentProcess:
    """A plain Popen, not asyncio's subprocess: asyncio's wait() returns only once every
    pipe is closed, and a grandchild holding stdout would keep it waiting after the agent
    exited. Here the exit is seen through a pidfd (the loop wakes when the process ends),
    and the pipes are read on their own."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.stdout = Capture()
        self.stderr = Capture()
        self._readers: list[asyncio.Task[None]] = []
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    @classmethod
    async def start(cls, argv: list[str], env: dict[str, str], stdin: bytes, cwd: str | None = None) -> "AgentProcess":
        popen = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
            start_new_session=True,  # its own process group: killpg reaches its children
            preexec_fn=_die_with_parent,
        )
        self = cls(popen)
        self._watch_exit()
        self._readers = [
            asyncio.create_task(_read(popen.stdout, self.stdout)),
            asyncio.create_task(_read(popen.stderr, self.stderr)),
            asyncio.create_task(asyncio.to_thread(_write, popen.stdin, stdin)),
        ]
        return self

    def _watch_exit(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            # No pidfd (not Linux >= 5.3): a thread waits instead.
            task = asyncio.ensure_future(asyncio.to_thread(self.popen.wait))
            task.add_done_callback(lambda t: self._exited.done() or self._exited.set_result(t.result()))
            return

        def exited() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            if not self._exited.done():
                self._exited.set_result(self.popen.wait())  # reaps it: it has exited

        loop.add_reader(pidfd, exited)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    async def finish(self, grace: float) -> None:
        """After the process exited: stop what it left in its group, then read to the end."""
        await self.stop(grace)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._readers, return_exceptions=True), grace)
        for reader in self._readers:
            reader.cancel()

    async def stop(self, grace: float) -> None:
        """SIGTERM to the process group; SIGKILL to whatever is left after `grace`."""
        if not self._signal(signal.SIGTERM):
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while loop.time() < deadline:
            if self.returncode is None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.wait(), GONE_CHECK_SECONDS)
            else:
                await asyncio.sleep(GONE_CHECK_SECONDS)
            if not self._group_alive():
                return
        self._signal(signal.SIGKILL)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.wait(), 5)

    def _signal(self, sig: signal.Signals) -> bool:
        try:
            os.killpg(self.pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False  # the group is gone (PermissionError: its id was reused by another user)

    def _group_alive(self) -> bool:
        """Any member left that is not a zombie? (A reparented zombie waits for whoever
        reaps orphans, which in a container may be nobody.)"""
        try:
            os.killpg(self.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return any(_live_member(pid, self.pid) for pid in _pids())


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _live_member(pid: int, pgid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return False
    return int(fields[2]) == pgid and fields[0] != b"Z"


def _die_with_parent() -> None:
    """Linux: the agent is killed when the dispatcher dies (even by SIGKILL), so a task
    whose lease then runs out is never worked by an orphan and its successor at once."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


async def _read(pipe: Any, capture: Capture) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        while data := await reader.read(65536):
            capture.feed(data)
    finally:
        transport.close()


def _write(pipe: Any, data: bytes) -> None:
    # In a thread: an agent that reads its stdin slowly (or never) blocks nobody, and
    # one that never reads it does not fail the task.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
        pipe.write(data)
    with contextlib.suppress(OSError):
        pipe.close()

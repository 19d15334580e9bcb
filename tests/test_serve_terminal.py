"""`mcp-sessions serve` run by hand: on a terminal it says what it waits for, Ctrl-C stops
it at once on both transports, and the embedded PostgreSQL's own output stays out of
sight unless asked for (debug level). Real processes; the terminal is a pty."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import pytest

from tests.conftest import REPO
from tests.http_support import http_client

# Makes the pty its controlling terminal (in a session of its own), then runs serve: a
# "\x03" typed on the terminal is then a real Ctrl-C, SIGINT to the foreground group.
ON_TERMINAL = "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); os.execv(sys.executable, sys.argv[1:])"


def environment(**env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_SESSIONS_", "PG")) and k != "DATABASE_URL"}
    return {**base, "MCP_SESSIONS_LOG_LEVEL": "INFO", **env}


class Terminal:
    """A process whose stdin and stderr are a terminal (stdout stays the protocol's pipe)."""

    def __init__(self, args: list[str], env: dict[str, str], stdin_is_tty: bool = True) -> None:
        self.master, slave = pty.openpty()
        self.stdin_pipe = None if stdin_is_tty else os.pipe()
        stdin = slave if stdin_is_tty else self.stdin_pipe[0]
        launcher = [sys.executable, "-c", ON_TERMINAL, sys.executable] if stdin_is_tty else [sys.executable]
        self.process = subprocess.Popen(
            [*launcher, "-m", "mcp_sessions", *args], stdin=stdin, stdout=subprocess.PIPE, stderr=slave,
            env=env, cwd=REPO, start_new_session=True,
        )
        os.close(slave)
        self.output = b""

    def read_until(self, text: str, timeout: float) -> str:
        end = time.monotonic() + timeout
        while text.encode() not in self.output:
            assert time.monotonic() < end, f"no {text!r} after {timeout} s: {self.output.decode(errors='replace')}"
            self._read(0.1)
        return self.output.decode(errors="replace")

    def _read(self, wait: float) -> None:
        if select.select([self.master], [], [], wait)[0]:
            try:
                self.output += os.read(self.master, 65536)
            except OSError:  # the other side is gone
                time.sleep(wait)

    def ctrl_c(self, timeout: float) -> tuple[int | None, float]:
        """Type Ctrl-C (or, on a pipe, send the SIGINT a terminal's Ctrl-C sends the group);
        returns the exit code (None: still running) and how long it took."""
        start = time.monotonic()
        if self.stdin_pipe is None:
            os.write(self.master, b"\x03")
        else:
            os.killpg(self.process.pid, signal.SIGINT)
        while self.process.poll() is None and time.monotonic() - start < timeout:
            self._read(0.05)
        self._read(0.05)
        return self.process.poll(), time.monotonic() - start

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdout.close()
        os.close(self.master)
        if self.stdin_pipe:
            os.close(self.stdin_pipe[1])


def serve_then_ctrl_c(args: list[str], env: dict[str, str], ready: str, stdin_is_tty: bool = True) -> tuple[str, int | None, float, bytes]:
    terminal = Terminal(["serve", *args], env, stdin_is_tty)
    try:
        terminal.read_until(ready, 30)
        time.sleep(1.0)  # the server is up and its stdin read is blocked: the case that hung
        code, took = terminal.ctrl_c(timeout=10)
        stdout = terminal.process.stdout.read() if code is not None else b""
        return terminal.output.decode(errors="replace"), code, took, stdout
    finally:
        terminal.close()


async def test_ctrl_c_stops_stdio_serve_on_a_terminal_at_once(database_url):
    await ctrl_c_stops_stdio_serve(database_url, stdin_is_tty=True)


async def test_ctrl_c_stops_stdio_serve_under_a_client_at_once(database_url):
    # The client's pipe stays open: Ctrl-C in the client's terminal reaches the server too.
    await ctrl_c_stops_stdio_serve(database_url, stdin_is_tty=False)


async def ctrl_c_stops_stdio_serve(database_url: str, stdin_is_tty: bool) -> None:
    # On a pipe (an MCP client's, held open) nothing is printed: the event loop's debug line says it runs.
    env = environment(DATABASE_URL=database_url, MCP_SESSIONS_LOG_LEVEL="INFO" if stdin_is_tty else "DEBUG")
    ready = "waiting for an MCP client on stdin" if stdin_is_tty else "Using selector"
    output, code, took, stdout = await anyio.to_thread.run_sync(
        lambda: serve_then_ctrl_c([], env, ready, stdin_is_tty)
    )
    assert code == 130, f"still running {took:.1f} s after Ctrl-C:\n{output}"
    assert took < 5, output
    assert "Traceback" not in output and stdout == b""
    notice = [line for line in output.splitlines() if "waiting for an MCP client" in line]
    if stdin_is_tty:
        assert len(notice) == 1 and "claude mcp add" in notice[0] and "Ctrl-C" in notice[0]
    else:
        assert notice == []  # an MCP client started it: nothing to explain


async def test_ctrl_c_stops_http_serve_at_once(database_url):
    # A client waits for work (a long-poll claim) when Ctrl-C comes: it is cut, not waited for.
    env = environment(DATABASE_URL=database_url, MCP_SESSIONS_HTTP_AUTH="none")
    terminal = Terminal(["serve", "--transport", "http", "--port", "0"], env)
    try:
        output = await anyio.to_thread.run_sync(terminal.read_until, "Application startup complete", 30)
        url = re.search(r"serving MCP over HTTP at (\S+)", output)[1]
        waiting = anyio.Event()

        async def wait_for_work() -> None:
            with contextlib.suppress(Exception):
                async with http_client(url, None) as client:
                    waiting.set()
                    await client.call_tool("claim_task", {"wait_seconds": 60})

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_for_work)
            await waiting.wait()
            await anyio.sleep(1.0)
            code, took = await anyio.to_thread.run_sync(terminal.ctrl_c, 10)
            tg.cancel_scope.cancel()
        output = terminal.output.decode(errors="replace")
    finally:
        terminal.close()
    assert code == 130, f"still running {took:.1f} s after Ctrl-C:\n{output}"
    assert took < 3, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output and " ERROR " not in output
    assert "Cancel 1 running task(s)" in output  # the long-poll, said once, at INFO


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcp_sessions", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, stdin=subprocess.DEVNULL, timeout=120)


@pytest.fixture
def data_dir():
    # Not under pytest's tmp_path: its 0700 parents keep out the embedded server's system user.
    path = Path(tempfile.mkdtemp(prefix="mcp-sessions-quiet-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_embedded_postgres_output_only_at_debug(data_dir: Path):
    env = environment(MCP_SESSIONS_DATA_DIR=str(data_dir))
    first = run_cli(["db", "status", "--json"], env)  # initdb, pg_ctl start, pg_ctl stop
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    again = run_cli(["sessions", "list"], env)
    assert again.returncode == 0 and again.stderr == "" and again.stdout == "no sessions\n"
    debug = run_cli(["sessions", "list"], {**env, "MCP_SESSIONS_LOG_LEVEL": "DEBUG"})
    assert debug.returncode == 0
    assert "DEBUG embedded_postgres: " in debug.stderr and "server started" in debug.stderr
    assert "INFO embedded_postgres" not in debug.stderr

"""The stdio transport `serve` runs: the SDK's stdio_server, with stdin read by a thread
that Ctrl-C can leave behind.

The SDK reads stdin in an anyio worker thread, and a read blocked on a terminal (or on a
client that keeps its pipe open) can't be cancelled: on Ctrl-C the server shut down
everything else and then waited for that read forever (python-sdk#3551). Here a daemon
thread reads the descriptor and hands lines to the event loop; when the server stops,
it stops listening, and the thread ends with the process."""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from typing import Any, Iterator

import anyio
import anyio.from_thread
import anyio.lowlevel
from mcp.server.stdio import stdio_server

from mcp_sessions.malformed import RememberedLines, answer_malformed, interposed

READ_SIZE = 1 << 20


class StdinLines:
    """The lines of a file descriptor, as the SDK's reader iterates them (`async for`)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._send, self._receive = anyio.create_memory_object_stream[bytes | None](1)  # None: end of input
        # One line in flight at a time: the thread waits for the loop to take it. Handing it
        # over with a plain callback (run_sync, not a coroutine) leaves no task behind for
        # a loop that shuts down meanwhile to cancel and complain about.
        self._room = threading.Semaphore(1)
        self._thread: threading.Thread | None = None

    def __aiter__(self) -> StdinLines:
        return self

    async def __anext__(self) -> str:
        if self._thread is None:
            token = anyio.lowlevel.current_token()
            self._thread = threading.Thread(target=self._read, args=(token,), name="mcp-sessions stdin", daemon=True)
            self._thread.start()
        line = await self._receive.receive()
        self._room.release()
        if line is None:
            raise StopAsyncIteration
        return line.decode("utf-8", errors="replace")

    def close(self) -> None:
        """Stop taking lines: a thread still blocked on the descriptor finds nowhere to hand
        its next one and ends."""
        self._send.close()
        self._receive.close()

    def _chunk(self) -> bytes:
        try:
            return os.read(self._fd, READ_SIZE)
        except OSError:  # a closed or unreadable stdin ends the input, as EOF does
            return b""

    def _hand_over(self, line: bytes | None, token: Any) -> None:
        self._room.acquire()
        anyio.from_thread.run_sync(self._send.send_nowait, line, token=token)

    def _read(self, token: Any) -> None:
        # os.read, not a buffered file: no buffer lock for a dying interpreter to trip on.
        pending = bytearray()
        try:
            while chunk := self._chunk():
                scanned = len(pending)
                pending += chunk
                while (end := pending.find(b"\n", scanned)) != -1:
                    line = bytes(pending[: end + 1])
                    del pending[: end + 1]
                    scanned = 0
                    self._hand_over(line, token)
            if pending:
                self._hand_over(bytes(pending), token)
            self._hand_over(None, token)
        except Exception:  # noqa: BLE001 - the server stopped (loop gone, stream closed): nothing left to feed
            return


@contextmanager
def stdin_claimed() -> Iterator[int]:
    """A private duplicate of fd 0 for the transport; fd 0 itself reads /dev/null meanwhile,
    so a child process (initdb, pg_ctl) can't take protocol bytes, as the SDK does it."""
    try:
        private = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    except OSError:  # no fd 0 to divert (started with stdin closed): read it as it is
        yield 0
        return
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        yield private
    finally:
        os.dup2(private, 0)  # private stays open: the reader thread may still be blocked on it


async def run_stdio(lowlevel_server: Any) -> None:
    with stdin_claimed() as fd:
        stdin = StdinLines(fd)
        lines = RememberedLines(stdin)
        try:
            async with stdio_server(stdin=lines) as (read_stream, write_stream):  # type: ignore[arg-type]
                # Between the SDK's reader and the server: a line it can't read is answered
                # with the JSON-RPC error instead of dropped (mcp_sessions/malformed.py).
                send, receive = interposed()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(answer_malformed, read_stream, write_stream, lines, send)
                    await lowlevel_server.run(receive, write_stream, lowlevel_server.create_initialization_options())
                    tg.cancel_scope.cancel()
        finally:
            stdin.close()

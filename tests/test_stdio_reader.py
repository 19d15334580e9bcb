"""The stdin reader of `serve` (mcp_sessions/stdio.py): lines whole, however long or
unterminated, and a server that stops while its reader still waits leaves no trace."""

from __future__ import annotations

import os
import threading

import anyio

from mcp_sessions.stdio import READ_SIZE, StdinLines


def test_lines_arrive_whole_long_and_unterminated():
    read_fd, write_fd = os.pipe()
    long = "x" * (3 * READ_SIZE + 17)
    sent = ["first\n", long + "\n", "\n", "é ünïcode\n", "no newline at the end"]

    def write() -> None:
        with os.fdopen(write_fd, "wb") as pipe:
            for line in sent:
                pipe.write(line.encode())

    async def read() -> list[str]:
        lines = StdinLines(read_fd)
        try:
            return [line async for line in lines]
        finally:
            lines.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert anyio.run(read) == sent
    finally:
        writer.join()
        os.close(read_fd)


def test_a_server_gone_while_its_reader_waits_leaves_no_trace(monkeypatch):
    failures: list[object] = []
    monkeypatch.setattr(threading, "excepthook", failures.append)
    read_fd, write_fd = os.pipe()
    lines = StdinLines(read_fd)

    async def serve_one_line() -> str:
        try:
            return await lines.__anext__()
        finally:
            lines.close()  # as run_stdio does when the server stops

    os.write(write_fd, b"one\n")
    assert anyio.run(serve_one_line) == "one\n"
    # The event loop is gone; what arrives now has nowhere to go, and EOF neither.
    os.write(write_fd, b"two\nthree\n")
    os.close(write_fd)
    lines._thread.join(5)
    assert not lines._thread.is_alive() and failures == []
    os.close(read_fd)

"""What an agent process printed, bounded: the head and the tail of each stream are kept,
the middle is counted and said to be cut. From it: the transcript chunk, the task's
output (the JSON object on stdout's last line), and the tails a failure quotes."""

from __future__ import annotations

import json
import shlex
from typing import Any

from mcp_sessions.validation import MAX_JSON_BYTES

HEAD_BYTES = 16 * 1024
TAIL_BYTES = 240 * 1024
STDOUT_TAIL_CHARS = 4000  # in {exit_code, stdout_tail}
STDERR_TAIL_CHARS = 2000  # in a failure's error text


class Capture:
    """One stream: the first HEAD_BYTES and the last TAIL_BYTES, and how much came in all."""

    def __init__(self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        self._head_max, self._tail_max = head, tail
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self._head_max - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self._tail_max:
                del self.tail[: len(self.tail) - self._tail_max]

    @property
    def cut(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        middle = f"\n[... {self.cut:,} bytes cut ...]\n" if self.cut else ""
        return _clean(bytes(self.head)) + middle + _clean(bytes(self.tail))

    def tail_text(self, chars: int) -> str:
        return _clean(bytes(self.head + self.tail) if not self.cut else bytes(self.tail))[-chars:]


def _clean(data: bytes) -> str:
    # PostgreSQL stores no NUL; a cut may split a UTF-8 sequence.
    return data.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def output_of(stdout: Capture, exit_code: int) -> dict[str, Any]:
    """The JSON object on the last non-empty line of stdout, or stdout as a whole when it
    is one (pretty-printed) JSON object, else {exit_code, stdout_tail}."""
    if not stdout.cut and stdout.total <= MAX_JSON_BYTES:
        try:
            whole = json.loads(stdout.text())
        except ValueError:
            whole = None
        if isinstance(whole, dict):
            return whole
    lines = stdout.tail_text(MAX_JSON_BYTES).rstrip().rsplit("\n", 1)
    last = lines[-1].strip() if lines else ""
    if last.startswith("{") and (len(lines) > 1 or not stdout.cut):
        try:
            value = json.loads(last)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
    return {"exit_code": exit_code, "stdout_tail": stdout.tail_text(STDOUT_TAIL_CHARS)}


def transcript(argv: list[str], header: str, stdout: Capture, stderr: Capture) -> str:
    return (
        f"$ {shlex.join(argv)}\n{header}\n"
        f"--- stdout ({stdout.total:,} bytes) ---\n{stdout.text()}\n"
        f"--- stderr ({stderr.total:,} bytes) ---\n{stderr.text()}\n"
    )

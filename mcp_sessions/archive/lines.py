"""Reading an archive line by line in bounded memory, whatever it holds.

A line longer than any row within the limits can need is never held whole: its first
bytes (which name its table) are kept and the rest is read past in 1 MiB pieces. A
compressed archive that ends early or is damaged is reported as such, not as the
decompressor's EOFError."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from mcp_sessions.archive.rules import ROW_ROOM, Limits

_PIECE = 1024 * 1024  # bytes read at a time
_TABLE = re.compile(rb'^\{"table": "([^"\\]*)", "row": \{"id": "([^"\\]*)"')
_TABLE_ONLY = re.compile(rb'^\{"table": "([^"\\]*)"')


class Damaged(Exception):
    """The input stream itself failed (a truncated or corrupt .gz)."""


@dataclass
class Oversize:
    """A line too long to be a row within the limits, never read into memory whole."""

    size: int
    table: str | None  # read from its first bytes, as the exporter writes them
    row_id: str | None

    def reason(self, limits: Limits) -> str:
        return (f"a line of {self.size:,} bytes ({self.table or 'unknown table'}) holds more than a row within "
                f"the limits can (content up to {limits.content_bytes:,} bytes, MCP_SESSIONS_MAX_CONTENT_BYTES)")


def read_lines(src: BinaryIO, limits: Limits) -> Iterator[bytes | Oversize]:
    """The lines of src. A line is gathered 1 MiB at a time, and given up (read past,
    never held) as soon as it is longer than any row within the limits can be: over
    limits.line_bytes, or holding more than the content limit plus ROW_ROOM once its
    JSON escapes are decoded (a long line of plain text is refused after ~36 MiB, not
    after 196 MiB)."""
    budget = limits.content_bytes + ROW_ROOM
    while True:
        piece = _read(src, _PIECE)
        if not piece:
            return
        if piece.endswith(b"\n"):
            yield piece  # the common case: a line shorter than a piece
            continue
        line = bytearray(piece)
        escapes = piece.count(b"\\")
        while piece and not piece.endswith(b"\n"):
            if len(line) > limits.line_bytes or len(line) - 5 * escapes > budget:
                yield _skip(src, line)
                break
            piece = _read(src, _PIECE)
            line += piece
            escapes += piece.count(b"\\")
        else:
            yield bytes(line)


def _read(src: BinaryIO, size: int) -> bytes:
    try:
        return src.readline(size)
    except (EOFError, zlib.error, OSError) as exc:  # gzip.BadGzipFile is an OSError
        raise Damaged(f"{type(exc).__name__}: {exc}") from exc


def _skip(src: BinaryIO, head: bytearray) -> Oversize:
    found = _oversize(bytes(head[:4096]), len(head))
    head.clear()
    while True:
        more = _read(src, _PIECE)
        found.size += len(more)
        if not more or more.endswith(b"\n"):
            return found


def _oversize(head: bytes, size: int) -> Oversize:
    match = _TABLE.match(head[:4096]) or _TABLE_ONLY.match(head[:4096])
    if match is None:
        return Oversize(size, None, None)
    groups = [g.decode("utf-8", "replace") for g in match.groups()]
    return Oversize(size, groups[0], groups[1] if len(groups) > 1 else None)

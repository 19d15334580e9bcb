"""Opaque keyset cursors: the sort key of the last row of a page, as base64url JSON.

A cursor names a position, not an offset, so rows added meanwhile cause no gaps or
repeats. Clients must pass next_cursor back untouched."""

from __future__ import annotations

import base64
import binascii
import json
import math
from datetime import datetime
from typing import Any

from pydantic_core import to_json

from mcp_sessions.errors import InvalidInput

# Pages stop early once their rows add up to this many bytes of JSON, so that no
# answer floods a client's context window (the next page carries on): with the field
# limits (MCP_SESSIONS_MAX_JSON_BYTES at its default), every page stays under 100 KB.
PAGE_BUDGET_BYTES = 90_000


def json_bytes(value: Any) -> int:
    """Bytes of a value in an answer (compact UTF-8 JSON, times and ids as the answer
    writes them). pydantic-core's encoder, as the answer's own: a third of json.dumps'
    time with a Python callback for every timestamp."""
    return len(to_json(value, fallback=str, bytes_mode="base64"))


def row_bytes(row: Any) -> int:
    """Bytes of a row in an answer: every column counts (a 10,000-character error as
    much as a JSON field), plus the names. One encoding of the whole row, not one per
    column (on a page of tasks that was 2,700 calls, most of list_tasks' server CPU)."""
    return json_bytes(dict(row))


def fit(items: list[Any], size_of: Any) -> tuple[list[Any], bool]:
    """The longest prefix of items within PAGE_BUDGET_BYTES (at least one item);
    the bool says whether items were left out."""
    budget = PAGE_BUDGET_BYTES
    for index, item in enumerate(items):
        budget -= size_of(item)
        if index and budget < 0:
            return items[:index], True
    return items, False


def page(rows: list[Any], limit: int, *big_fields: str) -> tuple[list[Any], bool]:
    """Cut rows fetched with LIMIT limit + 1 to a page: at most `limit` rows and about
    PAGE_BUDGET_BYTES of them, whole. The bool says whether more rows follow.
    (big_fields, the columns that hold caller JSON, are only a note for the reader: every
    column is counted.)"""
    more = len(rows) > limit
    rows, cut = fit(rows[:limit], lambda r: 200 + row_bytes(r))
    return rows, more or cut


def elide(row: Any, *fields: str) -> tuple[Any, list[str]]:
    """A row too big for a page on its own, with `fields` (in that order) set to None
    until it fits; returns the row (a dict if anything was left out) and what was."""
    left_out: list[str] = []
    size = 200 + row_bytes(row)
    for field in fields:
        if size <= PAGE_BUDGET_BYTES:
            break
        if row[field] is not None:
            size -= json_bytes(row[field]) - 4
            row = {**dict(row), field: None}
            left_out.append(field)
    return row, left_out


def encode(*values: Any) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_INT8 = 2**63


def _value(kind: type, value: Any) -> Any:
    """value as `kind`, or ValueError: a cursor is the caller's input like any other."""
    if kind is datetime and isinstance(value, str):
        at = datetime.fromisoformat(value)
        if at.tzinfo is None:
            raise ValueError("naive time")
        return at
    if kind is int and type(value) is int and -_INT8 <= value < _INT8:
        return value
    if kind is float and type(value) in (int, float) and math.isfinite(value):
        return float(value)
    if kind is str and isinstance(value, str) and len(value) <= 1000:
        return value
    raise ValueError(f"not a {kind.__name__}")


def decode(cursor: str | None, *kinds: type | int) -> list[Any] | None:
    """The values encode() wrote, each checked and converted to its kind (str, int,
    float or datetime), or None for no cursor. A cursor that is not one of ours, or
    whose values have the wrong types, is [invalid_input], never a crash further on.
    (An int instead of kinds is the old form: that many strings or int8 integers.)"""
    if cursor is None or cursor == "":
        return None
    if len(kinds) == 1 and isinstance(kinds[0], int):
        shape: list[Any] = [None] * kinds[0]
    else:
        shape = list(kinds)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(shape):
            raise ValueError("wrong length")
        return [
            _value(kind, v) if kind is not None else _value(int if type(v) is int else str, v)
            for kind, v in zip(shape, values)
        ]
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInput(
            "cursor is malformed: pass next_cursor back exactly as a previous page returned it"
        ) from None

"""Opaque keyset cursors: the sort key of the last row of a page, as base64url JSON.

A cursor names a position, not an offset, so rows added meanwhile cause no gaps or
repeats. Clients must pass next_cursor back untouched."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from mcp_sessions.errors import InvalidInput

# Pages stop early once their rows add up to this many bytes of JSON, so that no
# answer floods a client's context window (the next page carries on).
PAGE_BUDGET_BYTES = 90_000


def fit(items: list[Any], size_of: Any) -> tuple[list[Any], bool]:
    """The longest prefix of items within PAGE_BUDGET_BYTES (at least one item);
    the bool says whether items were left out."""
    budget = PAGE_BUDGET_BYTES
    for index, item in enumerate(items):
        budget -= size_of(item)
        if index and budget < 0:
            return items[:index], True
    return items, False


def page(rows: list[Any], limit: int, *json_fields: str) -> tuple[list[Any], bool]:
    """Cut rows fetched with LIMIT limit + 1 to a page: at most `limit` rows and about
    PAGE_BUDGET_BYTES of their JSON fields. The bool says whether more rows follow."""
    more = len(rows) > limit
    rows, cut = fit(rows[:limit], lambda r: 400 + sum(len(json.dumps(r[f])) for f in json_fields))
    return rows, more or cut


def encode(*values: Any) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, arity: int) -> list[Any] | None:
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidInput("cursor is malformed: pass next_cursor back exactly as a previous page returned it")
    return values

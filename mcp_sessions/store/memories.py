"""Memories: typed knowledge under a key, versioned so concurrent writers can't lose updates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from mcp_sessions import pagination
from mcp_sessions.errors import Conflict, NotFound
from mcp_sessions.models import Forgotten, Memory, MemoryPage, from_row
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.sql import build
from mcp_sessions.store import sessions


def _not_found(session_id: str, key: str) -> NotFound:
    return NotFound(f"no memory with key {key!r} in session {session_id!r}: list_memories shows the keys")


async def remember(
    conn: asyncpg.Connection,
    session_id: str,
    *,
    key: str,
    type: str,
    content: Any,
    tags: list[str],
    expected_version: int | None,
    agent: str,
) -> Memory:
    """One statement (atomic without a transaction of its own): the foreign key refuses a
    session that does not exist, so nothing checks for it first."""
    tags = list(dict.fromkeys(tags))
    args = (session_id, key, type, content, tags, agent)
    with sessions.refusing_missing(session_id):
        if expected_version is None:
            return from_row(Memory, await conn.fetchrow(Q["upsert_memory"], *args))
        if expected_version == 0:
            # 0 means "create it; it must not exist yet".
            row = await conn.fetchrow(Q["insert_memory"], *args)
        else:
            row = await conn.fetchrow(Q["update_memory_if_version"], *args, expected_version)
    if row is not None:
        return from_row(Memory, row)
    current = await conn.fetchrow(Q["get_memory"], session_id, key)
    if current is None:
        await sessions.ensure_exists(conn, session_id)
    actual = current["version"] if current else 0
    raise Conflict(
        f"memory {key!r} is at version {actual}, not the expected_version {expected_version}: "
        "someone else changed it; recall it, merge, and retry with its current version"
        + (" (0 means it does not exist)" if actual == 0 else "")
    )


async def recall(conn: asyncpg.Connection, session_id: str, key: str) -> Memory:
    row = await conn.fetchrow(Q["get_memory"], session_id, key)
    if row is None:
        await sessions.ensure_exists(conn, session_id)
        raise _not_found(session_id, key)
    return from_row(Memory, row)


async def forget(conn: asyncpg.Connection, session_id: str, key: str) -> Forgotten:
    deleted = await conn.fetchval(Q["delete_memory"], session_id, key)
    if deleted is None:
        await sessions.ensure_exists(conn, session_id)
        raise _not_found(session_id, key)
    return Forgotten(session_id=session_id, key=key, deleted=True)


async def list_page(
    conn: asyncpg.Connection,
    session_id: str,
    *,
    type: str | None,
    tags: list[str] | None,
    limit: int,
    cursor: str | None,
) -> MemoryPage:
    after = pagination.decode(cursor, datetime, str)
    after_at = after[0] if after else None
    query, args = build(
        "list_memories", session_id=session_id, type=type, tags=list(dict.fromkeys(tags)) if tags else None,
        after_at=after_at, after_key=after[1] if after else None, limit=limit + 1,
    )
    rows = await conn.fetch(query, *args)
    if not rows:
        await sessions.ensure_exists(conn, session_id)
    rows, more = pagination.page(rows, limit, "content")
    memories = [from_row(Memory, r) for r in rows]
    last = memories[-1] if memories else None
    next_cursor = pagination.encode(last.created.isoformat(), last.key) if more and last else None
    return MemoryPage(memories=memories, next_cursor=next_cursor)

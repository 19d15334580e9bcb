"""Conversation chunks: transcripts and dialogues, megabytes each, read back in slices."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import asyncpg

from mcp_sessions import pagination
from mcp_sessions.errors import Conflict, InvalidInput, NotFound
from mcp_sessions.models import Chunk, ChunkContent, ChunkPage, from_row
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.sql import build
from mcp_sessions.store import sessions

# What get_chunk returns when the caller names no length: enough to read, small
# enough not to flood a context window.
DEFAULT_SLICE = 50_000


async def add(
    conn: asyncpg.Connection,
    session_id: str,
    *,
    content: str,
    format: str,
    chunk_id: str | None,
    extracted_items: Any,
    agent: str,
) -> Chunk:
    """One statement in the usual case (the caller needs no transaction for it)."""
    chunk_id = chunk_id or uuid.uuid4().hex
    digest = hashlib.sha256(content.encode("utf-8")).digest()
    with sessions.refusing_missing(session_id):
        row = await conn.fetchrow(
            Q["insert_chunk"], session_id, chunk_id, content, len(content), digest, format, extracted_items, agent
        )
    if row is not None:
        return from_row(Chunk, row)
    # The chunk_id exists: a retry of the same write is a no-op, anything else a conflict.
    existing = await conn.fetchrow(Q["get_chunk_meta"], session_id, chunk_id)
    if existing["content_sha256"] != digest:
        raise Conflict(
            f"chunk {chunk_id!r} already exists in session {session_id!r} with different content; "
            "chunks are immutable: add it under a new chunk_id"
        )
    return from_row(Chunk, {k: v for k, v in existing.items() if k != "content_sha256"})


# No text in PostgreSQL is longer than 1 GB, so no slice reaches past this many
# characters; bounding offset and length by it keeps substr's int4 from overflowing.
_SLICE_MAX = 2**30


def slice_bounds(offset: int, length: int | None) -> tuple[int, int]:
    """(offset, length) for substr: the default length, both bounded (see _SLICE_MAX)."""
    return min(offset, _SLICE_MAX), min(DEFAULT_SLICE if length is None else length, _SLICE_MAX)


async def read(
    conn: asyncpg.Connection, session_id: str, chunk_id: str, *, offset: int, length: int | None
) -> ChunkContent:
    row = await conn.fetchrow(Q["get_chunk_slice"], session_id, chunk_id, *slice_bounds(offset, length))
    if row is None:
        await sessions.ensure_exists(conn, session_id)
        raise NotFound(f"chunk {chunk_id!r} not found in session {session_id!r}: list_chunks shows its chunks")
    total = row["size"]
    if offset > total:
        raise InvalidInput(f"offset {offset} is past the end of the chunk ({total} characters)")
    end = offset + len(row["content"])
    return ChunkContent(
        session_id=session_id, chunk_id=chunk_id, format=row["format"], content=row["content"],
        offset=offset, total_length=total, next_offset=end if end < total else None,
    )


async def list_page(conn: asyncpg.Connection, session_id: str, *, limit: int, cursor: str | None) -> ChunkPage:
    after = pagination.decode(cursor, int)
    query, args = build("list_chunks", session_id=session_id, after_seq=after[0] if after else None, limit=limit + 1)
    rows = await conn.fetch(query, *args)
    if not rows:
        await sessions.ensure_exists(conn, session_id)
    rows, more = pagination.page(rows, limit, "extracted_items")
    chunks = [from_row(Chunk, r) for r in rows]
    return ChunkPage(chunks=chunks, next_cursor=pagination.encode(rows[-1]["seq"]) if more else None)

"""Sessions: create, read, update, list, with counts of what they hold."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator

import asyncpg

from mcp_sessions import pagination
from mcp_sessions.errors import Conflict, InvalidInput, NotFound
from mcp_sessions.models import SessionCounts, SessionPage, SessionSummary
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.sql import build
from mcp_sessions.validation import MAX_JSON_BYTES, json_size

# What one session holds at most: with the metadata limit, a session's summary stays
# well under 100 KB (100 names of up to 200 characters are 20 KB).
MAX_PARTICIPANTS = 100


def not_found(session_id: str) -> NotFound:
    return NotFound(f"session {session_id!r} not found: list_sessions shows the existing ones")


async def ensure_exists(conn: asyncpg.Connection, session_id: str) -> None:
    if not await conn.fetchval(Q["session_exists"], session_id):
        raise not_found(session_id)


@contextmanager
def refusing_missing(session_id: str) -> Iterator[None]:
    """Around writes into a session: its foreign key refuses a session that does not exist,
    reported as ensure_exists would, without a query to check first."""
    try:
        yield
    except asyncpg.ForeignKeyViolationError as exc:
        if "session_id" not in (exc.constraint_name or ""):
            raise
        raise not_found(session_id) from exc


async def create(
    conn: asyncpg.Connection,
    *,
    title: str,
    participants: list[str],
    metadata: dict[str, Any],
    session_id: str | None,
    agent: str,
) -> SessionSummary:
    new_id = session_id or uuid.uuid4().hex
    row = await conn.fetchrow(Q["insert_session"], new_id, title, _unique(participants), metadata, agent)
    if row is None:
        raise Conflict(f"session {new_id!r} already exists: use get_session, or choose another session_id")
    # A session this transaction just made holds nothing yet.
    empty = SessionCounts(chunks=0, memories=0, artifacts=0, tasks=0, tasks_by_status={})
    return SessionSummary.model_validate({**row, "counts": empty})


async def get(conn: asyncpg.Connection, session_id: str) -> SessionSummary:
    query, args = build("session_summaries", id=session_id, limit=1)
    row = await conn.fetchrow(query, *args)
    if row is None:
        raise not_found(session_id)
    return _summary(row)


async def update(
    conn: asyncpg.Connection,
    session_id: str,
    *,
    title: str | None,
    status: str | None,
    add_participants: list[str],
    metadata: dict[str, Any] | None,
    max_json_bytes: int = MAX_JSON_BYTES,
) -> SessionSummary:
    """Call in a transaction: a result over the limits is refused and rolled back."""
    row = await conn.fetchrow(
        Q["update_session"], session_id, title, add_participants, metadata, status,
    )
    if row is None:
        raise not_found(session_id)
    # The limits hold for what the session holds, not only for what one call sends.
    if metadata is not None and (size := json_size(row["metadata"])) > max_json_bytes:
        raise InvalidInput(
            f"metadata: merged into the session's it would be {size:,} bytes of JSON, over the limit of "
            f"{max_json_bytes:,} (MCP_SESSIONS_MAX_JSON_BYTES); remove keys (set them to null) or store large "
            "material as an artifact"
        )
    if len(row["participants"]) > MAX_PARTICIPANTS:
        raise InvalidInput(
            f"add_participants: the session would have {len(row['participants'])} participants, over the limit "
            f"of {MAX_PARTICIPANTS}"
        )
    return _summary(row)


async def list_page(
    conn: asyncpg.Connection, *, status: str | None, participant: str | None, limit: int, cursor: str | None
) -> SessionPage:
    after = pagination.decode(cursor, datetime, str)
    after_at = after[0] if after else None
    after_id = after[1] if after else None
    query, args = build(
        "session_summaries", status=status, participant=participant, after_at=after_at, after_id=after_id,
        limit=limit + 1,
    )
    rows, more = pagination.page(await conn.fetch(query, *args), limit, "metadata", "participants")
    sessions = [_summary(r) for r in rows]
    next_cursor = pagination.encode(rows[-1]["last_activity"].isoformat(), rows[-1]["id"]) if more else None
    return SessionPage(sessions=sessions, next_cursor=next_cursor)


async def counts(conn: asyncpg.Connection, session_id: str) -> SessionCounts:
    return _counts(await conn.fetchrow(Q["session_counts"], session_id))


def _summary(row: asyncpg.Record) -> SessionSummary:
    return SessionSummary.model_validate({**row, "counts": _counts(row)})


def _counts(row: asyncpg.Record) -> SessionCounts:
    by_status = row["tasks_by_status"]
    return SessionCounts(
        chunks=row["chunks"], memories=row["memories"], artifacts=row["artifacts"],
        tasks=sum(by_status.values()), tasks_by_status=by_status,
    )


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))

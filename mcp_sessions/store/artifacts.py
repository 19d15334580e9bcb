"""Artifacts: named documents and code, each save a new version, read back in slices."""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg

from mcp_sessions import pagination
from mcp_sessions.errors import InvalidInput, NotFound
from mcp_sessions.models import Artifact, ArtifactContent, ArtifactPage, from_row
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.sql import build
from mcp_sessions.store import sessions
from mcp_sessions.store.chunks import slice_bounds


async def save(
    conn: asyncpg.Connection,
    session_id: str,
    *,
    name: str,
    type: str,
    content: str,
    format: str,
    metadata: dict[str, Any],
    agent: str,
) -> Artifact:
    await conn.execute(Q["lock_artifact_name"], session_id, name)
    digest = hashlib.sha256(content.encode("utf-8")).digest()
    with sessions.refusing_missing(session_id):
        row = await conn.fetchrow(
            Q["insert_artifact_version"], session_id, name, type, format, content, len(content), digest, metadata,
            agent,
        )
    return from_row(Artifact, row)


async def read(
    conn: asyncpg.Connection,
    *,
    artifact_id: str | None,
    session_id: str | None,
    name: str | None,
    version: int | None,
    offset: int,
    length: int | None,
) -> ArtifactContent:
    start, count = slice_bounds(offset, length)
    if artifact_id is not None:
        row = await conn.fetchrow(Q["get_artifact_slice_by_id"], artifact_id, start, count)
        if row is None:
            raise NotFound(f"artifact {artifact_id!r} not found: list_artifacts shows a session's artifacts")
    elif session_id is not None and name is not None:
        row = await conn.fetchrow(Q["get_artifact_slice_by_name"], session_id, name, version, start, count)
        if row is None:
            await sessions.ensure_exists(conn, session_id)
            which = f"version {version} of " if version is not None else ""
            raise NotFound(f"{which}artifact {name!r} not found in session {session_id!r}: list_artifacts shows them")
    else:
        raise InvalidInput("name the artifact: either artifact_id, or session_id and name (and optionally version)")
    total = row["size"]
    if offset > total:
        raise InvalidInput(f"offset {offset} is past the end of the artifact ({total} characters)")
    end = offset + len(row["content"])
    return ArtifactContent(
        artifact=from_row(Artifact, row), content=row["content"], offset=offset,
        total_length=total, next_offset=end if end < total else None,
    )


async def list_page(
    conn: asyncpg.Connection,
    session_id: str,
    *,
    type: str | None,
    name: str | None,
    limit: int,
    cursor: str | None,
) -> ArtifactPage:
    after = pagination.decode(cursor, str, int)
    # The cursor is the last row's (name, version): the latest of each name pages by name,
    # the versions of one name by version.
    if name is None:
        query, args = build(
            "list_artifacts", session_id=session_id, type=type, after_name=after[0] if after else None, limit=limit + 1
        )
    else:
        query, args = build(
            "list_artifact_versions", session_id=session_id, name=name, type=type,
            after_version=after[1] if after else None, limit=limit + 1,
        )
    rows = await conn.fetch(query, *args)
    if not rows:
        await sessions.ensure_exists(conn, session_id)
    rows, more = pagination.page(rows, limit, "metadata")
    artifacts = [from_row(Artifact, r) for r in rows]
    next_cursor = pagination.encode(rows[-1]["name"], rows[-1]["version"]) if more else None
    return ArtifactPage(artifacts=artifacts, next_cursor=next_cursor)

"""Export: sessions with everything they hold, plus agents, as JSON Lines.

Layout (one JSON object per line):

    {"format": "mcp-sessions-archive", "version": 1, "schema_version": N, "tables": {table: [columns]}}
    {"table": "agents", "row": {...}}                    every agent
    {"table": "sessions", "row": {...}}                  a session, then its rows,
    {"table": "conversation_chunks", "row": {...}}       table by table, parents first
    ...
    {"section": "links"}                                 then rows that point into another
    {"table": "task_dependencies", "row": {...}}         session, imported after all sessions
    {"end": {"sessions": S, "rows": R}}                  absent: the archive is truncated

Rows are written by PostgreSQL (`to_jsonb`), in a fixed order, from one snapshot, and
the header holds no clock: exporting the same data twice gives the same bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import asyncpg

from mcp_sessions.archive.schema import (
    GLOBAL_TABLES,
    ROOT,
    ArchiveError,
    Catalog,
    quote,
    read_catalog,
    render,
)
from mcp_sessions.sql import QUERIES as Q

FORMAT = "mcp-sessions-archive"
FORMAT_VERSION = 1
# Rows fetched per round trip. Tables with a `content` column (chunks, artifacts,
# memories) hold up to 32 MiB a row: a few at a time bounds memory; other rows are small.
PREFETCH_CONTENT = 4
PREFETCH = 256


@dataclass
class ExportStats:
    sessions: int = 0
    total_sessions: int = 0
    rows: int = 0
    bytes: int = 0


Progress = Callable[[ExportStats], None]


def _line(table: str, row_json: str) -> bytes:
    return f'{{"table": {json.dumps(table)}, "row": {row_json}}}\n'.encode()


async def export_archive(
    conn: asyncpg.Connection,
    out: BinaryIO,
    *,
    session_ids: list[str] | None = None,
    progress: Progress | None = None,
) -> ExportStats:
    """Write the archive to out. Runs in one read-only snapshot, so a live database
    exports consistently."""
    stats = ExportStats()

    def write(data: bytes) -> None:
        out.write(data)
        stats.bytes += len(data)

    # Timestamps are written in UTC whatever the server's TimeZone is.
    await conn.execute("SET TIME ZONE 'UTC'")
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        catalog = await read_catalog(conn)
        ids = [r["id"] for r in await conn.fetch(Q["archive_session_ids"], session_ids)]
        if session_ids:
            missing = sorted(set(session_ids) - set(ids))
            if missing:
                raise ArchiveError(f"no such session: {', '.join(missing)} (`mcp-sessions sessions list` shows them)")
        stats.total_sessions = len(ids)
        write(_header(catalog, await conn.fetchval(Q["archive_schema_version"])))
        for name in GLOBAL_TABLES:
            # Not scoped by session: the predicate only gives $1 a type.
            await _rows(conn, catalog, name, "$1::text IS NULL", None, write, stats)
        for session_id in ids:
            row = await conn.fetchval(Q["archive_export_session"], session_id, catalog.table(ROOT).derived)
            write(_line(ROOT, row))
            stats.rows += 1
            for name in catalog.session_tables[1:]:
                await _rows(conn, catalog, name, catalog.table(name).export_scope, session_id, write, stats)
            stats.sessions += 1
            if progress:
                progress(stats)
        # Rows that point into another session (a task depending on another session's
        # task) come last, when every session they may name has been imported.
        linked = [name for name in catalog.session_tables if catalog.table(name).links]
        if linked:
            write((json.dumps({"section": "links"}) + "\n").encode())
            for session_id in ids:
                for name in linked:
                    await _rows(conn, catalog, name, catalog.table(name).cross_scope, session_id, write, stats)
    write((json.dumps({"end": {"sessions": stats.sessions, "rows": stats.rows}}) + "\n").encode())
    return stats


def _header(catalog: Catalog, schema_version: int) -> bytes:
    names = list(GLOBAL_TABLES) + catalog.session_tables
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "schema_version": schema_version,
        "tables": {name: catalog.table(name).columns for name in names},
    }
    return (json.dumps(header) + "\n").encode()


async def _rows(conn, catalog: Catalog, name: str, scope: str, session_id: str | None, write, stats) -> None:
    table = catalog.table(name)
    query = render(Q["archive_export_rows"], table=quote(name), scope=scope, order=table.order)
    prefetch = PREFETCH_CONTENT if "content" in table.columns else PREFETCH
    async for record in conn.cursor(query, session_id, table.derived, prefetch=prefetch):
        write(_line(name, record[0]))
        stats.rows += 1

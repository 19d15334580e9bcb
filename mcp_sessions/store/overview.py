"""What an operator looks at that no tool returns: the newest chunks of a session, and
the size of everything (row counts, bytes) for `mcp-sessions db status`."""

from __future__ import annotations

import asyncpg
from pydantic import BaseModel

from mcp_sessions.archive.schema import quote, render
from mcp_sessions.models import Chunk, from_row
from mcp_sessions.sql import QUERIES as Q


class TableSize(BaseModel):
    table: str
    rows: int
    bytes: int


class DatabaseSize(BaseModel):
    database: str
    bytes: int
    server_version: str
    tables: list[TableSize]


async def recent_chunks(conn: asyncpg.Connection, session_id: str, limit: int) -> list[Chunk]:
    return [from_row(Chunk, r) for r in await conn.fetch(Q["recent_chunks"], session_id, limit)]


async def database_size(conn: asyncpg.Connection) -> DatabaseSize:
    db = await conn.fetchrow(Q["database_size"])
    tables = [
        TableSize(
            table=r["table_name"],
            rows=await conn.fetchval(render(Q["count_rows"], table=quote(r["table_name"]))),
            bytes=r["total_bytes"],
        )
        for r in await conn.fetch(Q["table_sizes"])
    ]
    return DatabaseSize(database=db["name"], bytes=db["bytes"], server_version=db["server_version"], tables=tables)

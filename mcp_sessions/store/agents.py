"""The agent registry: who exists, what they can do, how to start them, whether they
are alive (seen lately, or holding a live lease) and which tasks each holds."""

from __future__ import annotations

from typing import Any

import asyncpg

from mcp_sessions import pagination
from mcp_sessions.models import Agent, AgentList, from_row
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.sql import build

# Seen this recently (a claim, heartbeat or registration) counts as alive.
ALIVE_SECONDS = 300.0


async def register(
    conn: asyncpg.Connection, *, name: str, type: str, command: str | None, capabilities: list[Any], status: str
) -> Agent:
    row = await conn.fetchrow(Q["upsert_agent"], name, type, command, capabilities, status, ALIVE_SECONDS)
    return from_row(Agent, row)


async def list_page(conn: asyncpg.Connection, *, status: str | None, limit: int, cursor: str | None) -> AgentList:
    """A page of agents by name; a page also stops at the byte budget (big capabilities)."""
    after = pagination.decode(cursor, str)
    query, args = build(
        "list_agents", status=status, alive_seconds=ALIVE_SECONDS, after_name=after[0] if after else None,
        limit=limit + 1,
    )
    rows = await conn.fetch(query, *args)
    rows, more = pagination.page(rows, limit, "capabilities", "holds")
    next_cursor = pagination.encode(rows[-1]["name"]) if more else None
    return AgentList(agents=[from_row(Agent, r) for r in rows], next_cursor=next_cursor)


async def list_all(conn: asyncpg.Connection, *, status: str | None) -> AgentList:
    """Every agent (the CLI's listing)."""
    query, args = build("list_agents", status=status, alive_seconds=ALIVE_SECONDS)
    return AgentList(agents=[from_row(Agent, r) for r in await conn.fetch(query, *args)])

"""The agent registry: who exists, what they can do, how to start them, whether they
are alive (seen lately, or holding a live lease) and which tasks each holds."""

from __future__ import annotations

from typing import Any

import asyncpg

from mcp_sessions.models import Agent, AgentList, from_row
from mcp_sessions.sql import QUERIES as Q

# Seen this recently (a claim, heartbeat or registration) counts as alive.
ALIVE_SECONDS = 300.0


async def register(
    conn: asyncpg.Connection, *, name: str, type: str, command: str | None, capabilities: list[Any], status: str
) -> Agent:
    row = await conn.fetchrow(Q["upsert_agent"], name, type, command, capabilities, status, ALIVE_SECONDS)
    return from_row(Agent, row)


async def list_all(conn: asyncpg.Connection, *, status: str | None) -> AgentList:
    return AgentList(agents=[from_row(Agent, r) for r in await conn.fetch(Q["list_agents"], status, ALIVE_SECONDS)])

"""The agent registry: who exists, what they can do, how to start them, when last seen."""

from __future__ import annotations

from typing import Any

import asyncpg

from mcp_sessions.models import Agent, AgentList, from_row
from mcp_sessions.sql import QUERIES as Q


async def register(
    conn: asyncpg.Connection, *, name: str, type: str, command: str | None, capabilities: list[Any], status: str
) -> Agent:
    return from_row(Agent, await conn.fetchrow(Q["upsert_agent"], name, type, command, capabilities, status))


async def list_all(conn: asyncpg.Connection, *, status: str | None) -> AgentList:
    return AgentList(agents=[from_row(Agent, r) for r in await conn.fetch(Q["list_agents"], status)])

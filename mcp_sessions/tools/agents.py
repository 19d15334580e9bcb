"""Agent registry tools: register_agent, list_agents."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_sessions.models import Agent, AgentList, AgentStatus
from mcp_sessions.store import agents as store
from mcp_sessions.tools._base import READ, UPSERT, app_of, tool
from mcp_sessions.validation import Cursor, Identifier, JsonList, Limit, Text


def register(mcp: MCPServer) -> None:
    @tool(mcp, UPSERT)
    async def register_agent(
        name: Identifier,
        type: Text(100),
        ctx: Context,
        command: Annotated[Text(2000) | None, Field(description="How to start it.")] = None,
        capabilities: JsonList = [],
        status: AgentStatus = "available",
    ) -> Agent:
        """Add an agent to the registry, or update it. Over HTTP, only your own entry (the
        agent your token names)."""
        app = app_of(ctx)
        app.only_self(name, "name")
        async with app.transaction() as conn:
            return await store.register(
                conn, name=name, type=type, command=command, capabilities=capabilities, status=status
            )

    @tool(mcp, READ)
    async def list_agents(
        ctx: Context, status: AgentStatus | None = None, limit: Limit = 50, cursor: Cursor = None
    ) -> AgentList:
        """The registered agents by name: what each can do, how to start it, last seen, alive, and the tasks each holds. Page with next_cursor."""
        async with app_of(ctx).connection() as conn:
            return await store.list_page(conn, status=status, limit=limit, cursor=cursor)

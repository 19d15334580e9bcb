"""The search tool."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_sessions.models import SearchKind, SearchResults
from mcp_sessions.store import search as store
from mcp_sessions.tools._base import READ, app_of, tool
from mcp_sessions.validation import Identifier, Text


def register(mcp: MCPServer) -> None:
    @tool(mcp, READ)
    async def search(
        query: Annotated[Text(10000), Field(description='Words, "a phrase", -excluded, OR.')],
        ctx: Context,
        session_id: Identifier | None = None,
        kinds: list[SearchKind] | None = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> SearchResults:
        """Full-text search over chunks, memories and artifacts; best first, with snippets."""
        async with app_of(ctx).connection() as conn:
            return await store.search(conn, query=query, session_id=session_id, kinds=kinds, limit=limit)

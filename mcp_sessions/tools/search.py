"""The search tool."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_sessions.models import ArtifactType, MemoryType, SearchKind, SearchResults
from mcp_sessions.store import search as store
from mcp_sessions.tools._base import READ, app_of, tool
from mcp_sessions.validation import Cursor, Identifier, Text


def register(mcp: MCPServer) -> None:
    @tool(mcp, READ)
    async def search(
        query: Annotated[Text(100_000), Field(description='Words, "a phrase", -not, OR.')],
        ctx: Context,
        session_id: Identifier | None = None,
        kinds: list[SearchKind] | None = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        memory_types: list[MemoryType] | None = None,
        tags: list[Text(200)] | None = None,
        tags_match: Literal["any", "all"] = "any",
        created_by: Text(200) | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        artifact_types: list[ArtifactType] | None = None,
        mode: Literal["auto", "fulltext", "fuzzy"] = "auto",
        cursor: Cursor = None,
        history: Annotated[bool, Field(description="Also search older artifact versions.")] = False,
    ) -> SearchResults:
        """Search chunks, memories, artifacts (latest versions), messages; best first, matches in **; offset opens get_chunk there. auto mode: fuzzy if nothing found."""
        async with app_of(ctx).connection() as conn:
            return await store.search(
                conn, query=query, session_id=session_id, kinds=kinds, limit=limit, memory_types=memory_types,
                tags=tags, tags_match=tags_match, created_by=created_by, created_after=created_after,
                created_before=created_before, artifact_types=artifact_types, mode=mode, cursor=cursor,
                viewer=app_of(ctx).authenticated,
                history=history,
            )

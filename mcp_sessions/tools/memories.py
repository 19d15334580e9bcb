"""Memory tools: remember, recall, list_memories, forget."""

from __future__ import annotations

import json
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_sessions.errors import InvalidInput
from mcp_sessions.models import Forgotten, Memory, MemoryPage, MemoryType
from mcp_sessions.store import memories as store
from mcp_sessions.store.events import set_actor
from mcp_sessions.tools._base import DELETE, READ, UPSERT, app_of, tool
from mcp_sessions.validation import INT4_MAX, Cursor, Identifier, JsonContent, Limit, Text

Tags = Annotated[list[Text(100)], Field(max_length=50)]


def register(mcp: MCPServer) -> None:
    @tool(mcp, UPSERT)
    async def remember(
        session_id: Identifier,
        key: Identifier,
        type: MemoryType,
        content: JsonContent,
        ctx: Context,
        tags: Tags = [],
        expected_version: Annotated[
            int | None, Field(ge=0, le=INT4_MAX, description="Refuse unless the memory is at this version (0: must not exist).")
        ] = None,
    ) -> Memory:
        """Store a decision, fact, idea, risk... under a key; an existing key is updated and its version goes up. Returns the memory."""
        app = app_of(ctx)
        size = len(json.dumps(content, ensure_ascii=False).encode("utf-8"))
        if size > app.settings.max_memory_bytes:
            raise InvalidInput(
                f"content is {size:,} bytes of JSON, over the memory limit of {app.settings.max_memory_bytes:,}; "
                "store large text as a chunk or an artifact and remember a reference to it"
            )
        # One statement: atomic without BEGIN and COMMIT round trips.
        async with app.connection() as conn:
            return await store.remember(
                conn, session_id, key=key, type=type, content=content, tags=tags,
                expected_version=expected_version, agent=app.agent,
            )

    @tool(mcp, READ)
    async def recall(session_id: Identifier, key: Identifier, ctx: Context) -> Memory:
        """The memory under a key: content, type, tags, version. To find memories by their words, use search."""
        async with app_of(ctx).connection() as conn:
            return await store.recall(conn, session_id, key)

    @tool(mcp, READ)
    async def list_memories(
        session_id: Identifier,
        ctx: Context,
        type: MemoryType | None = None,
        tags: Annotated[Tags | None, Field(description="Only memories with all of these tags.")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> MemoryPage:
        """A session's memories, oldest first, optionally by type and tags."""
        async with app_of(ctx).connection() as conn:
            return await store.list_page(conn, session_id, type=type, tags=tags, limit=limit, cursor=cursor)

    @tool(mcp, DELETE)
    async def forget(session_id: Identifier, key: Identifier, ctx: Context) -> Forgotten:
        """Delete the memory under a key; deleted is false if there was none."""
        app = app_of(ctx)
        async with app.transaction() as conn:
            await set_actor(conn, app.agent)  # the memory.forgotten event names who forgot it
            return await store.forget(conn, session_id, key)

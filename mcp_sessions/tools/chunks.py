"""Conversation chunk tools: add_chunk, get_chunk, list_chunks."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_sessions.models import Chunk, ChunkContent, ChunkFormat, ChunkPage
from mcp_sessions.store import chunks as store
from mcp_sessions.store.chunks import DEFAULT_SLICE
from mcp_sessions.tools._base import READ, UPSERT, app_of, tool
from mcp_sessions.validation import INT4_MAX, AnyJson, Content, Cursor, Identifier, Limit, check_size

Offset = Annotated[int, Field(ge=0, le=INT4_MAX, description="Start, in characters.")]
# null is taken as the default too (clients that send every parameter).
Length = Annotated[int | None, Field(ge=1, le=INT4_MAX, description="Characters to read.")]


def register(mcp: MCPServer) -> None:
    @tool(mcp, UPSERT)
    async def add_chunk(
        session_id: Identifier,
        content: Content,
        ctx: Context,
        format: ChunkFormat = "dialogue",
        chunk_id: Annotated[Identifier | None, Field(description="Default: generated. Resending is a no-op.")] = None,
        extracted_items: AnyJson = {},
    ) -> Chunk:
        """Store a conversation chunk (transcript, dialogue, summary; up to 32 MiB). Returns its id and size, not its content."""
        app = app_of(ctx)
        check_size("content", content, app.settings.max_content_bytes)
        # Progress, when the client asked for it (a progress token): a no-op otherwise.
        await ctx.report_progress(0, len(content), f"storing and indexing {len(content):,} characters")
        # One statement: atomic without BEGIN and COMMIT round trips.
        async with app.connection() as conn:
            chunk = await store.add(
                conn, session_id, content=content, format=format, chunk_id=chunk_id,
                extracted_items=extracted_items, agent=app.agent,
            )
        await ctx.report_progress(len(content), len(content), "stored and indexed")
        return chunk

    @tool(mcp, READ)
    async def get_chunk(
        session_id: Identifier, chunk_id: Identifier, ctx: Context, offset: Offset = 0,
        length: Length = DEFAULT_SLICE,
    ) -> ChunkContent:
        """Read a chunk's content, a slice at a time: follow next_offset until it is null."""
        async with app_of(ctx).connection() as conn:
            return await store.read(conn, session_id, chunk_id, offset=offset, length=length)

    @tool(mcp, READ)
    async def list_chunks(session_id: Identifier, ctx: Context, limit: Limit = 50, cursor: Cursor = None) -> ChunkPage:
        """A session's chunks in the order they were added: ids, formats, sizes, no content (get_chunk reads it)."""
        async with app_of(ctx).connection() as conn:
            return await store.list_page(conn, session_id, limit=limit, cursor=cursor)

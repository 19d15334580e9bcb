"""Artifact tools: save_artifact, get_artifact, list_artifacts."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_sessions.models import Artifact, ArtifactContent, ArtifactPage, ArtifactType
from mcp_sessions.store import artifacts as store
from mcp_sessions.store.chunks import DEFAULT_SLICE
from mcp_sessions.tools._base import CREATE, READ, app_of, tool
from mcp_sessions.tools.chunks import Length, Offset
from mcp_sessions.validation import INT4_MAX, Content, Cursor, Identifier, JsonObject, Limit, Text, check_size

Format = Annotated[
    str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9+.-]*$", description="markdown, python, json, ...")
]


def register(mcp: MCPServer) -> None:
    @tool(mcp, CREATE)
    async def save_artifact(
        session_id: Identifier,
        name: Text(300),
        type: ArtifactType,
        content: Content,
        ctx: Context,
        format: Format = "markdown",
        metadata: JsonObject = {},
    ) -> Artifact:
        """Save code, a document, research, a PRD or a report; saving an existing name adds a new version. Returns its id and version, not the content."""
        app = app_of(ctx)
        check_size("content", content, app.settings.max_content_bytes)
        # Progress, when the client asked for it (a progress token): a no-op otherwise.
        await ctx.report_progress(0, len(content), f"storing and indexing {len(content):,} characters")
        async with app.transaction() as conn:
            artifact = await store.save(
                conn, session_id, name=name, type=type, content=content, format=format, metadata=metadata,
                agent=app.agent,
            )
        await ctx.report_progress(len(content), len(content), "stored and indexed")
        return artifact

    @tool(mcp, READ)
    async def get_artifact(
        ctx: Context,
        artifact_id: Identifier | None = None,
        session_id: Identifier | None = None,
        name: Text(300) | None = None,
        version: Annotated[int | None, Field(ge=1, le=INT4_MAX, description="Default: latest.")] = None,
        offset: Offset = 0,
        length: Length = DEFAULT_SLICE,
    ) -> ArtifactContent:
        """Read an artifact by artifact_id, or by session_id + name (+ version), a slice at a time."""
        async with app_of(ctx).connection() as conn:
            return await store.read(
                conn, artifact_id=artifact_id, session_id=session_id, name=name, version=version,
                offset=offset, length=length,
            )

    @tool(mcp, READ)
    async def list_artifacts(
        session_id: Identifier,
        ctx: Context,
        type: ArtifactType | None = None,
        name: Annotated[Text(300) | None, Field(description="List every version of this name.")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ArtifactPage:
        """A session's artifacts (latest version of each name, no content), by name. Page with next_cursor."""
        async with app_of(ctx).connection() as conn:
            return await store.list_page(conn, session_id, type=type, name=name, limit=limit, cursor=cursor)

"""Session tools: create_session, get_session, list_sessions, update_session."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_sessions.models import SessionPage, SessionStatus, SessionSummary
from mcp_sessions.store import sessions as store
from mcp_sessions.store.events import set_actor
from mcp_sessions.tools._base import CHANGE, CREATE, READ, app_of, tool
from mcp_sessions.validation import Cursor, Identifier, JsonObject, Limit, Text

Participants = Annotated[list[Identifier], Field(max_length=100, description="Agent names.")]


def register(mcp: MCPServer) -> None:
    @tool(mcp, CREATE)
    async def create_session(
        title: Text(500),
        ctx: Context,
        participants: Participants = [],
        metadata: JsonObject = {},
        session_id: Annotated[Identifier | None, Field(description="Your own id; default: generated.")] = None,
    ) -> SessionSummary:
        """Start a shared session (one per piece of collaborative work); returns it with its id. To join an existing one, use catch_up."""
        app = app_of(ctx)
        async with app.transaction() as conn:
            return await store.create(
                conn, title=title, participants=participants, metadata=metadata, session_id=session_id, agent=app.agent
            )

    @tool(mcp, READ)
    async def get_session(session_id: Identifier, ctx: Context) -> SessionSummary:
        """A session's title, participants, status, metadata and counts of what it holds. To join one, catch_up says more in one call."""
        async with app_of(ctx).connection() as conn:
            return await store.get(conn, session_id)

    @tool(mcp, READ)
    async def list_sessions(
        ctx: Context,
        status: SessionStatus | None = None,
        participant: Identifier | None = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> SessionPage:
        """Find sessions, most recently active first, each with its counts. Page with next_cursor."""
        async with app_of(ctx).connection() as conn:
            return await store.list_page(conn, status=status, participant=participant, limit=limit, cursor=cursor)

    @tool(mcp, CHANGE)
    async def update_session(
        session_id: Identifier,
        ctx: Context,
        title: Text(500) | None = None,
        status: SessionStatus | None = None,
        add_participants: Participants = [],
        metadata: Annotated[JsonObject | None, Field(description="Merged in; a key set to null is removed.")] = None,
    ) -> SessionSummary:
        """Rename a session, change its status, add participants, or merge metadata; returns the session."""
        app = app_of(ctx)
        async with app.transaction() as conn:
            await set_actor(conn, app.agent)  # the session.updated event names who changed it
            return await store.update(
                conn, session_id, title=title, status=status, add_participants=add_participants, metadata=metadata,
                max_json_bytes=app.settings.max_json_bytes,
            )

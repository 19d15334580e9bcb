"""Coordination tools: catch_up (a session in one call), reserve and release (paths two
agents should not edit at once). Messages are in tools/messages.py, the feed in tools/events.py."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_sessions.models import CatchUp, Released, Reserved
from mcp_sessions.store import catch_up as digest
from mcp_sessions.store import reservations as store
from mcp_sessions.tools._base import CHANGE, READ, UPSERT, app_of, tool
from mcp_sessions.validation import Identifier, Text

SessionId = Annotated[Identifier, Field(description="The session.")]
Paths = Annotated[
    list[Text(500)],
    Field(min_length=1, max_length=100, description="Repository-relative paths or globs: 'src/queue/**', 'README.md'."),
]


def register(mcp: MCPServer) -> None:
    @tool(mcp, READ)
    async def catch_up(session_id: SessionId, ctx: Context) -> CatchUp:
        """Call first when joining a session: participants, open tasks, key memories, latest artifacts and chunks,
        your unread messages, reservations (≤ 8 KB), and the cursor to watch from."""
        app = app_of(ctx)
        async with app.connection() as conn:
            return await digest.snapshot(conn, session_id, app.agent)  # one snapshot: every part and the cursor

    @tool(mcp, UPSERT)
    async def reserve(
        session_id: SessionId,
        paths: Paths,
        ctx: Context,
        exclusive: Annotated[bool, Field(description="false: shared, coexists with other shared ones.")] = True,
        ttl_seconds: Annotated[
            float, Field(ge=1, le=7 * 86400, description="Expires after this long; reserve again to renew.")
        ] = 1800,
        reason: Annotated[Text(500) | None, Field(description="Why, for whoever runs into it.")] = None,
    ) -> Reserved:
        """Reserve paths before editing them; refused with [conflict] naming each overlapping reservation of
        another agent. Reserving exactly the paths you hold renews them."""
        app = app_of(ctx)
        async with app.transaction() as conn:
            return await store.reserve(
                conn, session_id, agent=app.agent, paths=paths, exclusive=exclusive, ttl_seconds=ttl_seconds,
                reason=reason,
            )

    @tool(mcp, CHANGE)
    async def release(
        session_id: SessionId,
        ctx: Context,
        reservation_id: Annotated[Identifier | None, Field(description="Release this one.")] = None,
        paths: Annotated[
            list[Text(500)] | None, Field(max_length=100, description="Release these paths, as reserved.")
        ] = None,
    ) -> Released:
        """Release your reservations: one, some paths, or (neither given) all of yours in the session; returns what was released."""
        app = app_of(ctx)
        async with app.transaction() as conn:
            return await store.release(conn, session_id, agent=app.agent, reservation_id=reservation_id, paths=paths)

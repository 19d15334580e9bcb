"""The event feed: watch. Every change in a session is an event (see 0007_events)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_sessions.models import EventPage
from mcp_sessions.store import events as store
from mcp_sessions.tools._base import READ, app_of, tool
from mcp_sessions.validation import Identifier

MAX_WAIT_SECONDS = 300


def register(mcp: MCPServer) -> None:
    @tool(mcp, READ)
    async def watch(
        ctx: Context,
        session_id: Annotated[Identifier | None, Field(description="Only this session; default every session.")] = None,
        after: Annotated[
            str | None,
            Field(max_length=60, description="A cursor from watch/catch_up: events after it. '0': the oldest kept. "
                  "Omitted: only events from now on."),
        ] = None,
        kinds: Annotated[
            list[Annotated[str, Field(max_length=40)]] | None,
            Field(max_length=30, description="Only these kinds, e.g. ['task.completed', 'message.*'].")
        ] = None,
        wait_seconds: Annotated[
            float, Field(ge=0, le=MAX_WAIT_SECONDS, description="If nothing is there yet, wait this long for it.")
        ] = 0,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many events.")] = 100,
    ) -> EventPage:
        """Follow what happens in sessions: changes, task transitions, messages, reservations, oldest first.
        Pass next_after back as after= to continue: no event is skipped or repeated. With wait_seconds it
        returns as soon as a matching event commits. For the state so far, call catch_up first."""
        app = app_of(ctx)
        kinds_ = store.expand_kinds(kinds)
        async with app.connection() as conn:
            position = store.parse_cursor(after) if after is not None else await store.now(conn)

        async def read() -> store.Read:
            async with app.connection() as conn:
                return await store.read(
                    conn, position, session_id=session_id, kinds=kinds_, viewer=app.authenticated, limit=limit,
                    retention_days=app.settings.event_retention_days,
                )

        if app.events is None:
            return (await read()).page
        return await app.events.wait(read, session_id or "*", wait_seconds)

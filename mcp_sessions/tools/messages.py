"""Messages between agents: send_message, read_inbox, ack_message. A message writes a
message.sent event, so a waiting read_inbox (or watch) is woken by it in any process."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Awaitable, Callable

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_sessions.models import Acked, Importance, Inbox, Message
from mcp_sessions.store import messages as store
from mcp_sessions.store.event_waiter import EventWaiter
from mcp_sessions.store.task_waiter import POLL_SECONDS
from mcp_sessions.tools._base import CREATE, UPSERT, app_of, tool
from mcp_sessions.validation import Content, Cursor, Identifier, Text

MAX_WAIT_SECONDS = 300
SessionId = Annotated[Identifier, Field(description="The session.")]


async def wait_for_inbox(events: EventWaiter, attempt: Callable[[], Awaitable[Inbox]], scope: str,
                         wait_seconds: float) -> Inbox:
    """attempt() until it returns messages or wait_seconds run out, trying again on each
    event of the scope (any process's commit NOTIFYs this process's one LISTEN
    connection). Holds no connection and no transaction while it waits."""
    result = await attempt()
    if result.messages or wait_seconds <= 0:
        return result
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    woke = asyncio.Event()
    async with events.subscribed(scope, lambda _session: woke.set()):
        while True:
            # Subscribed first, read second: a message committed in between is read here.
            result = await attempt()
            remaining = deadline - loop.time()
            if result.messages or remaining <= 0:
                return result
            woke.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                # The timeout only covers a LISTEN connection that is down.
                await asyncio.wait_for(woke.wait(), min(remaining, POLL_SECONDS))


def register(mcp: MCPServer) -> None:
    @tool(mcp, CREATE)
    async def send_message(
        session_id: SessionId,
        body: Annotated[Content, Field(max_length=65536, description="The message, up to 64 KiB; searchable.")],
        ctx: Context,
        to: Annotated[
            list[Identifier] | None,
            Field(max_length=100, description="Agent names; omitted: everyone in the session."),
        ] = None,
        subject: Annotated[Text(200) | None, Field(description="A one-line subject.")] = None,
        thread_id: Annotated[
            Identifier | None, Field(description="Reply in this thread: the thread_id (or id) of a message.")
        ] = None,
        importance: Annotated[Importance, Field(description="low, normal, high or urgent.")] = "normal",
        ack_required: Annotated[bool, Field(description="Ask the recipients to call ack_message.")] = False,
    ) -> Message:
        """Send a message to agents in a session (or all of them); it wakes their waiting read_inbox. Returns it with its thread_id for replies."""
        app = app_of(ctx)
        async with app.transaction() as conn:
            return await store.send(
                conn, session_id, sender=app.agent, body=body, to=to, subject=subject, thread_id=thread_id,
                importance=importance, ack_required=ack_required, viewer=app.authenticated,
            )

    @tool(mcp, CREATE)  # not read-only: what it returns is marked read
    async def read_inbox(
        ctx: Context,
        session_id: Annotated[Identifier | None, Field(description="Only this session; default all of yours.")] = None,
        unread_only: Annotated[
            bool, Field(description="Only unread; false: everything you received or sent, with acks.")
        ] = True,
        wait_seconds: Annotated[
            float, Field(ge=0, le=MAX_WAIT_SECONDS, description="If none yet, wait this long for one.")
        ] = 0,
        limit: Annotated[int, Field(ge=1, le=100, description="At most this many.")] = 20,
        cursor: Cursor = None,
    ) -> Inbox:
        """Your messages (direct ones and your sessions' broadcasts), newest first; those returned are marked read.
        With wait_seconds it returns as soon as one arrives."""
        app = app_of(ctx)
        agent = app.agent

        async def attempt() -> Inbox:
            async with app.transaction() as conn:
                return await store.inbox(
                    conn, agent, session_id=session_id, unread_only=unread_only, limit=limit, cursor=cursor
                )

        if app.events is None:
            return await attempt()
        return await wait_for_inbox(app.events, attempt, session_id or "*", wait_seconds)

    @tool(mcp, UPSERT)
    async def ack_message(
        message_id: Annotated[Identifier, Field(description="The id of a message that has ack_required.")],
        ctx: Context,
    ) -> Acked:
        """Acknowledge a message that asks for it; its sender sees who has and who has not."""
        app = app_of(ctx)
        async with app.transaction() as conn:
            return await store.ack(conn, message_id, app.agent)

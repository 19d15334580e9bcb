"""The MCP resources of mcp-sessions: templates under mcp-sessions:// (read.py), the
recent sessions as resources/list, and live updates (live.py) for both ways a client
subscribes: `subscriptions/listen` (2026-07-28) and `resources/subscribe` (earlier
revisions, on a connection that keeps a stream open, such as stdio)."""

from __future__ import annotations

from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.types import EmptyResult, ListResourcesResult, PaginatedRequestParams, Resource, SubscribeRequestParams, UnsubscribeRequestParams

from mcp_sessions.errors import InvalidInput
from mcp_sessions.resources import read, uris
from mcp_sessions.resources.live import CountingBus, LiveResources
from mcp_sessions.store import sessions
from mcp_sessions.store.errors import translate_errors

__all__ = ["CountingBus", "LiveResources", "list_sessions", "register"]

PAGE = 50


async def list_sessions(app: Any, params: PaginatedRequestParams | None) -> ListResourcesResult:
    """resources/list: sessions, most recently active first, PAGE at a time."""
    cursor = params.cursor if params is not None else None
    with translate_errors():
        async with app.connection() as conn:
            page = await sessions.list_page(conn, status=None, participant=None, limit=PAGE, cursor=cursor)
    return ListResourcesResult(
        resources=[
            Resource(uri=uris.session(s.id), name=s.id, title=s.title, mime_type="application/json",
                     description=f"{s.status} session, last active {s.last_activity:%Y-%m-%d %H:%M} UTC "
                                 f"({s.counts.tasks} tasks, {s.counts.memories} memories, "
                                 f"{s.counts.artifacts} artifacts, {s.counts.chunks} chunks)")
            for s in page.sessions
        ],
        next_cursor=page.next_cursor,
    )


def _subscribable(ctx: ServerRequestContext[Any, Any], uri: str) -> None:
    if not uri.startswith(uris.SCHEME):
        raise InvalidInput(f"{uri[:100]!r} is not an mcp-sessions:// resource")
    if ctx.request is not None:
        # Stateless HTTP: the connection ends with the answer, so nothing could be sent later.
        raise InvalidInput("resources/subscribe needs a connection that stays open (stdio); over HTTP use "
                           "subscriptions/listen (protocol 2026-07-28), or the watch tool")


async def _subscribe(ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams) -> EmptyResult:
    _subscribable(ctx, str(params.uri))
    ctx.lifespan_context.resources.subscribe(ctx.session, str(params.uri))
    return EmptyResult()


async def _unsubscribe(ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams) -> EmptyResult:
    ctx.lifespan_context.resources.unsubscribe(ctx.session, str(params.uri))
    return EmptyResult()


def register(mcp: Any) -> None:
    read.register(mcp)
    low = mcp._lowlevel_server
    low.add_request_handler("resources/subscribe", SubscribeRequestParams, _subscribe)
    low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, _unsubscribe)

"""The composition root of the MCP server: create_server(settings)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from mcp_sessions import __version__
from mcp_sessions.config import Settings
from mcp_sessions.db import open_pool
from mcp_sessions.errors import SessionsError
from mcp_sessions import prompts, resources
from mcp_sessions.stdio import run_stdio
from mcp_sessions.store import search as search_store
from mcp_sessions.store.event_waiter import listening
from mcp_sessions.tools import register_all
from mcp_sessions.tools._arguments import describe, exact_arguments
from mcp_sessions.tools._base import App

INSTRUCTIONS = """\
A workspace shared with other agents. Start with list_sessions; joining a session, call
catch_up (then watch and read_inbox to follow it); store
transcripts with add_chunk, knowledge with remember, documents with save_artifact;
hand work over with create_task / claim_task; find anything with search."""


class SessionsServer(MCPServer):
    """MCPServer whose tools take their arguments exactly as sent (tools/_arguments.py),
    whose argument errors read like our other tool errors, and whose stdio transport
    Ctrl-C stops (mcp_sessions/stdio.py)."""

    def __init__(self, *args: Any, limits: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self._limits = limits or {}  # validation context: the settings argument types read
        super().__init__(*args, **kwargs)

    def add_tool(self, fn: Callable[..., Any], name: str | None = None, **kwargs: Any) -> None:
        # Every tool, however it is registered (our tool() decorator, @mcp.tool(), later code).
        super().add_tool(fn, name=name, **kwargs)
        tool = self._tool_manager.get_tool(name or fn.__name__)
        if tool is not None:
            tool.fn_metadata = exact_arguments(tool.fn_metadata, self._limits)

    async def _handle_list_resources(self, ctx: Any, params: Any) -> Any:
        # The recent sessions, paged (the SDK lists only resources registered up front).
        return await resources.list_sessions(ctx.lifespan_context, params)

    async def run_stdio_async(self) -> None:
        await run_stdio(self._lowlevel_server)

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            app = context.request_context.lifespan_context if context is not None else None
        except ValueError:  # no request (a direct call)
            app = None
        if isinstance(app, App):
            await app.seen()  # any call, refused ones too
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                tool = self._tool_manager.get_tool(name)
                raise ToolError(describe(name, cause, tool.fn_metadata.arg_model if tool else None)) from cause
            while cause is not None and not isinstance(cause, SessionsError):
                cause = cause.__cause__
            if cause is not None:
                raise ToolError(f"[{cause.code}] {name}: {cause.message}") from cause
            raise


def create_server(settings: Settings, on_start: Callable[[App], None] | None = None) -> MCPServer:
    """on_start sees the App once its pool is open (the HTTP transport's auth, /healthz, /metrics)."""

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[App]:
        # The pool lives exactly as long as the server: no module-level connections.
        async with open_pool(settings) as pool:
            async with pool.acquire() as conn:
                await search_store.ensure_config(conn, settings.search_config)
            async with listening(pool, settings) as (waiter, event_waiter):
                app = App(pool=pool, settings=settings, waiter=waiter, events=event_waiter)
                app.resources = resources.LiveResources(app, bus)
                try:
                    if on_start is not None:
                        on_start(app)
                    yield app
                finally:
                    await app.resources.stop()

    # subscriptions/listen streams; LiveResources publishes the event feed's changes to it
    bus = resources.CountingBus()
    mcp = SessionsServer(
        name="mcp-sessions",
        subscriptions=bus,
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level.upper(),
        limits={"max_json_bytes": settings.max_json_bytes},
    )
    register_all(mcp, settings.tools)
    resources.register(mcp)
    prompts.register(mcp)
    return mcp

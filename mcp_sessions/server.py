"""The composition root of the MCP server: create_server(settings)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from mcp.server.mcpserver import MCPServer

from mcp_sessions import __version__
from mcp_sessions.config import Settings
from mcp_sessions.db import open_pool
from mcp_sessions.tools import register_all
from mcp_sessions.tools._base import App

INSTRUCTIONS = """\
A workspace shared with other agents. Start with list_sessions or get_session; store
transcripts with add_chunk, knowledge with remember, documents with save_artifact;
hand work over with create_task / claim_task; find anything with search."""


def create_server(settings: Settings) -> MCPServer:
    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[App]:
        # The pool lives exactly as long as the server: no module-level connections.
        async with open_pool(settings) as pool:
            yield App(pool=pool, settings=settings)

    mcp = MCPServer(
        name="mcp-sessions",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level=settings.log_level.upper(),
    )
    register_all(mcp)
    return mcp

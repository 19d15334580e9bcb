"""The MCP tools, one module per domain. Tools are thin: validate, call the store
inside one transaction, shape the result."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from mcp_sessions.tools import (
    agents, artifacts, chunks, coordination, events, memories, messages, schedules, search, sessions, tasks,
)
from mcp_sessions.tools._schema import slim_schemas
from mcp_sessions.tools.profiles import resolve

DOMAINS = (sessions, chunks, memories, tasks, artifacts, agents, search, events, schedules, messages, coordination)


def register_all(mcp: MCPServer, tools: str = "all") -> None:
    """Every tool, or those of a profile spec (MCP_SESSIONS_TOOLS, tools/profiles.py)."""
    for domain in DOMAINS:
        domain.register(mcp)
    chosen = resolve(tools)
    if chosen is not None:
        for tool in list(mcp._tool_manager.list_tools()):
            if tool.name not in chosen:
                mcp.remove_tool(tool.name)
    slim_schemas(mcp)

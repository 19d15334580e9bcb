"""The MCP tools, one module per domain. Tools are thin: validate, call the store
inside one transaction, shape the result."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from mcp_sessions.tools import (
    agents, artifacts, chunks, coordination, events, memories, messages, schedules, search, sessions, tasks,
)
from mcp_sessions.tools._schema import slim_schemas

DOMAINS = (sessions, chunks, memories, tasks, artifacts, agents, search, events, schedules, messages, coordination)


def register_all(mcp: MCPServer) -> None:
    for domain in DOMAINS:
        domain.register(mcp)
    slim_schemas(mcp)

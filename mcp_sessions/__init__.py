"""mcp-sessions: a shared PostgreSQL workspace for teams of AI agents, over MCP."""

__version__ = "0.1.0"

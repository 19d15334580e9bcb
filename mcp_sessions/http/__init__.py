"""The streamable HTTP transport: per-agent bearer tokens, /healthz and /metrics around
the same MCP server the stdio transport runs."""

from mcp_sessions.http.app import check_bind, create_http_app

__all__ = ["check_bind", "create_http_app"]

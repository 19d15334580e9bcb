"""The webhook relay: signed events from outside (GitHub, or anything that signs with
HMAC) become tasks. config.py reads MCP_SESSIONS_HOOKS and applies rules; verify.py
checks signatures; relay.py is the HTTP route."""

from mcp_sessions.hooks.config import Hook, HooksConfigError, load, match

__all__ = ["Hook", "HooksConfigError", "load", "match"]

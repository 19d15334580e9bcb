"""`mcp-sessions ui`: serve the dashboard alone (loopback by default)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ui", help="serve the dashboard (/ui/) alone, on loopback by default")
    p.add_argument("--host", help="address to bind (default 127.0.0.1, MCP_SESSIONS_HTTP_HOST)")
    p.add_argument("--port", type=int, default=8766, help="port (default 8766; 0 picks a free one)")
    p.set_defaults(func=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    from mcp_sessions.cli.common import load_settings, setup_logging
    from mcp_sessions.cli.serve import serve_http_app
    from mcp_sessions.ui.standalone import create_ui_app

    settings = load_settings()
    setup_logging(settings)
    host = args.host or settings.http_host
    return serve_http_app(settings, host, args.port, create_ui_app, what="the dashboard", path="/ui/")

"""`mcp-sessions serve`: the MCP server on stdio."""

from __future__ import annotations

import argparse

from mcp_sessions.cli.common import load_settings, setup_logging


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the MCP server on stdio (what MCP clients start)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    setup_logging(settings)
    from mcp_sessions.server import create_server

    create_server(settings).run("stdio")
    return 0

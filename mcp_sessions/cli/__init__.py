"""The `mcp-sessions` command. Each subcommand lives in its own module with an
`add_parser(sub)` function; COMMANDS lists them in the order help shows them."""

from __future__ import annotations

import argparse

from mcp_sessions import __version__
from mcp_sessions.cli import (
    agents, archive, db, dispatch, hooks, import_json, reservations, schedules, search, serve, sessions, tasks,
    tokens, ui, watch,
)

COMMANDS = [serve, db, sessions, tasks, agents, search, watch, reservations, archive, import_json, tokens, schedules,
            dispatch, hooks, ui]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-sessions",
        description="A shared PostgreSQL workspace for teams of AI agents, served over MCP.",
    )
    parser.add_argument("--version", action="version", version=f"mcp-sessions {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args)

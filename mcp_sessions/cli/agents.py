"""`mcp-sessions agents list`: the agent registry."""

from __future__ import annotations

import argparse
from typing import Any

from mcp_sessions.cli.output import (
    add_json_flag,
    print_json,
    print_table,
    with_connection,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    agents = sub.add_parser("agents", help="the agent registry")
    a_sub = agents.add_subparsers(dest="agents_command", metavar="AGENTS_COMMAND")
    p = a_sub.add_parser("list", help="every registered agent, with status and last sign of life")
    p.add_argument("--status", choices=["available", "busy", "offline", "error"])
    add_json_flag(p)
    p.set_defaults(func=cmd_list)
    agents.set_defaults(func=lambda a: (agents.print_help(), 0)[1])


def cmd_list(args: argparse.Namespace) -> int:
    from mcp_sessions.store import agents

    async def work(conn: Any) -> int:
        found = await agents.list_all(conn, status=args.status)
        if args.json:
            print_json(found)
            return 0
        print_table(
            ["name", "type", "status", "alive", "command", "capabilities", "last seen"],
            [[a.name, a.type, a.status, "yes" if getattr(a, "alive", False) else "no", a.command,
              ", ".join(map(str, a.capabilities)), a.last_seen or "never"]
             for a in found.agents],
            empty="no agents",
        )
        return 0

    return with_connection(work)

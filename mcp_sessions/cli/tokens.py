"""`mcp-sessions tokens ...`: the per-agent bearer tokens of the HTTP transport."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mcp_sessions.cli.output import with_connection


def add_parser(sub: argparse._SubParsersAction) -> None:
    tokens = sub.add_parser("tokens", help="bearer tokens for the HTTP transport: create, list, revoke")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", metavar="TOKENS_COMMAND")
    p = tokens_sub.add_parser("create", help="make a token for an agent and print it (only once)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--agent", help="the agent the token authenticates as")
    who.add_argument("--operator", metavar="NAME", help="a person who signs in to the dashboard (/ui/) with it")
    p.set_defaults(func=cmd_create)
    p = tokens_sub.add_parser("list", help="list tokens (never the tokens themselves)")
    p.add_argument("--agent", help="only this agent's tokens")
    p.add_argument("--all", action="store_true", help="include revoked tokens")
    p.set_defaults(func=cmd_list)
    p = tokens_sub.add_parser("revoke", help="revoke one token by id, or every token of an agent")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("token_id", nargs="?", metavar="ID", help="the token id `tokens list` shows")
    which.add_argument("--agent", help="revoke all of this agent's tokens")
    p.set_defaults(func=cmd_revoke)
    tokens.set_defaults(func=lambda a: (tokens.print_help(), 0)[1])


def cmd_create(args: argparse.Namespace) -> int:
    from mcp_sessions.store import tokens

    async def work(conn: Any) -> int:
        operator = args.operator is not None
        info, token = await tokens.create(conn, args.operator if operator else args.agent, operator=operator)
        print(token)
        whom = "operator" if operator else "agent"
        print(f"token {info.id} for {whom} {info.agent!r}: shown once, only its hash is stored", file=sys.stderr)
        return 0

    return with_connection(work)


def cmd_list(args: argparse.Namespace) -> int:
    from mcp_sessions.store import tokens

    async def work(conn: Any) -> int:
        rows = await tokens.list_tokens(conn, agent=args.agent, include_revoked=args.all)
        print(f"{'ID':<14}{'AGENT':<24}{'CREATED':<22}{'LAST USED':<22}STATUS")
        for t in rows:
            status = f"revoked {_when(t.revoked_at)}" if t.revoked_at else "active"
            if t.operator:
                status += " (operator)"
            print(f"{t.id:<14}{t.agent:<24}{_when(t.created):<22}{_when(t.last_used):<22}{status}")
        return 0

    return with_connection(work)


def cmd_revoke(args: argparse.Namespace) -> int:
    from mcp_sessions.store import tokens

    async def work(conn: Any) -> int:
        if args.agent:
            revoked = await tokens.revoke_agent(conn, args.agent)
            print(f"revoked {len(revoked)} token(s) of agent {args.agent!r}: {', '.join(t.id for t in revoked) or '-'}")
        else:
            info = await tokens.revoke(conn, args.token_id)
            print(f"revoked token {info.id} of agent {info.agent!r}")
        return 0

    return with_connection(work)


def _when(at: Any) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S") if at else "-"

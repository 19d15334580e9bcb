"""`mcp-sessions reservations check | list`: path reservations from a shell, and a git
pre-commit hook that refuses to commit files another agent has reserved."""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from mcp_sessions.cli.output import add_json_flag, print_json, print_table, with_connection


def add_parser(sub: argparse._SubParsersAction) -> None:
    res = sub.add_parser("reservations", help="check paths against reservations (a git pre-commit hook), list them")
    r_sub = res.add_subparsers(dest="reservations_command", metavar="RESERVATIONS_COMMAND")
    p = r_sub.add_parser(
        "check", help="exit 1 and list conflicts if another agent has reserved any of these paths",
        description="Exit 1, listing each conflict, if another agent holds an exclusive reservation of any "
        "path (or a shared one you don't share). Paths are repository-relative; default: the files staged in git.",
    )
    p.add_argument("--session", dest="session_id", required=True, help="the session whose reservations count")
    p.add_argument("--agent", help="you: your own reservations never conflict (default: MCP_SESSIONS_AGENT)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files to check (default: git diff --cached --name-only)")
    add_json_flag(p)
    p.set_defaults(func=cmd_check)
    p = r_sub.add_parser("list", help="the active reservations of a session")
    p.add_argument("--session", dest="session_id", required=True, help="the session")
    add_json_flag(p)
    p.set_defaults(func=cmd_list)
    res.set_defaults(func=lambda a: (res.print_help(), 0)[1])


def staged_files() -> list[str]:
    out = subprocess.run(["git", "diff", "--cached", "--name-only", "-z"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"mcp-sessions: cannot list the files staged in git: {out.stderr.strip() or out.returncode}")
    return [p for p in out.stdout.split("\0") if p]


def cmd_check(args: argparse.Namespace) -> int:
    from mcp_sessions.cli.common import load_settings
    from mcp_sessions.globs import normalize
    from mcp_sessions.store import reservations, sessions

    agent = args.agent or load_settings().agent
    files = args.paths or staged_files()

    async def work(conn: Any) -> int:
        await sessions.ensure_exists(conn, args.session_id)
        found = reservations.check(await reservations.active(conn, args.session_id), agent,
                                   [normalize(f) for f in files])
        if args.json:
            print_json({"agent": agent, "checked": len(files),
                        "conflicts": [{"path": f, "reservation": r.model_dump(mode="json")} for f, r in found]})
        elif found:
            print(f"{len(found)} reserved by another agent (checked as {agent}):", file=sys.stderr)
            for f, r in found:
                print(f"  {f}: {reservations.describe(r)}", file=sys.stderr)
        return 1 if found else 0

    return with_connection(work, migrate=False)


def cmd_list(args: argparse.Namespace) -> int:
    from mcp_sessions.store import reservations, sessions

    async def work(conn: Any) -> int:
        await sessions.ensure_exists(conn, args.session_id)
        held = await reservations.active(conn, args.session_id)
        if args.json:
            print_json({"reservations": [r.model_dump(mode="json") for r in held]})
            return 0
        print_table(["id", "agent", "paths", "kind", "until", "reason"],
                    [[r.id, r.agent, ", ".join(r.paths), "exclusive" if r.exclusive else "shared", r.expires_at,
                      r.reason] for r in held], empty="no active reservations")
        return 0

    return with_connection(work, migrate=False)

"""`mcp-sessions hooks test NAME --payload FILE [--event E]`: the task a webhook payload
would create (with the hooks file of MCP_SESSIONS_HOOKS), without creating it."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    hooks = sub.add_parser("hooks", help="the webhook relay (MCP_SESSIONS_HOOKS): try a payload against a hook")
    h_sub = hooks.add_subparsers(dest="hooks_command", metavar="HOOKS_COMMAND")
    p = h_sub.add_parser("test", help="show the task a payload would create, without creating it")
    p.add_argument("name", help="the hook (its [hooks.NAME] table)")
    p.add_argument("--payload", required=True, metavar="FILE", help="the JSON body ('-': stdin)")
    p.add_argument("--event", help="the event header's value (X-GitHub-Event for github hooks)")
    p.add_argument("--config", metavar="FILE", help="the hooks file (default: MCP_SESSIONS_HOOKS)")
    p.set_defaults(func=cmd_test)
    hooks.set_defaults(func=lambda a: (hooks.print_help(), 0)[1])


def cmd_test(args: argparse.Namespace) -> int:
    from mcp_sessions.cli.common import load_settings
    from mcp_sessions.cli.output import print_error
    from mcp_sessions.errors import SessionsError
    from mcp_sessions.hooks import load, match
    from mcp_sessions.hooks.config import check_payload

    path = args.config or load_settings().hooks
    if path is None:
        print("mcp-sessions: no hooks file: set MCP_SESSIONS_HOOKS or pass --config", file=sys.stderr)
        return 2
    try:
        hooks = load(path, require_secrets=False)  # testing a payload needs no secret
        if args.name not in hooks:
            known = ", ".join(sorted(hooks)) or "none"
            print(f"mcp-sessions: no hook named {args.name!r} in {path} (hooks: {known})", file=sys.stderr)
            return 1
        body = sys.stdin.buffer.read() if args.payload == "-" else open(args.payload, "rb").read()
        found = match(args.name, hooks[args.name], args.event, check_payload(body), "(test)")
    except OSError as exc:
        print(f"mcp-sessions: cannot read {args.payload}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except SessionsError as exc:
        print_error(exc)
        return 1
    if isinstance(found, str):
        print(json.dumps({"accepted": False, "event": args.event, "reason": found}, indent=2))
        return 1
    print(json.dumps({"accepted": True, "task": found.model_dump()}, indent=2, ensure_ascii=False))
    return 0

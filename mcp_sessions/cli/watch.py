"""`mcp-sessions watch [--session ID] [--kinds K ...]`: follow the event feed, like tail -f."""

from __future__ import annotations

import argparse
from typing import Any

from mcp_sessions.cli.output import add_json_flag, positive_int, print_error


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("watch", help="follow the event feed of one session or all, like tail -f")
    p.add_argument("--session", dest="session_id", help="only this session's events")
    p.add_argument("--kinds", nargs="+", metavar="KIND", help="only these kinds (task.completed, or a prefix: task.*)")
    p.add_argument("--after", help="start after this cursor ('0': the oldest kept; default: from now on)")
    p.add_argument("--once", action="store_true", help="print what is there and exit instead of following")
    p.add_argument("--limit", type=positive_int, default=500, help="with --once: at most this many (default 500)")
    add_json_flag(p)
    p.set_defaults(func=cmd_watch)


def _line(event: Any) -> str:
    at = event.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{at}  {event.session_id}  {event.kind:<20} {event.agent or '-':<14} {event.summary}"


def cmd_watch(args: argparse.Namespace) -> int:
    from mcp_sessions.cli.common import load_settings, run, setup_logging
    from mcp_sessions.db import open_pool
    from mcp_sessions.errors import SessionsError
    from mcp_sessions.store import events
    from mcp_sessions.store.errors import translate_errors
    from mcp_sessions.store.event_waiter import listening

    settings = load_settings()
    setup_logging(settings)

    def show(page: Any) -> None:
        for event in page.events:
            print(event.model_dump_json() if args.json else _line(event), flush=True)

    async def go() -> int:
        kinds = events.expand_kinds(args.kinds)
        with translate_errors():
            async with open_pool(settings) as pool:
                async with pool.acquire() as conn:
                    position = events.parse_cursor(args.after) if args.after else await events.now(conn)

                async def read() -> events.Read:
                    async with pool.acquire() as conn:
                        return await events.read(conn, position, session_id=args.session_id, kinds=kinds,
                                                 limit=args.limit if args.once else 500,
                                                 retention_days=settings.event_retention_days)

                if args.once:
                    show((await read()).page)
                    return 0
                # The event waiter is started too: it renews the registration that NOTIFYs
                # this process (it lapses after a minute otherwise, leaving the 5 s poll).
                async with listening(pool, settings) as (_, waiter):
                    while True:
                        page = await waiter.wait(read, args.session_id or "*", 60)
                        show(page)
                        position = events.parse_cursor(page.next_after)

    try:
        return run(go())
    except SessionsError as exc:
        print_error(exc)
        return 1
    except KeyboardInterrupt:
        return 130

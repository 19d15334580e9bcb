"""`mcp-sessions search QUERY`: the same ranked full-text search the `search` tool runs."""

from __future__ import annotations

import argparse
from typing import Any

from mcp_sessions.cli.output import (
    add_json_flag,
    positive_int,
    print_json,
    print_table,
    with_connection,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="full-text search over chunks, memories and artifacts")
    p.add_argument("query", metavar="QUERY", help='web-search syntax: words, "a phrase", -excluded, or')
    p.add_argument("--session", dest="session_id", help="only this session")
    p.add_argument("--kind", dest="kinds", action="append", choices=["chunk", "memory", "artifact"],
                   help="only this kind (repeat for several)")
    p.add_argument("--limit", type=positive_int, default=20, help="at most this many hits (default 20)")
    add_json_flag(p)
    p.set_defaults(func=cmd_search)


def cmd_search(args: argparse.Namespace) -> int:
    from mcp_sessions.store import search

    async def work(conn: Any) -> int:
        results = await search.search(
            conn, query=args.query, session_id=args.session_id, kinds=args.kinds, limit=min(args.limit, 200)
        )
        if args.json:
            print_json(results)
            return 0
        print_table(
            ["kind", "session", "id", "title", "rank", "snippet"],
            [[h.kind, h.session_id, h.id, h.title, f"{h.rank:.3f}", h.snippet] for h in results.hits],
            empty="no matches",
        )
        return 0

    return with_connection(work)

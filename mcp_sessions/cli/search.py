"""`mcp-sessions search QUERY [filters]`: the same ranked search the `search` tool runs
(store.search.search, one search path), with the same filters."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import Any

from mcp_sessions.cli.output import MAX_CELL, add_json_flag, positive_int, print_json, print_table, with_connection

PAGE = 100  # the tool's largest page


def around_match(snippet: str, width: int = MAX_CELL) -> str:
    """The snippet cut to `width` characters around its first **match** (a table cell
    cut from the start lost the match whenever it was past the first 48 characters)."""
    text = " ".join(snippet.split())
    if len(text) <= width:
        return text
    start = text.find("**")
    end = text.find("**", start + 2) + 2 if start >= 0 else 0
    if start < 0 or end - start > width - 2:
        return text[: width - 1] + "…"
    # some context before the match, the rest after it
    begin = max(0, min(start - (width - (end - start)) // 3, len(text) - (width - 1)))
    prefix = "…" if begin > 0 else ""
    window = text[begin: begin + width - len(prefix)]
    if begin + len(window) < len(text):
        window = window[:-1] + "…"
    return prefix + window


def _when(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or timestamp") from None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="full-text search over chunks, memories and artifacts")
    p.add_argument("query", metavar="QUERY", help='words, "a phrase", -excluded, OR')
    p.add_argument("--session", dest="session_id", help="only this session")
    p.add_argument("--kind", dest="kinds", action="append", choices=["chunk", "memory", "artifact", "message"],
                   help="only this kind (repeat for several)")
    p.add_argument("--memory-type", dest="memory_types", action="append", metavar="TYPE",
                   choices=["idea", "decision", "question", "action_item", "context", "preference", "fact", "risk"],
                   help="only memories of this type (repeatable)")
    p.add_argument("--tag", dest="tags", action="append", metavar="TAG", help="only memories with this tag (repeatable)")
    p.add_argument("--all-tags", action="store_true", help="memories must carry every --tag (default: any)")
    p.add_argument("--artifact-type", dest="artifact_types", action="append", metavar="TYPE",
                   choices=["code", "document", "research", "prd", "report"], help="only artifacts of this type")
    p.add_argument("--by", dest="created_by", metavar="AGENT", help="only what this agent wrote")
    p.add_argument("--after", dest="created_after", type=_when, metavar="WHEN", help="created at or after (ISO 8601)")
    p.add_argument("--before", dest="created_before", type=_when, metavar="WHEN", help="created before (ISO 8601)")
    p.add_argument("--mode", choices=["auto", "fulltext", "fuzzy"], default="auto",
                   help="auto (default): fuzzy when full text finds nothing")
    p.add_argument("--history", action="store_true",
                   help="also search older artifact versions (default: the latest of each name)")
    p.add_argument("--limit", type=positive_int, default=20, help="at most this many hits (default 20)")
    add_json_flag(p)
    p.set_defaults(func=cmd_search)


def cmd_search(args: argparse.Namespace) -> int:
    from mcp_sessions.store import search

    async def work(conn: Any) -> int:
        hits: list[Any] = []
        cursor, mode = None, args.mode
        while len(hits) < args.limit:
            results = await search.search(
                conn, query=args.query, session_id=args.session_id, kinds=args.kinds,
                limit=min(PAGE, args.limit - len(hits)), memory_types=args.memory_types, tags=args.tags,
                tags_match="all" if args.all_tags else "any", created_by=args.created_by,
                created_after=args.created_after, created_before=args.created_before,
                artifact_types=args.artifact_types, mode=mode, cursor=cursor, history=args.history,
            )
            hits += results.hits
            cursor, mode = results.next_cursor, results.mode
            if cursor is None:
                break
        if args.json:
            print_json({"hits": [h.model_dump(mode="json") for h in hits], "mode": mode})
            return 0
        print_table(
            ["kind", "session", "id", "title", "rank", "snippet"],
            [[h.kind, h.session_id, h.id, h.title, f"{h.rank:.3f}", around_match(h.snippet)] for h in hits],
            empty="no matches",
        )
        if hits and mode == "fuzzy":
            print("(no exact matches: these are fuzzy)")
        return 0

    return with_connection(work)

"""`mcp-sessions sessions list | show ID`: what the agents have been doing."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mcp_sessions.cli.output import (
    add_json_flag,
    counted,
    heading,
    positive_int,
    print_fields,
    print_json,
    print_table,
    with_connection,
)

PAGE = 200


def add_parser(sub: argparse._SubParsersAction) -> None:
    sessions = sub.add_parser("sessions", help="list sessions, show one with what it holds")
    s_sub = sessions.add_subparsers(dest="sessions_command", metavar="SESSIONS_COMMAND")
    p = s_sub.add_parser("list", help="sessions, most recently active first")
    p.add_argument("--status", choices=["active", "paused", "completed"])
    p.add_argument("--participant", help="only sessions this agent takes part in")
    p.add_argument("--limit", type=positive_int, default=50, help="at most this many (default 50)")
    add_json_flag(p)
    p.set_defaults(func=cmd_list)
    p = s_sub.add_parser("show", help="a session: summary, participants, recent chunks, memories, tasks, artifacts")
    p.add_argument("session_id", metavar="ID")
    p.add_argument("--chunks", type=positive_int, default=10, help="how many recent chunks to show (default 10)")
    p.add_argument("--limit", type=positive_int, default=100, help="at most this many memories, tasks, artifacts each (default 100)")
    add_json_flag(p)
    p.set_defaults(func=cmd_show)
    sessions.set_defaults(func=lambda a: (sessions.print_help(), 0)[1])


async def collect(fetch_page: Any, attr: str, limit: int) -> list[Any]:
    """Page through a store listing (keyset pages) until limit items; says on stderr
    when there were more."""
    items: list[Any] = []
    cursor = None
    while len(items) < limit:
        page = await fetch_page(min(PAGE, limit - len(items)), cursor)
        items += getattr(page, attr)
        cursor = page.next_cursor
        if cursor is None:
            break
    if cursor is not None:
        print(f"(showing the first {limit} {attr}; --limit shows more)", file=sys.stderr)
    return items[:limit]


def cmd_list(args: argparse.Namespace) -> int:
    from mcp_sessions.store import sessions

    async def work(conn: Any) -> int:
        found = await collect(
            lambda limit, cursor: sessions.list_page(
                conn, status=args.status, participant=args.participant, limit=limit, cursor=cursor
            ),
            "sessions", args.limit,
        )
        if args.json:
            print_json({"sessions": [s.model_dump(mode="json") for s in found]})
            return 0
        print_table(
            ["id", "title", "status", "participants", "chunks", "memories", "tasks", "artifacts", "last activity"],
            [[s.id, s.title, s.status, ", ".join(s.participants), s.counts.chunks, s.counts.memories,
              s.counts.tasks, s.counts.artifacts, s.last_activity] for s in found],
            empty="no sessions",
        )
        return 0

    return with_connection(work)


def cmd_show(args: argparse.Namespace) -> int:
    from mcp_sessions.store import artifacts, memories, overview, sessions, tasks

    async def work(conn: Any) -> int:
        sid = args.session_id
        summary = await sessions.get(conn, sid)
        chunks = await overview.recent_chunks(conn, sid, args.chunks)
        mems = await collect(
            lambda limit, cursor: memories.list_page(conn, sid, type=None, tags=None, limit=limit, cursor=cursor),
            "memories", args.limit,
        )
        task_list = await collect(
            lambda limit, cursor: tasks.list_page(
                conn, session_id=sid, status=None, agent_name=None, limit=limit, cursor=cursor
            ),
            "tasks", args.limit,
        )
        arts = await collect(
            lambda limit, cursor: artifacts.list_page(conn, sid, type=None, name=None, limit=limit, cursor=cursor),
            "artifacts", args.limit,
        )
        if args.json:
            print_json({
                "session": summary.model_dump(mode="json"),
                "recent_chunks": [c.model_dump(mode="json") for c in chunks],
                "memories": [m.model_dump(mode="json") for m in mems],
                "tasks": [t.model_dump(mode="json") for t in task_list],
                "artifacts": [a.model_dump(mode="json") for a in arts],
            })
            return 0
        c = summary.counts
        print_fields([
            ("session", summary.id), ("title", summary.title), ("status", summary.status),
            ("participants", ", ".join(summary.participants) or "-"), ("created by", summary.created_by),
            ("created", summary.created), ("last activity", summary.last_activity),
            ("metadata", summary.metadata or "-"),
            ("holds", ", ".join(counted(n, what) for n, what in (
                (c.chunks, "chunk"), (c.memories, "memory"), (c.tasks, "task"), (c.artifacts, "artifact")))),
        ])
        heading(f"Recent chunks ({len(chunks)} of {c.chunks})")
        print_table(["chunk_id", "format", "size", "created by", "created"],
                    [[x.chunk_id, x.format, x.size, x.created_by, x.created] for x in chunks])
        heading(f"Memories by type ({c.memories})")
        by_type = sorted(mems, key=lambda m: (m.type, m.key))
        print_table(["type", "key", "content", "tags", "v", "updated by"],
                    [[m.type, m.key, m.content, ",".join(m.tags), m.version, m.updated_by] for m in by_type])
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(c.tasks_by_status.items())) or "none"
        heading(f"Tasks by status: {statuses}")
        by_status = sorted(task_list, key=lambda t: (t.status, -t.priority, t.created))
        print_table(["status", "id", "type", "for", "priority", "attempts", "title", "claimed by"],
                    [[t.status, t.id, t.task_type, t.agent_name or "anyone", t.priority, t.attempts, t.title,
                      t.claimed_by] for t in by_status])
        heading(f"Artifacts ({counted(len(arts), 'name')}, latest versions)")
        print_table(["name", "version", "type", "format", "size", "created by", "id"],
                    [[a.name, a.version, a.type, a.format, a.size, a.created_by, a.id] for a in arts])
        return 0

    return with_connection(work)

"""`mcp-sessions schedules list|delete`: recurring tasks (created with the schedule_task tool)."""

from __future__ import annotations

import argparse
from typing import Any

from mcp_sessions.cli.output import add_json_flag, print_json, print_table, with_connection


def add_parser(sub: argparse._SubParsersAction) -> None:
    schedules = sub.add_parser("schedules", help="recurring tasks: list them, delete one")
    s_sub = schedules.add_subparsers(dest="schedules_command", metavar="SCHEDULES_COMMAND")
    p = s_sub.add_parser("list", help="every schedule, with its cron and next due time")
    p.add_argument("--session", dest="session_id", help="only this session's schedules")
    add_json_flag(p)
    p.set_defaults(func=cmd_list)
    p = s_sub.add_parser("delete", help="stop a schedule (the tasks it created stay)")
    p.add_argument("schedule_id")
    add_json_flag(p)
    p.set_defaults(func=cmd_delete)
    schedules.set_defaults(func=lambda a: (schedules.print_help(), 0)[1])


def cmd_list(args: argparse.Namespace) -> int:
    from mcp_sessions.store import schedules

    async def work(conn: Any) -> int:
        found = await schedules.list_all(conn, args.session_id)
        if args.json:
            print_json(found)
            return 0
        print_table(
            ["id", "session", "cron", "tz", "type", "agent", "title", "next due", "last task"],
            [[s.id, s.session_id, s.cron, s.timezone, s.task_type, s.agent_name or "any", s.title,
              s.next_due, s.last_task_id] for s in found.schedules],
            empty="no schedules",
        )
        return 0

    return with_connection(work)


def cmd_delete(args: argparse.Namespace) -> int:
    from mcp_sessions.store import schedules

    async def work(conn: Any) -> int:
        gone = await schedules.delete(conn, args.schedule_id)
        if args.json:
            print_json(gone)
        else:
            print(f"deleted schedule {gone.id} ({gone.cron} in {gone.session_id})")
        return 0

    return with_connection(work)

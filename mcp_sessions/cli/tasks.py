"""`mcp-sessions tasks list | show ID | requeue ID | cancel ID`: the queue, by hand."""

from __future__ import annotations

import argparse
from typing import Any

from mcp_sessions.cli.output import (
    add_json_flag,
    heading,
    operator_name,
    positive_int,
    print_fields,
    print_json,
    print_table,
    with_connection,
)
from mcp_sessions.cli.sessions import collect

STATUSES = ["pending", "claimed", "running", "completed", "failed", "cancelled"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    tasks = sub.add_parser("tasks", help="list, show, requeue, cancel tasks")
    t_sub = tasks.add_subparsers(dest="tasks_command", metavar="TASKS_COMMAND")
    p = t_sub.add_parser("list", help="tasks, oldest first")
    p.add_argument("--session", dest="session_id", help="only this session's tasks")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--agent", dest="agent_name", help="only tasks meant for this agent")
    p.add_argument("--limit", type=positive_int, default=100, help="at most this many (default 100)")
    add_json_flag(p)
    p.set_defaults(func=cmd_list)
    p = t_sub.add_parser("show", help="a task with its dependencies and history")
    p.add_argument("task_id", metavar="ID")
    add_json_flag(p)
    p.set_defaults(func=cmd_show)
    p = t_sub.add_parser("requeue", help="put a failed, cancelled or stuck task back to pending, with fresh attempts")
    p.add_argument("task_id", metavar="ID")
    p.add_argument("--agent", help="who the history records (default: MCP_SESSIONS_AGENT, else 'operator')")
    add_json_flag(p)
    p.set_defaults(func=cmd_requeue)
    p = t_sub.add_parser("cancel", help="cancel a pending, claimed or running task (its dependents fail)")
    p.add_argument("task_id", metavar="ID")
    p.add_argument("--reason", default="cancelled by an operator", help="recorded as the task's error")
    p.add_argument("--agent", help="who the history records (default: MCP_SESSIONS_AGENT, else 'operator')")
    add_json_flag(p)
    p.set_defaults(func=cmd_cancel)
    tasks.set_defaults(func=lambda a: (tasks.print_help(), 0)[1])


def cmd_list(args: argparse.Namespace) -> int:
    from mcp_sessions.store import tasks

    async def work(conn: Any) -> int:
        found = await collect(
            lambda limit, cursor: tasks.list_page(
                conn, session_id=args.session_id, status=args.status, agent_name=args.agent_name,
                limit=limit, cursor=cursor,
            ),
            "tasks", args.limit,
        )
        if args.json:
            print_json({"tasks": [t.model_dump(mode="json") for t in found]})
            return 0
        print_table(
            ["id", "session", "status", "type", "for", "priority", "attempts", "title", "claimed by", "created"],
            [[t.id, t.session_id, t.status, t.task_type, t.agent_name or "anyone", t.priority,
              f"{t.attempts}/{t.max_attempts}", t.title, t.claimed_by, t.created] for t in found],
            empty="no tasks",
        )
        return 0

    return with_connection(work)


def _show(task: Any) -> None:
    print_fields([
        ("task", task.id), ("session", task.session_id), ("title", task.title or "-"),
        ("type", task.task_type), ("status", task.status), ("for", task.agent_name or "anyone"),
        ("priority", task.priority), ("attempts", f"{task.attempts} of {task.max_attempts}"),
        ("claimed by", task.claimed_by), ("lease until", task.lease_expires_at), ("run after", task.run_after),
        ("input", task.input_data), ("output", task.output_data), ("error", task.error),
        ("created", f"{task.created:%Y-%m-%d %H:%M:%S} by {task.created_by}"), ("finished", task.finished_at),
    ])


def cmd_show(args: argparse.Namespace) -> int:
    from mcp_sessions.store import tasks

    async def work(conn: Any) -> int:
        detail = await tasks.get(conn, args.task_id)
        if args.json:
            print_json(detail)
            return 0
        _show(detail)
        print_fields([("depends on", ", ".join(detail.depends_on) or "-")])
        heading("History")
        print_table(["at", "event", "agent", "attempt", "detail"],
                    [[e.at, e.event, e.agent, e.attempt, e.detail] for e in detail.history])
        return 0

    return with_connection(work)


def _change(args: argparse.Namespace, verb: str) -> int:
    from mcp_sessions.store import tasks

    agent = operator_name(args.agent)

    async def work(conn: Any) -> int:
        async with conn.transaction():
            if verb == "cancel":
                task = await tasks.cancel(conn, args.task_id, args.reason, agent)
            else:
                task = await tasks.requeue(conn, args.task_id, agent)
        if args.json:
            print_json(task)
        else:
            print(f"task {task.id} is now {task.status} ({verb} recorded as {agent})")
        return 0

    return with_connection(work)


def cmd_requeue(args: argparse.Namespace) -> int:
    return _change(args, "requeue")


def cmd_cancel(args: argparse.Namespace) -> int:
    return _change(args, "cancel")

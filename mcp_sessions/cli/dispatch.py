"""`mcp-sessions dispatch --agent NAME ...`: run registered agents for their tasks
(mcp_sessions/dispatch does the work; this only parses and wires)."""

from __future__ import annotations

import argparse

from mcp_sessions.cli.output import positive_int, print_error

TASK_TYPES = ["code", "research", "document", "analysis"]


def _seconds(value: str) -> float:
    seconds = float(value)
    if not 0 < seconds <= 86400:
        raise argparse.ArgumentTypeError("must be between 0 and 86400 seconds")
    return seconds


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dispatch", help="run registered agents' commands for their tasks (a worker for the queue)")
    p.add_argument("--agent", dest="agents", action="append", required=True, metavar="NAME",
                   help="claim this agent's tasks and run its registered command (repeatable)")
    p.add_argument("--session", dest="session_id", help="only tasks of this session")
    p.add_argument("--types", nargs="+", choices=TASK_TYPES, metavar="T", help="only these task types")
    p.add_argument("--concurrency", type=positive_int, default=1, help="agents running at once, per agent (default 1)")
    p.add_argument("--lease", type=_seconds, default=300.0, help="lease seconds; heartbeats every third (default 300)")
    p.add_argument("--timeout", type=_seconds, help="stop an agent running longer than this and fail its task")
    p.add_argument("--grace", type=_seconds, default=10.0,
                   help="seconds between SIGTERM and SIGKILL, and given to running agents on shutdown (default 10)")
    p.add_argument("--cwd", help="working directory of the agents (default: this one)")
    p.set_defaults(func=cmd_dispatch)


def cmd_dispatch(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from mcp_sessions.cli.common import load_settings, setup_logging
    from mcp_sessions.db import open_pool
    from mcp_sessions.dispatch import Dispatcher, Options
    from mcp_sessions.errors import SessionsError
    from mcp_sessions.store.errors import translate_errors
    from mcp_sessions.store.event_waiter import listening

    settings = load_settings()
    setup_logging(settings)
    options = Options(
        agents=list(dict.fromkeys(args.agents)), session_id=args.session_id, task_types=args.types,
        concurrency=args.concurrency, lease=args.lease, timeout=args.timeout, grace=args.grace, cwd=args.cwd,
    )

    async def go() -> int:
        with translate_errors():
            async with open_pool(settings) as pool:  # applies pending migrations first
                async with listening(pool, settings) as (waiter, events):
                    dispatcher = Dispatcher(pool, waiter, events, options)
                    loop = asyncio.get_running_loop()
                    for sig in (signal.SIGTERM, signal.SIGINT):
                        loop.add_signal_handler(sig, dispatcher.stop)
                    await dispatcher.run()
        return 0

    try:
        return asyncio.run(go())
    except SessionsError as exc:
        print_error(exc)
        return 1

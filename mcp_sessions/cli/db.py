"""`mcp-sessions db ...`: the schema."""

from __future__ import annotations

import argparse
import sys

from mcp_sessions.cli.common import load_settings, run, setup_logging


def add_parser(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="schema: migrate, init-sql")
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND")
    p = db_sub.add_parser("migrate", help="apply pending migrations")
    p.set_defaults(func=cmd_migrate)
    p = db_sub.add_parser("init-sql", help="print the whole schema as one SQL script (database/init.sql)")
    p.set_defaults(func=cmd_init_sql)
    db.set_defaults(func=lambda a: (db.print_help(), 0)[1])


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    setup_logging(settings)
    from mcp_sessions import migrations
    from mcp_sessions.db import connect, resolve_dsn

    async def go() -> None:
        conn = await connect(await resolve_dsn(settings))
        try:
            applied = await migrations.migrate(conn)
            st = await migrations.status(conn)
        finally:
            await conn.close()
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "nothing (already current)"
        print(f"applied: {names}\nschema version: {st.current_version}")

    run(go())
    return 0


def cmd_init_sql(args: argparse.Namespace) -> int:
    from mcp_sessions.migrations import render_init_sql

    sys.stdout.write(render_init_sql())
    return 0

"""`mcp-sessions db ...`: the schema."""

from __future__ import annotations

import argparse
import sys

from mcp_sessions.cli import backup
from mcp_sessions.cli.common import load_settings, run, setup_logging


def add_parser(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="schema and backups: migrate, status, backup, restore, init-sql")
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND")
    p = db_sub.add_parser("migrate", help="apply pending migrations")
    p.set_defaults(func=cmd_migrate)
    p = db_sub.add_parser("status", help="schema version, pending migrations, row counts, database size")
    p.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    p.set_defaults(func=cmd_status)
    backup.add_parsers(db_sub)
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


def cmd_status(args: argparse.Namespace) -> int:
    """Read-only: reports pending migrations without applying them."""
    from mcp_sessions import migrations
    from mcp_sessions.cli.output import human_bytes, print_fields, print_json, print_table, with_connection
    from mcp_sessions.store import overview

    async def work(conn) -> int:
        st = await migrations.status(conn)
        size = await overview.database_size(conn)
        known = migrations.load_migrations()
        if args.json:
            print_json({
                "schema_version": st.current_version,
                "latest_version": max((m.version for m in known), default=0),
                "applied": st.applied,
                "pending": [f"{m.version:04d}_{m.name}" for m in st.pending],
                "database": size.database,
                "server_version": size.server_version,
                "database_bytes": size.bytes,
                "tables": {t.table: {"rows": t.rows, "bytes": t.bytes} for t in size.tables},
            })
            return 0
        pending = ", ".join(f"{m.version:04d}_{m.name}" for m in st.pending)
        print_fields([
            ("database", f"{size.database} (PostgreSQL {size.server_version})"),
            ("size", human_bytes(size.bytes)),
            ("schema version", str(st.current_version)),
            ("pending migrations", f"{pending} (run `mcp-sessions db migrate`)" if pending else "none"),
        ])
        print()
        print_table(["table", "rows", "size"], [[t.table, t.rows, human_bytes(t.bytes)] for t in size.tables],
                    empty="no tables yet")
        return 0

    return with_connection(work, migrate=False)


def cmd_init_sql(args: argparse.Namespace) -> int:
    from mcp_sessions.migrations import render_init_sql

    sys.stdout.write(render_init_sql())
    return 0

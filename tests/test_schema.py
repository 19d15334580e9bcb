"""Migrations: applied once, safely in parallel, immutable, and equal to database/init.sql."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg
import pytest

from mcp_sessions import migrations
from mcp_sessions.db import connect
from tests.conftest import REPO, fresh_database

CATALOG_QUERIES = {
    "columns": """SELECT table_name, column_name, data_type, is_nullable, column_default, generation_expression
                  FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2""",
    "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                      FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
    "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1",
    "functions": """SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(pg_get_functiondef(p.oid))
                    FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "triggers": """SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
                   WHERE NOT tgisinternal ORDER BY 1, 2""",
    "extensions": "SELECT extname FROM pg_extension ORDER BY 1",
    "migrations": "SELECT version, name, checksum FROM schema_migrations ORDER BY 1",
    "agents": "SELECT name, type, command, capabilities::text, status FROM agents ORDER BY 1",
}


async def catalog(dsn: str) -> dict[str, list[tuple]]:
    conn = await asyncpg.connect(dsn)
    try:
        return {name: [tuple(r) for r in await conn.fetch(q)] for name, q in CATALOG_QUERIES.items()}
    finally:
        await conn.close()


async def test_init_sql_matches_migrations(pg_server_dsn):
    """database/init.sql (for psql and docker compose) and the migrations build the same catalog."""
    init_sql = (REPO / "database" / "init.sql").read_text()
    assert init_sql == migrations.render_init_sql(), "database/init.sql is stale: run mcp-sessions db init-sql"
    async with fresh_database(pg_server_dsn, None) as via_migrations, fresh_database(pg_server_dsn, None) as via_init:
        conn = await connect(via_migrations)
        await migrations.migrate(conn)
        await conn.close()
        conn = await asyncpg.connect(via_init)
        await conn.execute(init_sql)
        await conn.close()
        a, b = await catalog(via_migrations), await catalog(via_init)
        for name in CATALOG_QUERIES:
            assert a[name] == b[name], f"{name} differ between migrations and init.sql"
        assert len(a["columns"]) > 50 and a["views"] and a["functions"]
        # and the server accepts a database made by init.sql: nothing pending
        conn = await connect(via_init)
        assert await migrations.migrate(conn) == []
        await conn.close()


async def test_migrate_is_idempotent_and_seeds_agents(empty_database_url):
    conn = await connect(empty_database_url)
    try:
        first = await migrations.migrate(conn)
        assert [m.version for m in first] == [m.version for m in migrations.load_migrations()]
        assert await migrations.migrate(conn) == []
        names = {r["name"] for r in await conn.fetch("SELECT name FROM agents")}
        assert {"claude_code", "codex", "gemini_cli", "researcher"} <= names
        status = await migrations.status(conn)
        assert status.pending == [] and status.current_version == first[-1].version
    finally:
        await conn.close()


async def test_changed_migration_is_refused(database_url):
    conn = await connect(database_url)
    try:
        await conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
        with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
            await migrations.migrate(conn)
        await conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'y')")
        await conn.execute("UPDATE schema_migrations SET checksum = $1 WHERE version = 1",
                           migrations.load_migrations()[0].checksum)
        with pytest.raises(migrations.MigrationError, match="newer release"):
            await migrations.migrate(conn)
    finally:
        await conn.close()


async def test_servers_starting_at_once_do_not_race(empty_database_url):
    """Four real processes migrate one empty database at the same moment: all succeed, each migration runs once."""
    env = {"DATABASE_URL": empty_database_url, "PATH": "/usr/bin:/bin"}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mcp_sessions", "db", "migrate", env=env, cwd=str(REPO),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    results = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], results
    outputs = [out.decode() for out, _ in results]
    assert sum("nothing (already current)" in o for o in outputs) == 3
    conn = await asyncpg.connect(empty_database_url)
    rows = await conn.fetch("SELECT version FROM schema_migrations")
    await conn.close()
    assert len(rows) == len(migrations.load_migrations())


def test_cli_without_arguments_prints_help():
    out = subprocess.run([sys.executable, "-m", "mcp_sessions"], capture_output=True, text=True, cwd=REPO, check=True)
    assert "serve" in out.stdout and "usage" in out.stdout


def test_unsupported_storage_backend_is_refused_clearly():
    out = subprocess.run(
        [sys.executable, "-m", "mcp_sessions", "serve"], capture_output=True, text=True, cwd=REPO,
        env={"STORAGE_BACKEND": "json", "PATH": "/usr/bin:/bin"}, timeout=30,
    )
    assert out.returncode == 2
    assert "STORAGE_BACKEND='json' is not supported" in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_a_server_that_cannot_start_says_why_in_one_line():
    out = subprocess.run(
        [sys.executable, "-m", "mcp_sessions", "serve"], capture_output=True, text=True, cwd=REPO, timeout=60,
        env={"DATABASE_URL": "postgresql://postgres:secret@127.0.0.1:1/nowhere", "PATH": "/usr/bin:/bin"},
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 1 and out.stdout == ""
    assert "cannot start" in out.stderr and "check DATABASE_URL" in out.stderr
    assert "Traceback" not in out.stderr and "secret" not in out.stderr


def test_an_unusable_embedded_data_dir_is_named():
    out = subprocess.run(
        [sys.executable, "-m", "mcp_sessions", "serve"], capture_output=True, text=True, cwd=REPO, timeout=60,
        env={"MCP_SESSIONS_DATA_DIR": "/proc/no-such-dir", "PATH": "/usr/bin:/bin"}, stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 1 and out.stdout == ""
    assert "MCP_SESSIONS_DATA_DIR=/proc/no-such-dir" in out.stderr and "Traceback" not in out.stderr

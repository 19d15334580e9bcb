"""The server rides out a PostgreSQL restart: calls in flight fail with a retryable
error and write nothing, calls after it succeed, and no server process restarts.

Runs on an embedded PostgreSQL of its own (never the shared servers under test)."""

from __future__ import annotations

from typing import Iterator

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from mcp_sessions import migrations
from mcp_sessions.db import connect
from mcp_sessions.store import tokens
from tests.conftest import call, call_error, stdio_client
from tests.http_support import http_client, http_server
from tests.resilience_support import OwnPostgres



@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    pg = OwnPostgres()
    try:
        yield pg
    finally:
        pg.close()


@pytest.mark.slow
async def test_restart_in_the_middle_of_a_stream_of_calls(own_postgres):
    dsn = own_postgres.dsn
    conn = await connect(dsn)
    await migrations.migrate(conn)
    _, token = await tokens.create(conn, "worker")
    await conn.close()

    results: list[tuple[str, str, bool, str]] = []  # (session_id, outcome, started_after_restart, message)
    restarted = anyio.Event()
    after_restart: dict[str, int] = {}

    async def stream(name: str, client) -> None:
        i = 0
        while after_restart.get(name, 0) < 5:
            sid, i = f"{name}-{i}", i + 1
            started_after = restarted.is_set()
            try:
                result = await client.call_tool("create_session", {"title": "stream", "session_id": sid})
                outcome, message = ("error", result.content[0].text) if result.is_error else ("ok", "")
            except MCPError as exc:  # refused before the tool ran (the token check needs the database too)
                outcome, message = "refused", str(exc)
            results.append((sid, outcome, started_after, message))
            if started_after:
                after_restart[name] = after_restart.get(name, 0) + 1
            if outcome != "ok":
                await anyio.sleep(0.05)  # the database is down: don't spin

    async with http_server(dsn, MCP_SESSIONS_POOL_MAX_SIZE="4") as server:
        async with (
            http_client(server.url, token) as h1, http_client(server.url, token) as h2,
            http_client(server.url, token) as h3, stdio_client(dsn, "stdio-worker") as s1,
        ):
            async with anyio.create_task_group() as tg:
                for name, client in (("h1", h1), ("h2", h2), ("h3", h3), ("s1", s1)):
                    tg.start_soon(stream, name, client)
                with anyio.fail_after(60):
                    while len(results) < 20:  # a stream is flowing from every client
                        await anyio.sleep(0.05)
                await anyio.to_thread.run_sync(own_postgres.restart)
                restarted.set()
        assert server.process.returncode is None, "the HTTP server died"

    conn = await connect(dsn)
    stored = {r["id"] for r in await conn.fetch("SELECT id FROM sessions")}
    await conn.close()
    for sid, outcome, _, message in results:
        if outcome == "ok":
            assert sid in stored, f"{sid} succeeded but is not stored"
        elif "may or may not have been applied" in message:
            pass  # the connection died during COMMIT: either outcome is right, and the error says so
        else:
            assert sid not in stored, f"{sid} failed ({message}) but was written"
            assert "[unavailable]" in message and "retry" in message, message
    # Every call that started after the restart succeeded, with the same server processes.
    after = [r for r in results if r[2]]
    assert len(after) >= 20 and all(r[1] == "ok" for r in after), [r for r in after if r[1] != "ok"]


async def _server_and_app(database_url: str, **settings: object):
    from mcp import Client

    from mcp_sessions.server import create_server
    from tests.conftest import make_settings

    apps = []
    client = Client(create_server(make_settings(database_url, **settings), on_start=apps.append))
    return client, apps


async def test_an_exhausted_pool_fails_after_a_bounded_wait(database_url):
    client, apps = await _server_and_app(database_url, pool_min_size=1, pool_max_size=1, pool_acquire_timeout=0.2)
    async with client:
        sid = (await call(client, "create_session", title="t"))["id"]
        async with apps[0].pool.acquire():  # someone holds the only connection
            message = await call_error(client, "get_session", session_id=sid)
            assert message.startswith("[unavailable]") and "no database connection became free within 0.2s" in message
            assert "safe to retry" in message
        assert (await call(client, "get_session", session_id=sid))["id"] == sid


async def test_a_statement_over_the_timeout_is_cancelled_and_rolled_back(database_url, conn):
    client, _ = await _server_and_app(database_url, statement_timeout=0.3)
    async with client:
        sid = (await call(client, "create_session", title="before"))["id"]
        async with conn.transaction():
            await conn.execute("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE", sid)  # block writers
            message = await call_error(client, "update_session", session_id=sid, title="after")
        assert message.startswith("[unavailable]") and "did not answer in time" in message
        assert (await call(client, "get_session", session_id=sid))["title"] == "before"
        assert (await call(client, "update_session", session_id=sid, title="after"))["title"] == "after"

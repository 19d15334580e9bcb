"""Failover: two HTTP servers on a multi-host DSN over a primary with a synchronous
streaming standby. The primary dies and the standby is promoted while 8 clients write:
every acknowledged write is on the new primary, calls in the gap fail [unavailable]
(retryable), and the same server processes serve again without a restart."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack

import anyio
import asyncpg
import pytest
from mcp.shared.exceptions import MCPError

from mcp_sessions import migrations
from mcp_sessions.db import connect
from mcp_sessions.store import tokens
from tests.conftest import TEST_PG, call
from tests.failover_support import StreamingPair, system_postgres_bin
from tests.http_support import http_client, http_server

CLIENTS = 8
AFTER = 5  # writes each client must get acknowledged after the promotion

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(system_postgres_bin() is None, reason="needs the system PostgreSQL's binaries"),
    # It builds its own pair of clusters whichever server the run tests: once per CI run is enough.
    pytest.mark.skipif(TEST_PG == "embedded", reason="runs in the local pass (its own clusters either way)"),
]


async def test_writes_survive_a_failover_and_the_servers_serve_again():
    pair = await anyio.to_thread.run_sync(StreamingPair)
    try:
        await pair.wait_synchronous()
        conn = await connect(pair.dsn)
        await migrations.migrate(conn)
        secrets = [(await tokens.create(conn, f"agent-{i}"))[1] for i in range(CLIENTS)]
        await conn.close()
        await _write_through_a_failover(pair, secrets)
    finally:
        await anyio.to_thread.run_sync(pair.close)


async def _write_through_a_failover(pair: StreamingPair, secrets: list[str]) -> None:
    acked: set[str] = set()
    failed: dict[str, str] = {}  # key -> message
    after: dict[int, int] = {i: 0 for i in range(CLIENTS)}
    state = {"failed_at": None, "promoted_at": None, "first_ok_after": None}
    stop = anyio.Event()
    async with AsyncExitStack() as stack:
        env = {"MCP_SESSIONS_CONNECT_TIMEOUT": "2", "MCP_SESSIONS_POOL_ACQUIRE_TIMEOUT": "3",
               "MCP_SESSIONS_STATEMENT_TIMEOUT": "5"}
        servers = [await stack.enter_async_context(http_server(pair.dsn, **env)) for _ in range(2)]
        first = await stack.enter_async_context(http_client(servers[0].url, secrets[0]))
        sid = (await call(first, "create_session", title="failover"))["id"]

        async def writer(i: int) -> None:
            mode = "auto" if i % 2 else "legacy"
            async with http_client(servers[i % 2].url, secrets[i], mode=mode) as client:
                n = 0
                while not stop.is_set():
                    key = f"c{i}-{n}"
                    n += 1
                    try:
                        result = await client.call_tool(
                            "remember", {"session_id": sid, "key": key, "type": "fact", "content": {"n": n}}
                        )
                        message = result.content[0].text if result.is_error else None
                    except MCPError as exc:  # refused before the tool (the token check): HTTP 503
                        message = str(exc)
                    if message is None:
                        acked.add(key)
                        if state["promoted_at"] is not None:
                            after[i] += 1
                            if state["first_ok_after"] is None:
                                state["first_ok_after"] = time.monotonic()
                    else:
                        failed[key] = message
                        await anyio.sleep(0.05)

        async with anyio.create_task_group() as tg:
            for i in range(CLIENTS):
                tg.start_soon(writer, i)
            # Every writer has had a write acknowledged (on a busy machine that takes a while).
            with anyio.fail_after(60):
                while len({k.split("-")[0] for k in acked}) < CLIENTS:
                    await anyio.sleep(0.1)
            state["failed_at"] = time.monotonic()
            await anyio.to_thread.run_sync(pair.fail_primary)
            await anyio.sleep(0.5)  # what a failover manager takes to decide, at the least
            await anyio.to_thread.run_sync(pair.promote_standby)
            state["promoted_at"] = time.monotonic()
            with anyio.fail_after(30):
                while min(after.values()) < AFTER:
                    await anyio.sleep(0.1)
            stop.set()

        # Each server's LISTEN connection (claim_task's wake-ups) found the new primary too.
        listening = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'"
        new_primary = await asyncpg.connect(pair.standby_dsn())
        try:
            with anyio.fail_after(15):
                while await new_primary.fetchval(listening) != len(servers):
                    await anyio.sleep(0.2)
        finally:
            await new_primary.close()

    new_primary = await asyncpg.connect(pair.standby_dsn())
    try:
        assert not await new_primary.fetchval("SELECT pg_is_in_recovery()")
        present = {r["key"] for r in await new_primary.fetch("SELECT key FROM memories WHERE session_id = $1", sid)}
    finally:
        await new_primary.close()
    gap = state["first_ok_after"] - state["failed_at"]
    print(f"\nfailover: {len(acked)} writes acknowledged, {len(failed)} failed; "
          f"first write {gap:.2f} s after the primary died ({state['first_ok_after'] - state['promoted_at']:.2f} s "
          "after the promotion)")
    assert acked - present == set(), "an acknowledged write is missing on the new primary"
    assert failed, "no call fell in the gap: the failover went unseen"
    assert all(m.startswith("[unavailable]") for m in failed.values()), set(failed.values())
    # A call that says nothing was written wrote nothing.
    unwritten = {k for k, m in failed.items() if "nothing was written" in m}
    assert unwritten & present == set()
    assert min(after.values()) >= AFTER  # both servers, every client: serving again

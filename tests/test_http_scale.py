"""Many HTTP server processes, any of which answers any request: three processes behind
HAProxy serving clients of both protocol modes, a task created through one process waking
a claimer waiting on another, and `serve --workers N` on one port."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from mcp_sessions.store import tokens
from tests.conftest import REPO, call
from tests.haproxy_support import haproxy, haproxy_binary
from tests.http_support import http_client, http_server, raw_post

WAIT = 4.0  # < the waiter's 5 s fallback poll: a claimer gets its task in time only if woken

INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "curl", "version": "1"}},
}


async def served_calls(base: str) -> int:
    """Tool calls this one process served, from its own /metrics."""
    async with httpx2.AsyncClient() as http:
        text = (await http.get(base + "/metrics")).text
    return sum(int(n) for n in re.findall(r'^mcp_sessions_tool_calls_total\{[^}]*\} (\d+)$', text, re.M))


async def listeners(conn) -> int:
    """The database's LISTEN connections: one per server process (its TaskWaiter)."""
    return await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'"
    )


async def until(predicate, timeout: float = 10.0) -> None:
    with anyio.fail_after(timeout):
        while not await predicate():
            await anyio.sleep(0.05)


# CI installs haproxy (.ci/run), so there a missing binary fails instead of skipping.
@pytest.mark.skipif(haproxy_binary() is None and not os.environ.get("CI"), reason="haproxy is not installed")
@pytest.mark.slow
async def test_three_processes_behind_haproxy_serve_both_protocol_modes(database_url, conn):
    secrets = {agent: (await tokens.create(conn, agent))[1] for agent in ("alice", "bob", "carol", "dave")}
    modes = {"alice": "auto", "bob": "legacy", "carol": "auto", "dave": "legacy"}
    async with AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(http_server(database_url)) for _ in range(3)]
        proxy = await stack.enter_async_context(haproxy([s.base for s in servers]))
        url = proxy + "/mcp"

        # The handshake is answered without an MCP session: nothing ties a client to a process.
        response = await raw_post(url, f"Bearer {secrets['bob']}", INITIALIZE)
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
        assert "mcp-session-id" not in response.headers

        sid = (await call(await stack.enter_async_context(http_client(url, secrets["alice"])), "create_session",
                          title="behind haproxy"))["id"]
        done: dict[str, int] = {}

        async def agent(name: str) -> None:
            async with http_client(url, secrets[name], mode=modes[name]) as client:
                # "auto" speaks the per-request protocol; "legacy" did the initialize handshake.
                era = MODERN_PROTOCOL_VERSIONS if modes[name] == "auto" else HANDSHAKE_PROTOCOL_VERSIONS
                assert client.protocol_version in era
                for i in range(8):
                    await call(client, "remember", session_id=sid, key=f"{name}-{i}", type="fact", content={"i": i})
                    got = await call(client, "get_session", session_id=sid)
                    assert got["id"] == sid
                done[name] = i + 1

        async with anyio.create_task_group() as tg:
            for name in modes:
                tg.start_soon(agent, name)
        # call() raises on any error result: every call above succeeded.
        assert done == {name: 8 for name in modes}
        rows = await conn.fetch("SELECT key, created_by FROM memories WHERE session_id = $1", sid)
        assert len(rows) == 32 and {r["created_by"] for r in rows} == set(modes)
        # HAProxy spread the calls over all three processes (each counts its own).
        counts = [await served_calls(s.base) for s in servers]
        assert all(n > 0 for n in counts), counts
        assert sum(counts) == 1 + 4 * 16

        # A task created through one process wakes a claimer waiting on another.
        async with http_client(servers[0].url, secrets["carol"]) as waiter_client, \
                http_client(servers[2].url, secrets["dave"], mode="legacy") as creator:
            got = {}

            async def claimer() -> None:
                started = time.monotonic()
                got["task"] = (await call(waiter_client, "claim_task", session_id=sid, wait_seconds=WAIT))["task"]
                got["seconds"] = time.monotonic() - started

            async with anyio.create_task_group() as tg:
                tg.start_soon(claimer)
                await until(lambda: _registered(conn))
                created = await call(creator, "create_task", session_id=sid, task_type="code")
            assert got["task"] is not None and got["task"]["id"] == created["id"]
            assert got["task"]["claimed_by"] == "carol" and got["seconds"] < WAIT

            # And a change written through one process wakes a watch waiting on another.
            seen = {}

            async def watcher() -> None:
                started = time.monotonic()
                seen["page"] = await call(waiter_client, "watch", session_id=sid, kinds=["memory.*"], wait_seconds=WAIT)
                seen["seconds"] = time.monotonic() - started

            async with anyio.create_task_group() as tg:
                tg.start_soon(watcher)
                await until(lambda: _watched(conn, sid))
                await call(creator, "remember", session_id=sid, key="woke-the-watcher", type="fact", content={"x": 1})
            assert [e["refs"].get("key") for e in seen["page"]["events"]] == ["woke-the-watcher"]
            assert seen["seconds"] < WAIT


async def _watched(conn, sid: str) -> bool:
    return await conn.fetchval("SELECT count(*) FROM event_listeners WHERE session_id = $1", sid) == 1


async def _registered(conn) -> bool:
    return await conn.fetchval("SELECT count(*) FROM task_waiters") == 1


@pytest.mark.slow
async def test_workers_share_one_port_each_with_its_own_listen_connection(database_url, conn):
    _, secret = await tokens.create(conn, "alice")
    async with http_server(database_url, "--workers", "2") as server:
        await until(lambda: _eq(listeners(conn), 2))
        for mode in ("auto", "legacy"):
            async with http_client(server.url, secret, mode=mode) as client:
                sid = (await call(client, "create_session", title=f"workers {mode}"))["id"]
                assert (await call(client, "get_session", session_id=sid))["id"] == sid

        # A second server on the same port: one line on stderr, no traceback.
        port = server.base.rsplit(":", 1)[1]
        command = [sys.executable, "-m", "mcp_sessions", "serve", "--transport", "http", "--port", port]
        result = await anyio.run_process(command, cwd=REPO, check=False, env={**os.environ, "DATABASE_URL": database_url})
        stderr = result.stderr.decode().strip()
        assert result.returncode == 1
        assert stderr == f"mcp-sessions: cannot listen on 127.0.0.1:{port}: Address already in use; another server " \
            "is listening there; stop it or pick another --port"


async def _eq(value, expected) -> bool:
    return await value == expected


async def test_workers_that_cannot_reach_the_database_say_so_in_one_line():
    command = [sys.executable, "-m", "mcp_sessions", "serve", "--transport", "http", "--port", "0", "--workers", "2"]
    env = {**os.environ, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere", "MCP_SESSIONS_CONNECT_TIMEOUT": "2"}
    result = await anyio.run_process(command, cwd=REPO, check=False, env=env)
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("mcp-sessions: cannot start: cannot use the database"), lines


def worker_pids(supervisor: int) -> set[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    found = set()
    for pid in map(int, children):
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
        except OSError:
            pass  # gone meanwhile
    return found


@pytest.mark.slow
async def test_a_worker_that_dies_is_replaced_and_the_others_keep_serving(database_url, conn):
    _, secret = await tokens.create(conn, "alice")
    async with http_server(database_url, "--workers", "2") as server:
        await until(lambda: _eq(listeners(conn), 2))
        before = worker_pids(server.process.pid)
        assert len(before) == 2
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        async with http_client(server.url, secret) as client:
            # Served meanwhile by the survivor (or the replacement): no call fails.
            for _ in range(5):
                assert (await call(client, "list_sessions"))["sessions"] == []

        async def replaced() -> bool:
            now = worker_pids(server.process.pid)
            return len(now) == 2 and victim not in now and await listeners(conn) == 2

        await until(replaced, timeout=45)  # a spawned worker imports everything afresh

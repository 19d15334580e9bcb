"""Acknowledged writes survive a crash: of the server process (SIGKILL) and of PostgreSQL
(an immediate stop, which skips the shutdown checkpoint, so restart replays the WAL)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import asyncpg
import pytest

from tests.conftest import REPO
from tests.resilience_support import OwnPostgres


@pytest.fixture
def own_postgres():
    pg = OwnPostgres()
    yield pg
    pg.close()


class RawServer:
    """`mcp-sessions serve` driven by raw JSON-RPC lines, so the test can SIGKILL it."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.next_id = 0

    @classmethod
    async def start(cls, dsn: str) -> RawServer:
        env = dict(os.environ, DATABASE_URL=dsn, MCP_SESSIONS_AGENT="durable", MCP_SESSIONS_LOG_LEVEL="WARNING")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mcp_sessions", "serve", cwd=str(REPO), env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        server = cls(proc)
        await server.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                            "clientInfo": {"name": "raw", "version": "1"}})
        await server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return server

    async def send(self, message: dict) -> None:
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        await self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            reply = json.loads(await asyncio.wait_for(self.proc.stdout.readline(), 60))
            if reply.get("id") == self.next_id:
                return reply["result"]

    async def call(self, tool: str, **arguments: object) -> dict:
        result = await self.request("tools/call", {"name": tool, "arguments": arguments})
        assert not result.get("isError"), result
        return result["structuredContent"]

    async def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()


async def test_acknowledged_writes_survive_a_server_kill_and_a_database_crash(own_postgres):
    server = await RawServer.start(own_postgres.dsn)
    sid = (await server.call("create_session", title="durable"))["id"]
    for i in range(20):
        await server.call("add_chunk", session_id=sid, content=f"chunk {i} " * 100, chunk_id=f"c{i}")
    await server.call("remember", session_id=sid, key="k", type="decision", content={"v": 1})
    task = await server.call("create_task", session_id=sid, task_type="code")
    claim = (await server.call("claim_task", session_id=sid))["task"]
    await server.call("complete_task", task_id=task["id"], claim_token=claim["claim_token"], output_data={"ok": True})
    await server.kill()  # the agent's server dies: nothing it acknowledged may be lost

    # PostgreSQL crashes too: an immediate stop writes no checkpoint; restart recovers from the WAL.
    own_postgres.pg_ctl("-m", "immediate", "-l", str(own_postgres.server.log), "restart")

    conn = await asyncpg.connect(own_postgres.dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM conversation_chunks WHERE session_id = $1", sid) == 20
        assert await conn.fetchval("SELECT content::text FROM memories WHERE session_id = $1 AND key = 'k'", sid) == '{"v": 1}'
        assert await conn.fetchval("SELECT status FROM tasks WHERE id = $1", task["id"]) == "completed"
    finally:
        await conn.close()

    # and a new server picks up where the old one stopped
    server = await RawServer.start(own_postgres.dsn)
    try:
        found = await server.call("search", query="chunk", session_id=sid)
        assert found["hits"]
        assert (await server.call("get_chunk", session_id=sid, chunk_id="c19"))["content"].startswith("chunk 19")
    finally:
        await server.kill()

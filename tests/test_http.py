"""The streamable HTTP transport end to end: a real server process, the SDK's HTTP client,
per-agent tokens, identity from the token, /healthz and /metrics."""

from __future__ import annotations

import json
import time

import anyio
import httpx2
import pytest
from mcp.shared.exceptions import MCPError

from mcp_sessions.store import tokens
from tests.conftest import call, call_error
from tests.http_support import http_client, http_server, raw_post

INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "curl", "version": "1"}},
}
CREATE_SESSION = {
    "jsonrpc": "2.0", "id": 2, "method": "tools/call",
    "params": {"name": "create_session", "arguments": {"title": "should never exist"}},
}


async def test_tools_work_and_identity_comes_from_the_token(database_url, conn):
    _, alice = await tokens.create(conn, "alice")
    _, bob = await tokens.create(conn, "bob")
    async with http_server(database_url) as server:
        async with http_client(server.url, alice) as a, http_client(server.url, bob) as b:
            sid = (await call(a, "create_session", title="over HTTP"))["id"]
            await call(b, "add_chunk", session_id=sid, content="bob was here")
            await call(a, "create_task", session_id=sid, task_type="code", agent_name="bob")
            # The server's own MCP_SESSIONS_AGENT ("server") is never used for token holders.
            assert await conn.fetchval("SELECT created_by FROM sessions WHERE id = $1", sid) == "alice"
            assert await conn.fetchval("SELECT created_by FROM conversation_chunks WHERE session_id = $1", sid) == "bob"

            # Bob can't claim as alice; what he claims is claimed by bob.
            message = await call_error(b, "claim_task", agent_name="alice")
            assert "is not you" in message and "'bob'" in message
            claimed = (await call(b, "claim_task"))["task"]
            assert claimed["claimed_by"] == "bob"
            done = await call(b, "complete_task", task_id=claimed["id"], claim_token=claimed["claim_token"])
            assert done["status"] == "completed"


async def test_a_token_cannot_complete_another_agents_claim(database_url, conn):
    _, alice = await tokens.create(conn, "alice")
    _, bob = await tokens.create(conn, "bob")
    async with http_server(database_url) as server:
        async with http_client(server.url, alice) as a, http_client(server.url, bob) as b:
            sid = (await call(a, "create_session", title="claims"))["id"]
            await call(a, "create_task", session_id=sid, task_type="code")
            claimed = (await call(b, "claim_task"))["task"]
            # Alice, even holding bob's claim token, can't complete, fail or extend bob's claim.
            for tool, extra in (("heartbeat_task", {}), ("fail_task", {"error": "x"}), ("complete_task", {})):
                message = await call_error(a, tool, task_id=claimed["id"], claim_token=claimed["claim_token"], **extra)
                assert message.startswith("[stale_claim]") and "claimed by bob, and you are alice" in message
            assert await conn.fetchval("SELECT status FROM tasks WHERE id = $1", claimed["id"]) == "claimed"
            # ...while bob, the holder, still can.
            done = await call(b, "complete_task", task_id=claimed["id"], claim_token=claimed["claim_token"])
            assert done["status"] == "completed"


async def test_no_wrong_or_revoked_token_is_refused_without_touching_data(database_url, conn):
    info, token = await tokens.create(conn, "codex")
    prefix, token_id, secret = token.split("_", 2)
    wrong = f"{prefix}_{token_id}_{'A' * len(secret)}"
    async with http_server(database_url) as server:
        for bad in (None, "Bearer", f"Bearer {wrong}", "Bearer not-a-token", f"Basic {token}", token):
            for body in (INITIALIZE, CREATE_SESSION):
                response = await raw_post(server.url, bad, body)
                assert response.status_code == 401, (bad, response.text)
                assert response.json()["error"]["message"].startswith("[unauthorized]")
                assert response.headers["www-authenticate"].startswith("Bearer")

        async with http_client(server.url, token) as client:
            await call(client, "list_sessions")
            await tokens.revoke(conn, info.id)
            revoked_at = time.monotonic()
            # Revocation takes effect within a second (a verified token is remembered that
            # long), on the next request of an open session; reads meanwhile still pass.
            with pytest.raises(MCPError, match=r"\[unauthorized\].*revoked"):
                while True:
                    await client.call_tool("list_sessions", {})
                    assert time.monotonic() - revoked_at < 1.5, "still accepted after revocation"
                    await anyio.sleep(0.05)
            assert time.monotonic() - revoked_at <= 1.5
            with pytest.raises(MCPError, match=r"\[unauthorized\].*revoked"):
                await client.call_tool("create_session", {"title": "after revocation"})
        response = await raw_post(server.url, f"Bearer {token}", CREATE_SESSION)
        assert response.status_code == 401
        assert await conn.fetchval("SELECT count(*) FROM sessions") == 0

        async with httpx2.AsyncClient() as http:
            metrics = (await http.get(server.base + "/metrics")).text
        assert 'mcp_sessions_http_refused_total{reason="missing"}' in metrics
        assert 'mcp_sessions_http_refused_total{reason="invalid"}' in metrics


async def test_healthz_and_metrics(database_url, conn):
    _, token = await tokens.create(conn, "codex")
    async with http_server(database_url, MCP_SESSIONS_LOG_LEVEL="INFO", MCP_SESSIONS_LOG_FORMAT="json") as server:
        async with httpx2.AsyncClient() as http:
            health = await http.get(server.base + "/healthz")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            assert health.json()["schema_version"] >= 4
            async with http_client(server.url, token) as client:
                sid = (await call(client, "create_session", title="metrics"))["id"]
                await call(client, "create_task", session_id=sid, task_type="code")
                await call(client, "create_task", session_id=sid, task_type="code")
                await call(client, "add_chunk", session_id=sid, content="SECRET-CONTENT-" * 10)
                await call_error(client, "get_session", session_id="nope")
            metrics = (await http.get(server.base + "/metrics")).text
    assert 'mcp_sessions_tool_calls_total{tool="create_task",outcome="ok"} 2' in metrics
    assert 'mcp_sessions_tool_errors_total{tool="get_session",code="not_found"} 1' in metrics
    assert 'mcp_sessions_tool_duration_seconds_count{tool="create_task"} 2' in metrics
    assert 'mcp_sessions_tasks{status="pending"} 2' in metrics
    assert 'mcp_sessions_pool_max_connections 10' in metrics
    # Logs: JSON lines on stderr with tool, agent, outcome and duration, never content.
    records = [json.loads(line) for line in server.stderr if line.startswith("{")]
    calls = [r for r in records if r.get("tool") == "add_chunk"]
    assert calls and calls[0]["agent"] == "codex" and calls[0]["outcome"] == "ok" and calls[0]["ms"] >= 0
    assert not any("SECRET-CONTENT" in line for line in server.stderr)


async def test_binding_beyond_loopback_needs_auth(database_url):
    import subprocess
    import sys

    from tests.conftest import REPO

    refused = subprocess.run(
        [sys.executable, "-m", "mcp_sessions", "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "0"],
        env={"DATABASE_URL": database_url, "MCP_SESSIONS_HTTP_AUTH": "none", "PATH": "/usr/bin:/bin"},
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode == 2 and "without authentication" in refused.stderr


async def test_loopback_without_auth_uses_the_configured_agent(database_url, conn):
    async with http_server(database_url, MCP_SESSIONS_HTTP_AUTH="none", MCP_SESSIONS_AGENT="laptop") as server:
        async with http_client(server.url, None) as client:
            sid = (await call(client, "create_session", title="local"))["id"]
    assert await conn.fetchval("SELECT created_by FROM sessions WHERE id = $1", sid) == "laptop"


async def test_healthz_fails_when_the_schema_is_behind(database_url, conn):
    async with http_server(database_url) as server, httpx2.AsyncClient() as http:
        assert (await http.get(server.base + "/healthz")).status_code == 200
        row = await conn.fetchrow("DELETE FROM schema_migrations WHERE version = 4 RETURNING *")
        health = await http.get(server.base + "/healthz")
        assert health.status_code == 503
        assert health.json() == {"status": "schema_outdated", "pending": ["0004_auth"]}
        await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, $3, $4)", *row.values())
        assert (await http.get(server.base + "/healthz")).status_code == 200

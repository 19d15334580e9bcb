"""Helpers for tests of the HTTP transport: a real `mcp-sessions serve --transport http`
process on a free loopback port, and the SDK's streamable HTTP client with a token."""

from __future__ import annotations

import os
import re
import sys
from contextlib import asynccontextmanager
from typing import AsyncIterator

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.conftest import REPO

_URL = re.compile(r"(http://[^ \"]+)/mcp")


def server_dsn(database_url: str) -> str:
    """The DSN the server process gets (the PgBouncer pass routes it through the pooler)."""
    return database_url


class HttpServer:
    def __init__(self, base: str, process: anyio.abc.Process) -> None:
        self.base = base
        self.url = base + "/mcp"
        self.process = process
        self.stderr: list[str] = []


@asynccontextmanager
async def http_server(database_url: str, *args: str, **env: str) -> AsyncIterator[HttpServer]:
    """`mcp-sessions serve --transport http --port 0`; yields once it has printed its URL."""
    environment = {
        **os.environ, "DATABASE_URL": server_dsn(database_url), "MCP_SESSIONS_LOG_LEVEL": "WARNING", "MCP_SESSIONS_AGENT": "server",
        **env,
    }
    command = [sys.executable, "-m", "mcp_sessions", "serve", "--transport", "http", "--port", "0", *args]
    async with await anyio.open_process(command, env=environment, cwd=REPO) as process:
        lines = _lines(process)
        server = None
        with anyio.fail_after(30):
            async for line in lines:
                match = _URL.search(line)
                if match:
                    server = HttpServer(match[1], process)
                    break
        assert server is not None, "the server exited before printing its URL"

        async def drain() -> None:  # keep reading stderr so the server never blocks on a full pipe
            async for line in lines:
                server.stderr.append(line)

        async with anyio.create_task_group() as tg:
            tg.start_soon(drain)
            try:
                yield server
            finally:
                process.terminate()
                with anyio.move_on_after(10):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                tg.cancel_scope.cancel()


async def _lines(process: anyio.abc.Process) -> AsyncIterator[str]:
    buffer = b""
    async for chunk in process.stderr:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.decode(errors="replace")


@asynccontextmanager
async def http_client(url: str, token: str | None, mode: str = "auto") -> AsyncIterator[Client]:
    """mode: "auto" (the 2026-07-28 per-request protocol where the server offers it) or
    "legacy" (the initialize handshake)."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with create_mcp_http_client(headers=headers) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            yield client


async def raw_post(url: str, authorization: str | None, body: dict) -> httpx2.Response:
    """One JSON-RPC POST, as any HTTP client would send it, with this Authorization header."""
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with httpx2.AsyncClient() as http:
        return await http.post(url, json=body, headers=headers)

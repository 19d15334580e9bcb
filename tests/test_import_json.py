"""Migration from the old JSON-file store: the sample tree in tests/data/json_store has
two good sessions and a broken file of every kind."""

from __future__ import annotations

from tests.cli_support import JSON_STORE, cli, ok
from tests.conftest import call, stdio_client


def _reasons(report: dict) -> dict[str, str]:
    return {s["path"].split("json_store/")[1]: s["reason"] for s in report["skipped"]}


async def test_imports_the_good_and_reports_the_bad(database_url):
    report = (await ok(database_url, "import-json", str(JSON_STORE), "--json", "-q")).json()
    assert report["sessions_imported"] == 2
    assert report["imported"] == {"chunks": 3, "memories": 2, "tasks": 2, "artifacts": 2}
    reasons = _reasons(report)
    assert reasons["sess-bad-json/session.json"].startswith("bad JSON")
    assert "whole session folder" in reasons["sess-bad-json/session.json"]
    assert reasons["sess-no-title/session.json"].startswith("missing field: title")
    assert reasons["not-a-session/session.json"].startswith("no session.json")
    assert reasons["sess-design/conversations/c003-truncated.json"].startswith("bad JSON")
    assert reasons["sess-design/conversations/c004-no-format.json"] == "missing field: format"
    assert "'rumour' is not one of" in reasons["sess-design/memories.json[2]"]
    assert reasons["sess-design/memories.json[3]"] == "missing field: key"
    assert "expected a JSON object" in reasons["sess-design/memories.json[4]"]
    assert "'deploy' is not one of" in reasons["sess-design/tasks.json[2]"]
    assert reasons["sess-design/artifacts/a-no-content.json"] == "missing field: content"
    assert "expected a JSON list" in reasons["sess-broken-tasks/memories.json"]
    assert reasons["sess-broken-tasks/tasks.json"].startswith("bad JSON")
    assert len(reasons) == 12
    assert report["notes"] == [{"path": str(JSON_STORE / "sess-design/tasks.json[1]"),
                                "note": "was running: imported as pending"}]

    again = (await ok(database_url, "import-json", str(JSON_STORE), "--json", "-q")).json()
    assert again["sessions_imported"] == 0 and again["sessions_already_present"] == 2
    assert sum(again["imported"].values()) == 0 and again["already_present"] == 9


async def test_imported_sessions_keep_their_history_and_work(database_url):
    human = await ok(database_url, "import-json", str(JSON_STORE))
    assert human.out.startswith("imported 2 sessions") and "Skipped (12)" in human.out
    shown = (await ok(database_url, "sessions", "show", "sess-design", "--json")).json()
    session = shown["session"]
    assert session["title"] == "Cache layer design" and session["participants"] == ["claude_code", "codex"]
    assert session["created"].startswith("2025-03-01T09:00:00") and session["last_activity"].startswith("2025-03-02T17:30")
    assert [c["chunk_id"] for c in shown["recent_chunks"]] == ["c002", "c001"]
    assert [(a["name"], a["version"], a["id"]) for a in shown["artifacts"]] == [("cache-design.md", 2, "a-design-v2")]
    tasks = {t["id"]: t for t in shown["tasks"]}
    assert tasks["task-impl-cache"]["status"] == "completed" and tasks["task-impl-cache"]["output_data"] == {"pr": 42}
    assert tasks["task-review"]["status"] == "pending" and tasks["task-review"]["priority"] == 10
    async with stdio_client(database_url, agent="claude_code") as client:
        claimed = await call(client, "claim_task", session_id="sess-design")
        assert claimed["task"]["id"] == "task-review"
        hits = await call(client, "search", query="pgvector")
        assert [h["session_id"] for h in hits["hits"]] == ["sess-research"]
        memory = await call(client, "recall", session_id="sess-design", key="cache_strategy")
        assert memory["content"] == {"strategy": "write-through", "ttl_seconds": 300}


async def test_one_session_folder_and_missing_dir(database_url, tmp_path):
    report = (await ok(database_url, "import-json", str(JSON_STORE / "sess-broken-tasks"), "--json")).json()
    assert report["sessions_imported"] == 1 and report["imported"]["chunks"] == 1
    run = await cli(database_url, "import-json", str(tmp_path / "absent"))
    assert run.code == 1 and "no such directory" in run.err


async def test_the_servers_size_limits_apply(database_url, tmp_path):
    import json

    folder = tmp_path / "big"
    (folder / "conversations").mkdir(parents=True)
    (folder / "session.json").write_text(json.dumps({"id": "big", "title": "Big"}))
    (folder / "conversations" / "long.json").write_text(json.dumps({"content": "x" * 2000, "format": "summary"}))
    (folder / "conversations" / "short.json").write_text(json.dumps({"content": "ok", "format": "summary"}))
    (folder / "memories.json").write_text(json.dumps([{"type": "fact", "key": "k", "content": "y" * 300}]))
    run = await ok(database_url, "import-json", str(tmp_path), "--json",
                   MCP_SESSIONS_MAX_CONTENT_BYTES="1024", MCP_SESSIONS_MAX_MEMORY_BYTES="256")
    report = run.json()
    assert report["imported"]["chunks"] == 1 and report["imported"]["memories"] == 0
    reasons = {s["path"].rsplit("/", 1)[1]: s["reason"] for s in report["skipped"]}
    assert "over the limit of 1,024" in reasons["long.json"]
    assert "over the memory limit of 256" in reasons["memories.json[0]"]


async def test_typo_search_knows_imported_words_at_once(database_url, conn):
    """The import feeds the typo vocabulary itself: nothing is left queued for later searches."""
    await ok(database_url, "import-json", str(JSON_STORE), "--json", "-q")
    assert await conn.fetchval("SELECT count(*) FROM search_vocab_queue") == 0
    assert await conn.fetchval("SELECT count(*) FROM search_vocab") > 0

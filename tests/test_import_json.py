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


def _session(folder, sid, title="T"):
    import json

    folder.mkdir(parents=True)
    (folder / "session.json").write_text(json.dumps({"id": sid, "title": title}))
    return folder


async def test_nothing_already_stored_with_other_content_is_dropped_silently(database_url, tmp_path):
    """An artifact file whose version number is taken by other content becomes the next
    version; a chunk, memory or task whose id holds other content is reported as
    skipped, with why; identical items are already present."""
    import json

    async with stdio_client(database_url, agent="claude_code") as client:
        await call(client, "create_session", title="Design", session_id="sess-x")
        for text in ("design v1 from the tools", "design v2 from the tools"):
            await call(client, "save_artifact", session_id="sess-x", name="design.md", type="document", content=text)
        await call(client, "add_chunk", session_id="sess-x", chunk_id="c1", content="stored chunk")
        await call(client, "remember", session_id="sess-x", key="k", type="fact", content="stored fact")
    folder = _session(tmp_path / "store" / "sess-x", "sess-x", "Design")
    (folder / "artifacts").mkdir()
    (folder / "artifacts" / "a-old.json").write_text(json.dumps(
        {"type": "document", "name": "design.md", "content": "design from the old store", "created": "2025-01-01"}))
    (folder / "artifacts" / "a-same.json").write_text(json.dumps(
        {"type": "document", "name": "design.md", "content": "design v2 from the tools", "created": "2025-01-02"}))
    (folder / "conversations").mkdir()
    (folder / "conversations" / "c1.json").write_text(json.dumps({"content": "other chunk", "format": "summary"}))
    (folder / "memories.json").write_text(json.dumps([{"type": "fact", "key": "k", "content": "other fact"}]))

    report = (await ok(database_url, "import-json", str(tmp_path / "store"), "--json", "-q")).json()
    assert report["imported"] == {"chunks": 0, "memories": 0, "tasks": 0, "artifacts": 1}
    assert report["already_present"] == 1  # a-same: the content of stored version 2
    notes = {n["path"].rsplit("/", 1)[1]: n["note"] for n in report["notes"]}
    assert "stored as version 3 of 'design.md'" in notes["a-old.json"]
    reasons = {s["path"].rsplit("/", 1)[1]: s["reason"] for s in report["skipped"]}
    assert "other content is already stored" in reasons["c1.json"] and "kept" in reasons["c1.json"]
    assert "already holds other content" in reasons["memories.json[0]"]
    async with stdio_client(database_url) as client:
        v3 = await call(client, "get_artifact", session_id="sess-x", name="design.md")
        assert v3["artifact"]["version"] == 3 and v3["content"] == "design from the old store"
    again = (await ok(database_url, "import-json", str(tmp_path / "store"), "--json", "-q")).json()
    assert sum(again["imported"].values()) == 0 and again["already_present"] == 2


async def test_a_hostile_tree_is_reported_file_by_file_and_the_run_goes_on(database_url, tmp_path):
    import json
    import os

    import anyio

    root = tmp_path / "store"
    outside = _session(tmp_path / "outside", "outside")
    (outside / "conversations").mkdir()
    (outside / "conversations" / "secret.json").write_text(json.dumps({"content": "secret", "format": "summary"}))
    a = _session(root / "sess-a", "sess-a")
    chunks = a / "conversations"
    chunks.mkdir()
    (chunks / "ok.json").write_text(json.dumps({"content": "fine words", "format": "summary"}))
    (chunks / "link.json").symlink_to(outside / "conversations" / "secret.json")
    os.mkfifo(chunks / "fifo.json")
    deep = "[" * 200_000 + "]" * 200_000
    (chunks / "deep.json").write_text('{"content": "x", "format": "summary", "extracted_items": ' + deep + "}")
    (chunks / "nested.json").write_text(json.dumps(
        {"content": "x", "format": "summary", "extracted_items": json.loads("[" * 100 + "]" * 100)}))
    (chunks / "big.json").write_text(json.dumps({"content": "y" * 20_000, "format": "summary"}))
    (chunks / "bad id.json").write_text(json.dumps({"content": "z", "format": "summary"}))
    (a / "memories.json").write_text(json.dumps([
        {"type": "fact", "key": "bad key", "content": "a space in a key"},
        {"type": "fact", "key": "good", "content": "kept", "created_by": "x" * 300},
        {"type": "fact", "key": "fine", "content": "kept"},
    ]))
    (root / "sess-link").symlink_to(outside, target_is_directory=True)
    _session(root / "sess-nul", "sess\u0000nul")
    _session(root / "sess-z", "sess-z")  # after every bad one: still imported

    with anyio.fail_after(120):  # a FIFO that is opened blocks forever
        run = await ok(database_url, "import-json", str(root), "--json", "-q", "--max-file-bytes", "10000")
    report = run.json()
    assert report["sessions_imported"] == 2  # sess-a, sess-z
    assert report["imported"]["chunks"] == 1 and report["imported"]["memories"] == 1
    reasons = {s["path"].split("store/")[1]: s["reason"] for s in report["skipped"]}
    assert "symbolic link out of the imported folder" in reasons["sess-a/conversations/link.json"]
    assert "a FIFO, not a regular file" in reasons["sess-a/conversations/fifo.json"]
    assert "over the limit of 10,000" in reasons["sess-a/conversations/deep.json"]
    assert "nested deeper than 64 levels" in reasons["sess-a/conversations/nested.json"]
    assert "over the limit of 10,000" in reasons["sess-a/conversations/big.json"]
    assert "chunk id (the file name) 'bad id' is refused" in reasons["sess-a/conversations/bad id.json"]
    assert "key 'bad key' is refused" in reasons["sess-a/memories.json[0]"]
    assert "created_by" in reasons["sess-a/memories.json[1]"]
    assert "symbolic link out" in reasons["sess-link"] and "whole session folder" in reasons["sess-link"]
    assert "NUL" in reasons["sess-nul/session.json"]
    assert len(reasons) == 10, reasons

    # Without the size cap, 200,000 levels of nesting are refused, not a crash of the run.
    report = (await ok(database_url, "import-json", str(root), "--json", "-q")).json()
    reasons = {s["path"].split("store/")[1]: s["reason"] for s in report["skipped"]}
    assert "nested too deeply" in reasons["sess-a/conversations/deep.json"]
    assert report["imported"]["chunks"] == 1  # big.json, under the default cap now

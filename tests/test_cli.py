"""Every operator command, run as a subprocess as a user would: tables for people,
--json for scripts, one clear line on stderr (exit 1) for a refusal."""

from __future__ import annotations

from tests.cli_support import cli, ok


async def test_help_lists_every_command():
    run = await ok(None, "--help")
    for command in ("serve", "db", "sessions", "tasks", "agents", "search", "export", "import", "import-json"):
        assert f"    {command}" in run.out
    assert "usage: mcp-sessions tasks" in (await ok(None, "tasks")).out


async def test_sessions_list(seeded):
    url, _ = seeded
    table = (await ok(url, "sessions", "list")).out.splitlines()
    assert table[0].split()[:3] == ["ID", "TITLE", "STATUS"]
    assert any(line.startswith("s-cache") and "claude_code, codex" in line for line in table)
    data = (await ok(url, "sessions", "list", "--json")).json()
    by_id = {s["id"]: s for s in data["sessions"]}
    assert set(by_id) == {"s-cache", "s-docs"}
    assert by_id["s-cache"]["counts"]["chunks"] == 2 and by_id["s-cache"]["counts"]["tasks"] == 2
    only = (await ok(url, "sessions", "list", "--participant", "researcher", "--json")).json()
    assert [s["id"] for s in only["sessions"]] == ["s-docs"]
    one = await ok(url, "sessions", "list", "--limit", "1", "--json")
    assert len(one.json()["sessions"]) == 1 and "--limit shows more" in one.err


async def test_sessions_show(seeded):
    url, ids = seeded
    out = (await ok(url, "sessions", "show", "s-cache")).out
    assert "Cache redesign" in out and "claude_code, codex" in out
    assert "Recent chunks (2 of 2)" in out and "cache_strategy" in out
    assert "Tasks by status: claimed 1, completed 1" in out and "design.md" in out
    # newest chunk first
    assert out.index("a-second") < out.index("z-first")
    data = (await ok(url, "sessions", "show", "s-cache", "--chunks", "1", "--json")).json()
    assert data["session"]["id"] == "s-cache"
    assert [c["chunk_id"] for c in data["recent_chunks"]] == ["a-second"]
    assert data["memories"][0]["version"] == 2 and data["memories"][0]["content"]["ttl"] == 600
    assert {t["id"] for t in data["tasks"]} == {ids["build"], ids["review"]}
    assert [(a["name"], a["version"]) for a in data["artifacts"]] == [("design.md", 2)]


async def test_unknown_ids_are_one_clear_line(seeded):
    url, _ = seeded
    for args in (("sessions", "show", "nope"), ("tasks", "show", "nope"), ("tasks", "cancel", "nope")):
        run = await cli(url, *args)
        assert run.code == 1 and run.out == ""
        assert run.err.startswith("mcp-sessions: [not_found]") and len(run.err.splitlines()) == 1
    bad = await cli(url, "sessions", "list", "--limit", "0")
    assert bad.code == 2 and "must be at least 1" in bad.err


async def test_tasks_list_and_show(seeded):
    url, ids = seeded
    table = (await ok(url, "tasks", "list")).out
    assert ids["build"] in table and "completed" in table and "1/3" in table
    data = (await ok(url, "tasks", "list", "--status", "pending", "--json")).json()
    assert [t["id"] for t in data["tasks"]] == [ids["docs"]]
    data = (await ok(url, "tasks", "list", "--session", "s-docs", "--json")).json()
    assert [t["id"] for t in data["tasks"]] == [ids["docs"]]
    shown = (await ok(url, "tasks", "show", ids["review"])).out
    assert "claimed" in shown and ids["build"] in shown  # status and its dependency
    assert "History" in shown and "created" in shown
    detail = (await ok(url, "tasks", "show", ids["build"], "--json")).json()
    events = [e["event"] for e in detail["history"]]
    assert events[:4] == ["created", "claimed", "failed", "requeued"] and events[-1] == "completed"


async def test_tasks_cancel_and_requeue(seeded):
    url, ids = seeded
    run = await ok(url, "tasks", "cancel", ids["review"], "--reason", "wrong approach", "--agent", "alice")
    assert "is now cancelled" in run.out and "alice" in run.out
    refused = await cli(url, "tasks", "cancel", ids["review"])
    assert refused.code == 1 and "[conflict]" in refused.err and "already cancelled" in refused.err
    task = (await ok(url, "tasks", "requeue", ids["review"], "--json")).json()
    assert task["status"] == "pending" and task["attempts"] == 0
    history = (await ok(url, "tasks", "show", ids["review"], "--json")).json()["history"]
    assert [(e["event"], e["agent"]) for e in history[-2:]] == [("cancelled", "alice"), ("requeued", "operator")]
    refused = await cli(url, "tasks", "requeue", ids["build"])
    assert refused.code == 1 and "completed" in refused.err


async def test_agents_list(seeded):
    url, _ = seeded
    out = (await ok(url, "agents", "list")).out
    assert "claude_code" in out and "gemini_cli" in out
    data = (await ok(url, "agents", "list", "--json")).json()
    names = {a["name"]: a for a in data["agents"]}
    assert {"claude_code", "codex", "gemini_cli", "researcher"} <= set(names)
    assert names["codex"]["last_seen"] is not None  # it claimed a task
    busy = (await ok(url, "agents", "list", "--status", "busy", "--json")).json()
    assert busy["agents"] == []


async def test_search(seeded):
    url, _ = seeded
    out = (await ok(url, "search", "eviction")).out
    assert "a-second" in out and "**eviction**" in out.lower()
    data = (await ok(url, "search", "write-through", "--kind", "memory", "--json")).json()
    assert data["hits"] and {h["kind"] for h in data["hits"]} == {"memory"}
    scoped = (await ok(url, "search", "short sentences", "--session", "s-cache", "--mode", "fulltext", "--json")).json()
    assert scoped["hits"] == []
    tagged = (await ok(url, "search", "write-through", "--tag", "cache", "--by", "claude_code", "--json")).json()
    assert [h["id"] for h in tagged["hits"]] == ["cache_strategy"]
    paged = (await ok(url, "search", "lorem", "--limit", "1", "--json")).json()
    assert len(paged["hits"]) == 1
    bad = await cli(url, "search", "x", "--after", "yesterday")
    assert bad.code == 2 and "ISO 8601" in bad.err
    assert (await ok(url, "search", "qqqqzzzzxxxx", "--mode", "fulltext")).out.strip() == "no matches"


async def test_db_status_and_migrate(seeded, empty_database_url):
    url, _ = seeded
    out = (await ok(url, "db", "status")).out
    assert "pending migrations  none" in out and "conversation_chunks" in out
    data = (await ok(url, "db", "status", "--json")).json()
    assert data["schema_version"] == data["latest_version"] and data["pending"] == []
    assert data["tables"]["sessions"]["rows"] == 2 and data["tables"]["conversation_chunks"]["rows"] == 2
    assert data["database_bytes"] > 0

    fresh = (await ok(empty_database_url, "db", "status", "--json")).json()
    assert fresh["schema_version"] == 0 and fresh["pending"][0].startswith("0001_")  # status never migrates
    assert "applied: 0001_core" in (await ok(empty_database_url, "db", "migrate")).out
    assert (await ok(empty_database_url, "db", "status", "--json")).json()["pending"] == []


async def test_unreachable_database_is_one_line():
    run = await cli("postgresql://nobody@127.0.0.1:1/none", "sessions", "list")
    assert run.code == 1 and run.err.startswith("mcp-sessions: [unavailable]") and "Traceback" not in run.err

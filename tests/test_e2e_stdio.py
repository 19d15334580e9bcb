"""End to end over stdio: real `mcp-sessions serve` processes, the SDK's client."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import anyio

from tests.conftest import call, stdio_client

# What a model is given of the tool list (names, descriptions, input schemas: clients hand
# the output schemas to their validators, not to the model) must fit a context budget;
# the whole answer, nested output schemas included, is held at its measured size.
MODEL_BUDGET = 32_000
TOOLS_LIST_LINE = 46_500


async def test_tools_are_annotated_described_and_small(database_url):
    async with stdio_client(database_url) as c:
        tools = (await c.list_tools()).tools
    names = {t.name for t in tools}
    assert {
        "create_session", "get_session", "list_sessions", "update_session", "add_chunk", "get_chunk", "list_chunks",
        "remember", "recall", "list_memories", "forget", "create_task", "claim_task", "complete_task", "fail_task",
        "get_task", "list_tasks", "save_artifact", "get_artifact", "list_artifacts", "register_agent", "list_agents",
        "search",
    } <= names
    for tool in tools:
        assert tool.description and len(tool.description) < 400, tool.name
        assert tool.annotations is not None and tool.annotations.read_only_hint is not None, tool.name
        assert tool.output_schema is not None, tool.name
        if tool.name.startswith(("get_", "list_", "recall", "search")):
            assert tool.annotations.read_only_hint is True, tool.name
    def wire(exclude: set[str] | None = None) -> int:
        dumped = [t.model_dump(mode="json", by_alias=True, exclude_none=True, exclude=exclude) for t in tools]
        return len(json.dumps({"tools": dumped}, separators=(",", ":")).encode())
    assert wire({"output_schema"}) <= MODEL_BUDGET, f"tools/list without output schemas is {wire({'output_schema'})} bytes"
    assert wire() <= TOOLS_LIST_LINE, f"tools/list is {wire()} bytes"


async def test_two_agents_share_one_database(database_url):
    """Two servers (two agents) on one database see each other's writes at once."""
    async with stdio_client(database_url, agent="claude_code") as claude, stdio_client(database_url, agent="codex") as codex:
        session = await call(claude, "create_session", title="Pair work", participants=["claude_code", "codex"])
        sid = session["id"]
        seen = await call(codex, "get_session", session_id=sid)
        assert seen["title"] == "Pair work" and seen["created_by"] == "claude_code"
        await call(codex, "add_chunk", session_id=sid, content="codex: I will write the parser", chunk_id="c1")
        await call(codex, "remember", session_id=sid, key="parser-owner", type="decision", content="codex")
        task = await call(claude, "create_task", session_id=sid, task_type="code", agent_name="codex", title="Write the parser")
        # a task meant for codex is not claimable by claude_code
        assert (await call(claude, "claim_task", session_id=sid))["task"] is None
        claimed = (await call(codex, "claim_task", session_id=sid))["task"]
        assert claimed["id"] == task["id"] and claimed["claimed_by"] == "codex"
        await call(codex, "complete_task", task_id=task["id"], claim_token=claimed["claim_token"], output_data={"pr": 7})
        await call(codex, "save_artifact", session_id=sid, name="parser.py", type="code", content="the parser module",
                   format="python")
        summary = await call(claude, "get_session", session_id=sid)
        assert summary["counts"]["chunks"] == 1 and summary["counts"]["memories"] == 1
        assert summary["counts"]["artifacts"] == 1 and summary["counts"]["tasks_by_status"] == {"completed": 1}
        assert (await call(claude, "get_task", task_id=task["id"]))["output_data"] == {"pr": 7}
        memory = await call(claude, "recall", session_id=sid, key="parser-owner")
        assert memory["created_by"] == "codex"
        hits = await call(claude, "search", query="parser", session_id=sid)
        assert {h["kind"] for h in hits["hits"]} >= {"chunk", "artifact"}
        chunk = await call(claude, "get_chunk", session_id=sid, chunk_id="c1")
        assert chunk["content"] == "codex: I will write the parser"


async def test_every_core_tool_over_stdio(database_url):
    async with stdio_client(database_url, agent="researcher") as c:
        sid = (await call(c, "create_session", title="All tools", session_id="all-tools"))["id"]
        assert sid == "all-tools"
        assert (await call(c, "update_session", session_id=sid, status="paused"))["status"] == "paused"
        assert [s["id"] for s in (await call(c, "list_sessions", status="paused"))["sessions"]] == [sid]
        await call(c, "add_chunk", session_id=sid, content="transcript text", format="transcript", chunk_id="t")
        assert len((await call(c, "list_chunks", session_id=sid))["chunks"]) == 1
        assert (await call(c, "get_chunk", session_id=sid, chunk_id="t", offset=11))["content"] == "text"
        await call(c, "remember", session_id=sid, key="q1", type="question", content={"q": "why?"}, tags=["open"])
        assert (await call(c, "recall", session_id=sid, key="q1"))["content"] == {"q": "why?"}
        assert len((await call(c, "list_memories", session_id=sid, tags=["open"]))["memories"]) == 1
        assert (await call(c, "forget", session_id=sid, key="q1"))["deleted"]
        t = await call(c, "create_task", session_id=sid, task_type="research", input_data={"topic": "x"}, priority=5)
        claimed = (await call(c, "claim_task", task_types=["research"]))["task"]
        assert claimed["id"] == t["id"] and claimed["created_by"] == "researcher"
        failed = await call(c, "fail_task", task_id=t["id"], claim_token=claimed["claim_token"], error="no sources",
                            retry=False)
        assert failed["status"] == "failed"
        assert [x["id"] for x in (await call(c, "list_tasks", session_id=sid, status="failed"))["tasks"]] == [t["id"]]
        a = await call(c, "save_artifact", session_id=sid, name="notes", type="research", content="n")
        assert (await call(c, "get_artifact", artifact_id=a["id"]))["content"] == "n"
        assert len((await call(c, "list_artifacts", session_id=sid))["artifacts"]) == 1
        await call(c, "register_agent", name="helper-bot", type="utility")
        assert "helper-bot" in {x["name"] for x in (await call(c, "list_agents"))["agents"]}


async def test_zero_configuration_uses_an_embedded_database():
    """No DATABASE_URL: the server starts an embedded PostgreSQL in the data directory,
    and a second process on the same data directory shares it."""
    with tempfile.TemporaryDirectory(prefix="mcp-sessions-home-") as home:
        data_dir = Path(home) / "data"
        env = {"MCP_SESSIONS_DATA_DIR": str(data_dir), "HOME": home}
        base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        with anyio.fail_after(120):
            async with stdio_client(None, agent="a1", **env) as first:
                sid = (await call(first, "create_session", title="embedded"))["id"]
                async with stdio_client(None, agent="a2", **env) as second:
                    assert (await call(second, "get_session", session_id=sid))["created_by"] == "a1"
        assert (data_dir / "pgdata" / "PG_VERSION").exists()
        assert base is not None

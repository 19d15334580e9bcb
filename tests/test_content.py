"""Chunks, memories and artifacts through the SDK's client."""

from __future__ import annotations

import pytest

from tests.conftest import call, call_error


@pytest.fixture
async def sid(client):
    return (await call(client, "create_session", title="content"))["id"]


async def test_chunk_roundtrip_in_slices(client, sid):
    content = "".join(f"line {i} é✓\n" for i in range(30_000))  # ~360k characters, multibyte
    chunk = await call(client, "add_chunk", session_id=sid, content=content, format="transcript", chunk_id="t1",
                       extracted_items={"decisions": ["a"]})
    assert chunk["size"] == len(content) and chunk["chunk_id"] == "t1" and "content" not in chunk
    parts, offset = [], 0
    while offset is not None:
        part = await call(client, "get_chunk", session_id=sid, chunk_id="t1", offset=offset)
        assert part["total_length"] == len(content) and len(part["content"]) <= 50_000
        parts.append(part["content"])
        offset = part["next_offset"]
    assert "".join(parts) == content
    tail = await call(client, "get_chunk", session_id=sid, chunk_id="t1", offset=len(content) - 5, length=100)
    assert tail["content"] == content[-5:] and tail["next_offset"] is None


async def test_chunk_resend_is_noop_but_other_content_conflicts(client, sid):
    first = await call(client, "add_chunk", session_id=sid, content="same", chunk_id="c")
    again = await call(client, "add_chunk", session_id=sid, content="same", chunk_id="c")
    assert again == first
    message = await call_error(client, "add_chunk", session_id=sid, content="different", chunk_id="c")
    assert message.startswith("[conflict]") and "different content" in message
    page = await call(client, "list_chunks", session_id=sid)
    assert [c["chunk_id"] for c in page["chunks"]] == ["c"]


async def test_list_chunks_pages_in_order(client, sid):
    for i in range(5):
        await call(client, "add_chunk", session_id=sid, content=f"c{i}", chunk_id=f"c{i}")
    first = await call(client, "list_chunks", session_id=sid, limit=2)
    second = await call(client, "list_chunks", session_id=sid, limit=2, cursor=first["next_cursor"])
    third = await call(client, "list_chunks", session_id=sid, limit=2, cursor=second["next_cursor"])
    ids = [c["chunk_id"] for p in (first, second, third) for c in p["chunks"]]
    assert ids == ["c0", "c1", "c2", "c3", "c4"] and third["next_cursor"] is None


async def test_remember_updates_and_versions(client, sid):
    m1 = await call(client, "remember", session_id=sid, key="db", type="decision", content={"use": "postgres"}, tags=["infra"])
    assert m1["version"] == 1
    m2 = await call(client, "remember", session_id=sid, key="db", type="decision", content={"use": "postgres 15"})
    assert m2["version"] == 2 and m2["content"] == {"use": "postgres 15"}
    assert (await call(client, "recall", session_id=sid, key="db"))["version"] == 2
    # optimistic concurrency: a writer holding version 1 is refused, nothing changes
    message = await call_error(client, "remember", session_id=sid, key="db", type="decision", content="x", expected_version=1)
    assert "[conflict]" in message and "version 2" in message
    m3 = await call(client, "remember", session_id=sid, key="db", type="decision", content="y", expected_version=2)
    assert m3["version"] == 3
    assert "[conflict]" in await call_error(client, "remember", session_id=sid, key="db", type="fact", content=1, expected_version=0)
    new = await call(client, "remember", session_id=sid, key="fresh", type="fact", content=[1, "two", None], expected_version=0)
    assert new["version"] == 1 and new["content"] == [1, "two", None]


async def test_list_memories_filters_and_forget(client, sid):
    await call(client, "remember", session_id=sid, key="a", type="idea", content="x", tags=["ui", "v2"])
    await call(client, "remember", session_id=sid, key="b", type="risk", content="y", tags=["ui"])
    await call(client, "remember", session_id=sid, key="c", type="risk", content="z")
    risks = await call(client, "list_memories", session_id=sid, type="risk")
    assert [m["key"] for m in risks["memories"]] == ["b", "c"]
    tagged = await call(client, "list_memories", session_id=sid, tags=["ui", "v2"])
    assert [m["key"] for m in tagged["memories"]] == ["a"]
    assert (await call(client, "forget", session_id=sid, key="a"))["deleted"] is True
    assert "[not_found]" in await call_error(client, "recall", session_id=sid, key="a")
    assert "[not_found]" in await call_error(client, "forget", session_id=sid, key="a")


async def test_memory_pages_stay_small(client, sid):
    """Pages stop at ~100 KB even when every memory is large; the cursor carries on without gaps."""
    big = "x" * 60_000
    for i in range(5):
        await call(client, "remember", session_id=sid, key=f"m{i}", type="context", content=big)
    keys, cursor, pages = [], None, 0
    while True:
        result = await client.call_tool("list_memories", {"session_id": sid, "cursor": cursor})
        assert len(result.content[0].text) < 200_000
        page = result.structured_content
        keys += [m["key"] for m in page["memories"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert keys == [f"m{i}" for i in range(5)] and pages >= 3


async def test_artifact_versions(client, sid):
    v1 = await call(client, "save_artifact", session_id=sid, name="api.py", type="code", content="print(1)", format="python")
    v2 = await call(client, "save_artifact", session_id=sid, name="api.py", type="code", content="print(2)", format="python",
                    metadata={"reviewed": True})
    assert (v1["version"], v2["version"]) == (1, 2) and v1["id"] != v2["id"]
    latest = await call(client, "get_artifact", session_id=sid, name="api.py")
    assert latest["content"] == "print(2)" and latest["artifact"]["version"] == 2
    old = await call(client, "get_artifact", session_id=sid, name="api.py", version=1)
    assert old["content"] == "print(1)"
    by_id = await call(client, "get_artifact", artifact_id=v1["id"], offset=6, length=2)
    assert by_id["content"] == "1)" and by_id["next_offset"] is None
    await call(client, "save_artifact", session_id=sid, name="prd.md", type="prd", content="# PRD")
    listed = await call(client, "list_artifacts", session_id=sid)
    assert [(a["name"], a["version"]) for a in listed["artifacts"]] == [("api.py", 2), ("prd.md", 1)]
    versions = await call(client, "list_artifacts", session_id=sid, name="api.py")
    assert [a["version"] for a in versions["artifacts"]] == [1, 2]
    only_prd = await call(client, "list_artifacts", session_id=sid, type="prd")
    assert [a["name"] for a in only_prd["artifacts"]] == ["prd.md"]
    assert "[not_found]" in await call_error(client, "get_artifact", session_id=sid, name="api.py", version=9)
    assert "[invalid_input]" in await call_error(client, "get_artifact", name="api.py")


async def test_agents_registry(client):
    agents = await call(client, "list_agents")
    assert {"claude_code", "codex", "gemini_cli", "researcher"} <= {a["name"] for a in agents["agents"]}
    reg = await call(client, "register_agent", name="reviewer", type="review", command="reviewer --mcp",
                     capabilities=["review"])
    assert reg["status"] == "available" and reg["last_seen"] is not None
    again = await call(client, "register_agent", name="reviewer", type="review", status="busy")
    assert again["status"] == "busy" and again["command"] is None
    busy = await call(client, "list_agents", status="busy")
    assert [a["name"] for a in busy["agents"]] == ["reviewer"]


async def test_results_carry_compact_json_text(client, sid):
    """The text block repeats the structured content as compact JSON (cheap for a client's context)."""
    import json

    result = await client.call_tool("get_session", {"session_id": sid})
    text = result.content[0].text
    assert json.loads(text) == result.structured_content
    assert "\n" not in text and ", " not in text


async def test_list_pages_stay_small(client):
    """Every listing stops a page at ~100 KB of JSON, and the cursor still reaches every row."""
    big = "y" * 60_000
    makers = {
        "list_tasks": lambda sid, i: call(client, "create_task", session_id=sid, task_type="code", input_data={"b": big}),
        "list_chunks": lambda sid, i: call(client, "add_chunk", session_id=sid, content="x", extracted_items=[big]),
        "list_artifacts": lambda sid, i: call(client, "save_artifact", session_id=sid, name=f"a{i}", type="code",
                                              content="x", metadata={"b": big}),
    }
    for tool, make in makers.items():
        sid = (await call(client, "create_session", title=tool))["id"]
        for i in range(5):
            await make(sid, i)
        seen, cursor, pages = 0, None, 0
        while True:
            result = await client.call_tool(tool, {"session_id": sid, "cursor": cursor})
            assert not result.is_error and len(result.content[0].text) < 200_000
            page = result.structured_content
            seen += len(next(v for v in page.values() if isinstance(v, list)))
            pages += 1
            if (cursor := page["next_cursor"]) is None:
                break
        assert seen == 5 and pages >= 3, tool

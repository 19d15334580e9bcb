"""No answer over 100 KB unless a range was asked for (issue 13, item 12): each JSON
field is capped at write (MCP_SESSIONS_MAX_JSON_BYTES, default 64 KiB), list_agents
pages, and every listing page stays under 100 KB however big its rows' fields are."""

from __future__ import annotations

from mcp import Client

from mcp_sessions.server import create_server
from mcp_sessions.validation import json_size
from tests.conftest import call, call_error, make_settings

KIB = 1024


def blob(size: int) -> dict:
    """A JSON object of exactly `size` bytes as compact JSON."""
    return {"b": "x" * (size - len('{"b":""}'))}


async def test_each_json_field_is_capped_at_64_kib(client):
    sid = (await call(client, "create_session", title="t", metadata=blob(64 * KIB)))["id"]
    over = blob(64 * KIB + 1)
    refusals = [
        ("create_session", {"title": "t", "metadata": over}),
        ("update_session", {"session_id": sid, "metadata": over}),
        ("save_artifact", {"session_id": sid, "name": "a", "type": "code", "content": "x", "metadata": over}),
        ("add_chunk", {"session_id": sid, "content": "x", "extracted_items": over}),
        ("create_task", {"session_id": sid, "task_type": "code", "input_data": over}),
        ("register_agent", {"name": "big", "type": "t", "capabilities": [over]}),
        # the list as a whole is the field: 100 items of 1 KiB are over
        ("register_agent", {"name": "big", "type": "t", "capabilities": [blob(KIB)] * 100}),
    ]
    for tool, arguments in refusals:
        message = await call_error(client, tool, **arguments)
        field = next(k for k in ("metadata", "extracted_items", "input_data", "capabilities") if k in arguments)
        assert f"{field}: is " in message and "over the limit of 65,536 (MCP_SESSIONS_MAX_JSON_BYTES)" in message
    task = await call(client, "create_task", session_id=sid, task_type="code", input_data=blob(64 * KIB))
    claim = (await call(client, "claim_task"))["task"]
    message = await call_error(client, "complete_task", task_id=task["id"], claim_token=claim["claim_token"], output_data=over)
    assert "output_data" in message and "65,536" in message
    # nothing refused was written
    summary = await call(client, "get_session", session_id=sid)
    assert summary["counts"]["artifacts"] == 0 and summary["counts"]["chunks"] == 0
    assert (await call(client, "get_task", task_id=task["id"]))["status"] == "claimed"
    assert "big" not in {a["name"] for a in (await call(client, "list_agents"))["agents"]}


async def test_the_limits_hold_for_what_a_session_holds(client):
    """update_session merges metadata and adds participants: the result is held to the
    limits, not only each call's part of it."""
    sid = (await call(client, "create_session", title="t", metadata=blob(40 * KIB)))["id"]
    message = await call_error(client, "update_session", session_id=sid, metadata={"more": "y" * 40 * KIB})
    assert "metadata: merged into the session's" in message and "65,536" in message
    await call(client, "update_session", session_id=sid, metadata={"b": None, "more": "y" * 40 * KIB})
    await call(client, "update_session", session_id=sid, add_participants=[f"a{i}" for i in range(100)])
    message = await call_error(client, "update_session", session_id=sid, add_participants=["one-more"], title="new")
    assert "101 participants" in message
    session = await call(client, "get_session", session_id=sid)
    assert session["title"] == "t" and len(session["participants"]) == 100 and set(session["metadata"]) == {"more"}


async def test_the_json_limit_is_a_setting(database_url):
    async with Client(create_server(make_settings(database_url, max_json_bytes=1000))) as client:
        message = await call_error(client, "create_session", title="t", metadata=blob(1001))
        assert "over the limit of 1,000" in message
        await call(client, "create_session", title="t", metadata=blob(1000))


PAGE_LIMIT = 100_000


def answer_size(result) -> int:
    """Bytes of the answer's text block (the same JSON as its structured content)."""
    return len(result.content[0].text.encode("utf-8"))


async def walk(client, tool: str, **arguments) -> tuple[list, int]:
    """Every page of a listing, asserting each is under 100 KB; (rows, largest page)."""
    rows, largest, cursor = [], 0, None
    for _ in range(500):
        result = await client.call_tool(tool, {**arguments, **({"cursor": cursor} if cursor else {})})
        assert not result.is_error, result.content[0].text
        size = answer_size(result)
        assert size < PAGE_LIMIT, f"{tool} answered {size:,} bytes"
        largest = max(largest, size)
        page = result.structured_content
        rows += next(v for k, v in page.items() if isinstance(v, list))
        cursor = page.get("next_cursor")
        if not cursor:
            return rows, largest
    raise AssertionError(f"{tool} never ended")


async def test_every_listing_page_stays_under_100_kb(client):
    """Every JSON field at its cap (64 KiB), texts at theirs, several rows of each: each
    page of each list_* answer (and search, get_session, claim_task) stays under 100 KB,
    and paging still reaches every row."""
    def near_cap(tag: str) -> dict:
        # multi-byte characters and escapes (4 bytes a pair): the cap is in bytes of compact JSON
        value = {"b": "é\"" * ((64 * KIB - 60) // 4) + tag}
        assert 64 * KIB - 80 < json_size(value) <= 64 * KIB
        return value

    participants = [f"agent-{i:03d}-" + "p" * 185 for i in range(100)]
    sids = []
    for i in range(4):
        sid = (await call(client, "create_session", title="t" * 500, participants=participants,
                          metadata=near_cap(f"s{i}"), session_id=f"s{i}-" + "x" * 190))["id"]
        sids.append(sid)
    sid = sids[0]
    for i in range(4):
        await call(client, "add_chunk", session_id=sid, content=f"word{i} common", chunk_id=f"c{i}",
                   extracted_items=near_cap(f"c{i}"))
        await call(client, "remember", session_id=sid, key=f"k{i}", type="fact", content=near_cap(f"m{i}"),
                   tags=[f"t{j:02d}" + "g" * 96 for j in range(50)])
        await call(client, "save_artifact", session_id=sid, name=f"a{i}-" + "n" * 290, type="document",
                   content="common", metadata=near_cap(f"a{i}"))
        await call(client, "register_agent", name=f"agent{i}", type="t", command="c" * 2000,
                   capabilities=[near_cap(f"g{i}")])
    for i in range(100):  # search hits: long titles (session title / chunk id), multi-byte snippets
        await call(client, "add_chunk", session_id=sid, chunk_id=f"hit{i:03d}-" + "h" * 190,
                   content=" ".join(["ééé"] * 60 + ["common"] + ["ééé"] * 60))
    tasks = []
    for i in range(4):
        tasks.append(await call(client, "create_task", session_id=sid, task_type="code", title="t" * 500,
                                input_data=near_cap(f"i{i}"), agent_name="agent0"))
    for task in tasks[:3]:
        claimed = await client.call_tool("claim_task", {"agent_name": "agent0"})
        assert answer_size(claimed) < PAGE_LIMIT
        claim = claimed.structured_content["task"]
        await call(client, "complete_task", task_id=claim["id"], claim_token=claim["claim_token"],
                   output_data=near_cap(f"o{claim['id']}"))
    claim = (await call(client, "claim_task", agent_name="agent0"))["task"]
    await call(client, "fail_task", task_id=claim["id"], claim_token=claim["claim_token"], error="e" * 10_000)
    for i in range(12):  # texts count too: twelve 10,000-character errors
        await call(client, "create_task", session_id=sids[1], task_type="code", agent_name="agent1")
        claim = (await call(client, "claim_task", agent_name="agent1"))["task"]
        await call(client, "fail_task", task_id=claim["id"], claim_token=claim["claim_token"], error="é" * 10_000,
                   retry=False)

    largest = {}
    for tool, arguments, count in [
        ("list_sessions", {}, 4), ("list_chunks", {"session_id": sid}, 4), ("list_memories", {"session_id": sid}, 4),
        ("list_artifacts", {"session_id": sid}, 4), ("list_agents", {}, 4), ("list_tasks", {}, 16),
        ("search", {"query": "common", "limit": 100}, 108),
    ]:
        rows, largest[tool] = await walk(client, tool, **arguments)
        assert len(rows) >= count, (tool, len(rows))
    result = await client.call_tool("get_session", {"session_id": sid})
    largest["get_session"] = answer_size(result)
    assert largest["get_session"] < PAGE_LIMIT
    print("largest answers:", largest)
    # a task whose input and output are both at the cap lists with its output left out,
    # named in the page's `omitted`; get_task still has it
    page = await call(client, "list_tasks", limit=1)
    done = page["tasks"][0]
    assert done["output_data"] is None and page["omitted"] == {done["id"]: ["output_data"]}
    assert (await call(client, "get_task", task_id=done["id"]))["output_data"]["b"].endswith(f"o{done['id']}")


async def test_list_agents_pages(client):
    for i in range(7):
        await call(client, "register_agent", name=f"agent{i}", type="t")
    names, cursor = [], None
    while True:
        page = await call(client, "list_agents", limit=3, **({"cursor": cursor} if cursor else {}))
        assert len(page["agents"]) <= 3
        names += [a["name"] for a in page["agents"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert names == sorted(names) and {f"agent{i}" for i in range(7)} <= set(names)
    assert (await call(client, "list_agents", status="busy"))["agents"] == []

"""No answer over 100 KB unless a range was asked for (issue 13, item 12): each JSON
field is capped at write (MCP_SESSIONS_MAX_JSON_BYTES, default 64 KiB), list_agents
pages, and every listing page stays under 100 KB however big its rows' fields are."""

from __future__ import annotations

from mcp import Client

from mcp_sessions.server import create_server
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


async def test_the_json_limit_is_a_setting(database_url):
    async with Client(create_server(make_settings(database_url, max_json_bytes=1000))) as client:
        message = await call_error(client, "create_session", title="t", metadata=blob(1001))
        assert "over the limit of 1,000" in message
        await call(client, "create_session", title="t", metadata=blob(1000))

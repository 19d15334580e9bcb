"""Arguments mean what was sent (issue 13, items 5-7): a string stays a string, any-JSON
parameters take the JSON value as sent, unknown arguments are refused with the closest
valid name, and ids match whole."""

from __future__ import annotations

import pytest
from mcp import Client

from mcp_sessions.server import create_server
from tests.conftest import call, call_error, make_settings

# Marked here, not only by conftest: otherwise anyio's plugin re-creates the items and
# drops their parametrize ids.
pytestmark = pytest.mark.anyio


async def test_a_string_that_looks_like_json_stays_a_string(client):
    sid = (await call(client, "create_session", title="first"))["id"]
    # "null" is a title, not "leave the title alone"
    assert (await call(client, "update_session", session_id=sid, title="null"))["title"] == "null"
    assert (await call(client, "update_session", session_id=sid, title="[1, 2]"))["title"] == "[1, 2]"

    # an idempotency key "null" is a key: the second call returns the first task
    first = await call(client, "create_task", session_id=sid, task_type="code", idempotency_key="null")
    again = await call(client, "create_task", session_id=sid, task_type="code", idempotency_key="null")
    assert again["id"] == first["id"] and first["idempotency_key"] == "null"

    # a session filter "null" filters (on a session that doesn't exist), it is not dropped
    other = (await call(client, "create_session", title="other"))["id"]
    await call(client, "create_task", session_id=other, task_type="code")
    assert (await call(client, "claim_task", session_id="null"))["task"] is None
    claimed = await call(client, "claim_task", session_id=sid)
    assert claimed["task"]["session_id"] == sid

    # any-JSON content takes the JSON value as sent: a string holding JSON stays a string
    memory = await call(client, "remember", session_id=sid, key="k", type="fact", content='{"a": 1}')
    assert memory["content"] == '{"a": 1}'
    assert (await call(client, "recall", session_id=sid, key="k"))["content"] == '{"a": 1}'
    assert (await call(client, "remember", session_id=sid, key="n", type="fact", content="null"))["content"] == "null"
    assert (await call(client, "remember", session_id=sid, key="o", type="fact", content={"a": 1}))["content"] == {"a": 1}
    task = await call(client, "create_task", session_id=sid, task_type="code", input_data="[1]")
    assert task["input_data"] == "[1]"

    # artifacts named like JSON can be read back by name
    for name in ("null", "[1]", '{"a": 1}', "123"):
        await call(client, "save_artifact", session_id=sid, name=name, type="document", content=f"body of {name}")
        read = await call(client, "get_artifact", session_id=sid, name=name)
        assert read["content"] == f"body of {name}" and read["artifact"]["name"] == name


async def test_a_list_sent_as_a_string_is_refused_not_reinterpreted(client):
    sid = (await call(client, "create_session", title="t"))["id"]
    message = await call_error(client, "remember", session_id=sid, key="k", type="fact", content=1, tags='["a", "b"]')
    assert "[invalid_input]" in message and "tags" in message


async def test_unknown_arguments_are_refused_with_the_closest_name(client):
    sid = (await call(client, "create_session", title="t"))["id"]
    await call(client, "remember", session_id=sid, key="k", type="fact", content=1)
    await call(client, "remember", session_id=sid, key="k", type="fact", content=2)
    message = await call_error(
        client, "remember", session_id=sid, key="k", type="fact", content=3, expectedVersion=1
    )
    assert message.startswith("[invalid_input] remember:"), message
    assert "expectedVersion" in message and "did you mean expected_version?" in message
    assert (await call(client, "recall", session_id=sid, key="k"))["content"] == 2  # nothing written

    await call(client, "create_task", session_id=sid, task_type="code")
    message = await call_error(client, "claim_task", leaseSeconds=5)
    assert "leaseSeconds" in message and "lease_seconds" in message
    assert (await call(client, "list_tasks", session_id=sid))["tasks"][0]["status"] == "pending"  # not claimed

    # nothing close: the message lists what the tool takes
    message = await call_error(client, "get_session", session_id=sid, zzz=1)
    assert "zzz" in message and "session_id" in message
    # several at once, each named
    message = await call_error(client, "list_sessions", foo=1, limt=2)
    assert "foo" in message and "limt" in message and "did you mean limit?" in message
    # and inside a nested object
    message = await call_error(
        client, "complete_task", task_id="t", claim_token="x", claim_next={"leaseSeconds": 5}
    )
    assert "claim_next.leaseSeconds" in message and "lease_seconds" in message


async def test_every_tool_refuses_unknown_arguments(database_url):
    """The mechanism, not a per-tool check: every registered tool, including ones added later."""
    server = create_server(make_settings(database_url))

    @server.tool()
    async def added_later(word: str) -> str:
        return word

    async with Client(server) as client:
        tools = (await client.list_tools()).tools
        assert "added_later" in {t.name for t in tools}
        for tool in tools:
            message = await call_error(client, tool.name, definitely_not_a_parameter="null")
            assert message.startswith(f"[invalid_input] {tool.name}: definitely_not_a_parameter"), message


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("create_session", {"title": "t", "session_id": "S\n"}),
        ("get_session", {"session_id": "S\n"}),
        ("register_agent", {"name": "agent\n", "type": "t"}),
        ("remember", {"session_id": "S", "key": "k\n", "type": "fact", "content": 1}),
    ],
)
async def test_ids_match_whole(client, tool, arguments):
    await call(client, "create_session", title="t", session_id="S")
    message = await call_error(client, tool, **arguments)
    assert "[invalid_input]" in message
    sessions = (await call(client, "list_sessions"))["sessions"]
    assert [s["id"] for s in sessions] == ["S"]

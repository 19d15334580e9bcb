"""No tracebacks, ever (issue 13, item 8): values that used to end in "Error executing
tool" (cursors decoding to the wrong types, integers past what PostgreSQL's int4 and
int8 hold) are each a clear [invalid_input], and nothing is written."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import call, call_error

pytestmark = pytest.mark.anyio


def cursor(*values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


WRONG_CURSORS = [cursor(1, 2), cursor("x", "y"), cursor(None, None), cursor([], {}), cursor("2026-01-01T00:00:00Z", 5),
                 cursor("abc"), cursor(1.5), cursor(2**70), cursor("fulltext", "x", 1), cursor("fulltext", 1, "x"),
                 cursor(True), cursor("x", 2**63), cursor("fuzzy", "nan", 1), cursor("2026-01-01T00:00:00", "x")]


async def test_cursors_of_the_wrong_types_are_invalid_input(client):
    sid = (await call(client, "create_session", title="t"))["id"]
    listings = [
        ("list_sessions", {}), ("list_chunks", {"session_id": sid}), ("list_memories", {"session_id": sid}),
        ("list_tasks", {}), ("list_artifacts", {"session_id": sid}), ("search", {"query": "word"}),
    ]
    refused = 0
    for tool, arguments in listings:
        for bad in WRONG_CURSORS:
            # Some of these are well-formed for one listing (a name and a version): a page
            # after that position is an answer too. Anything else is a clear refusal.
            result = await client.call_tool(tool, {"cursor": bad, **arguments})
            if result.is_error:
                refused += 1
                assert result.content[0].text.startswith(f"[invalid_input] {tool}: cursor"), (tool, bad, result)
    assert refused >= len(listings) * (len(WRONG_CURSORS) - 2)


async def test_integers_past_the_database_types_are_invalid_input(client):
    sid = (await call(client, "create_session", title="t"))["id"]
    await call(client, "add_chunk", session_id=sid, chunk_id="c", content="hello")
    await call(client, "save_artifact", session_id=sid, name="a", type="code", content="x")
    await call(client, "remember", session_id=sid, key="k", type="fact", content=1)
    cases = [
        ("get_chunk", {"session_id": sid, "chunk_id": "c", "offset": 2**31}, "offset"),
        ("get_chunk", {"session_id": sid, "chunk_id": "c", "length": 2**31}, "length"),
        ("get_chunk", {"session_id": sid, "chunk_id": "c", "offset": 2**80}, "offset"),
        ("get_artifact", {"session_id": sid, "name": "a", "offset": 2**31}, "offset"),
        ("get_artifact", {"session_id": sid, "name": "a", "length": 2**31}, "length"),
        ("get_artifact", {"session_id": sid, "name": "a", "version": 2**31}, "version"),
        ("remember", {"session_id": sid, "key": "k", "type": "fact", "content": 2, "expected_version": 2**31}, "expected_version"),
    ]
    for tool, arguments, field in cases:
        message = await call_error(client, tool, **arguments)
        assert message.startswith(f"[invalid_input] {tool}: {field}"), message
    assert (await call(client, "recall", session_id=sid, key="k"))["content"] == 1
    # the largest allowed values work (an offset past the end says so)
    read = await call(client, "get_chunk", session_id=sid, chunk_id="c", offset=1, length=2**31 - 1)
    assert read["content"] == "ello" and read["next_offset"] is None
    read = await call(client, "get_artifact", session_id=sid, name="a", offset=1, length=2**31 - 1)
    assert read["content"] == "" and read["total_length"] == 1
    message = await call_error(client, "get_chunk", session_id=sid, chunk_id="c", offset=2**31 - 1, length=2**31 - 1)
    assert "[invalid_input]" in message and "past the end" in message

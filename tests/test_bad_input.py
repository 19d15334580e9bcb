"""Every kind of bad input, over stdio against a real `mcp-sessions serve`: a tool error
naming the field and what is allowed, no traceback, no partial write, and the server
keeps serving."""

from __future__ import annotations

import pytest

from tests.conftest import call, call_error, stdio_client

NUL = "a\x00b"
SURROGATE = "a\ud800b"


@pytest.fixture
async def server(database_url):
    async with stdio_client(database_url, agent="bad-input", MCP_SESSIONS_MAX_CONTENT_BYTES="4096") as c:
        yield c


async def test_bad_input_is_refused_cleanly(server):
    c = server
    sid = (await call(c, "create_session", title="bad input"))["id"]
    cases = [
        # (tool, arguments, expected fragments of the message)
        ("get_session", {"session_id": "no-such-session"}, ["[not_found]", "no-such-session"]),
        ("add_chunk", {"session_id": "no-such-session", "content": "x"}, ["[not_found]"]),
        ("get_task", {"task_id": "no-such-task"}, ["[not_found]", "task"]),
        ("get_artifact", {"artifact_id": "no-such-artifact"}, ["[not_found]", "artifact"]),
        ("recall", {"session_id": sid, "key": "no-such-key"}, ["[not_found]", "no-such-key"]),
        ("add_chunk", {"session_id": sid, "content": "x", "format": "poem"},
         ["[invalid_input]", "format", "'dialogue', 'summary' or 'transcript'"]),
        ("remember", {"session_id": sid, "key": "k", "type": "hunch", "content": 1}, ["[invalid_input]", "type", "'decision'"]),
        ("create_task", {"session_id": sid, "task_type": "dance"}, ["[invalid_input]", "task_type", "'code'"]),
        ("update_session", {"session_id": sid, "status": "archived"}, ["[invalid_input]", "status", "'completed'"]),
        ("create_session", {"title": ""}, ["[invalid_input]", "title", "at least 1 character"]),
        ("create_session", {"title": "t" * 501}, ["[invalid_input]", "title", "at most 500 characters"]),
        ("remember", {"session_id": sid, "key": "k" * 201, "type": "fact", "content": 1}, ["[invalid_input]", "key", "at most 200"]),
        ("remember", {"session_id": sid, "key": "has space", "type": "fact", "content": 1}, ["[invalid_input]", "key", "letters, digits"]),
        ("add_chunk", {"session_id": sid, "content": "x" * 5000}, ["[invalid_input]", "5,000 bytes", "limit of 4,096"]),
        ("save_artifact", {"session_id": sid, "name": "big", "type": "code", "content": "é" * 2100}, ["[invalid_input]", "limit"]),
        ("add_chunk", {"session_id": sid, "content": NUL}, ["[invalid_input]", "content", "NUL"]),
        ("create_session", {"title": NUL}, ["[invalid_input]", "title", "NUL"]),
        ("remember", {"session_id": sid, "key": "k", "type": "fact", "content": {"a": [NUL]}}, ["[invalid_input]", "content", "NUL"]),
        ("remember", {"session_id": sid, "key": "k", "type": "fact", "content": {NUL: 1}}, ["[invalid_input]", "key", "NUL"]),
        ("list_sessions", {"cursor": "not-a-cursor"}, ["[invalid_input]", "cursor"]),
        ("list_chunks", {"session_id": sid, "cursor": "eyJ4IjoxfQ"}, ["[invalid_input]", "cursor"]),
        ("list_sessions", {"limit": -1}, ["[invalid_input]", "limit", "greater than or equal to 1"]),
        ("list_sessions", {"limit": 10**9}, ["[invalid_input]", "limit", "less than or equal to 200"]),
        ("get_chunk", {"session_id": sid, "chunk_id": "c", "offset": -5}, ["[invalid_input]", "offset"]),
        ("add_chunk", {"session_id": sid}, ["[invalid_input]", "content", "required"]),
        ("list_sessions", {"limit": "many"}, ["[invalid_input]", "limit"]),
        ("create_task", {"session_id": sid, "task_type": "code", "input_data": {"blob": "x" * 300_000}},
         ["[invalid_input]", "input_data", "over the limit of 65,536 (MCP_SESSIONS_MAX_JSON_BYTES)"]),
        ("update_session", {"session_id": sid, "metadata": {"k": ["y" * 1000] * 300}}, ["[invalid_input]", "metadata", "limit"]),
        ("remember", {"session_id": sid, "key": "big", "type": "fact", "content": "z" * 70_000}, ["[invalid_input]", "memory limit"]),
    ]
    for tool, arguments, fragments in cases:
        message = await call_error(c, tool, **arguments)
        for fragment in fragments:
            assert fragment in message, f"{tool}{arguments!r:.80}: {fragment!r} not in {message!r}"
        assert "pydantic.dev" not in message and len(message) < 1000

    # stale claim token
    task = await call(c, "create_task", session_id=sid, task_type="code")
    claim = (await call(c, "claim_task", session_id=sid))["task"]
    assert claim["id"] == task["id"]
    message = await call_error(c, "complete_task", task_id=task["id"], claim_token="f" * 8)
    assert "[stale_claim]" in message
    message = await call_error(c, "complete_task", task_id=task["id"], claim_token="00000000-0000-0000-0000-000000000000")
    assert "[stale_claim]" in message and "stale" in message
    done = await call(c, "complete_task", task_id=task["id"], claim_token=claim["claim_token"])
    assert done["status"] == "completed"
    assert "[stale_claim]" in await call_error(c, "fail_task", task_id=task["id"], claim_token=claim["claim_token"], error="late")

    # nothing above left a partial write, and the server still serves
    summary = await call(c, "get_session", session_id=sid)
    assert summary["counts"]["chunks"] == 0 and summary["counts"]["memories"] == 0
    assert summary["counts"]["artifacts"] == 0 and summary["counts"]["tasks"] == 1


async def test_sql_metacharacters_are_stored_verbatim(server):
    c = server
    evil = "Robert'); DROP TABLE sessions;-- $1 %s \\x00 ' \" ;"
    sid = (await call(c, "create_session", title=evil, metadata={evil: evil}))["id"]
    await call(c, "remember", session_id=sid, key="k", type="fact", content=evil, tags=[evil])
    await call(c, "add_chunk", session_id=sid, content=evil, chunk_id="c1")
    got = await call(c, "get_session", session_id=sid)
    assert got["title"] == evil and got["metadata"] == {evil: evil}
    assert (await call(c, "recall", session_id=sid, key="k"))["tags"] == [evil]
    assert (await call(c, "get_chunk", session_id=sid, chunk_id="c1"))["content"] == evil
    assert (await call(c, "list_sessions"))["sessions"]


async def test_lone_surrogates_are_refused(database_url):
    """JSON can carry "\\ud800", but no SDK transport delivers it (the client can't encode
    it and the server's JSON parser rejects the line); our own check stands behind
    them, exercised here by calling the server's tool dispatch directly."""
    from mcp.server.mcpserver.exceptions import ToolError

    from tests.conftest import make_settings
    from mcp_sessions.server import create_server

    server = create_server(make_settings(database_url))
    for tool, arguments in [
        ("add_chunk", {"session_id": "s", "content": SURROGATE}),
        ("create_session", {"title": SURROGATE}),
        ("create_task", {"session_id": "s", "task_type": "code", "input_data": {"x": [SURROGATE]}}),
        ("remember", {"session_id": "s", "key": "k", "type": "fact", "content": {SURROGATE: 1}}),
    ]:
        with pytest.raises(ToolError) as refused:
            await server.call_tool(tool, arguments)
        message = str(refused.value)
        assert message.startswith(f"[invalid_input] {tool}:"), message
        assert "surrogate" in message or "unicode" in message, message


async def test_malformed_json_line_does_not_stop_the_server(database_url):
    """A raw client sends a line the protocol can't parse, then a valid call: it is answered,
    and every line on stdout is JSON-RPC (logs go to stderr)."""
    import asyncio
    import json
    import os
    import sys

    from tests.conftest import REPO

    env = dict(os.environ, DATABASE_URL=database_url, MCP_SESSIONS_LOG_LEVEL="DEBUG")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mcp_sessions", "serve", cwd=str(REPO), env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )

    async def send(line: str) -> None:
        proc.stdin.write(line.encode() + b"\n")
        await proc.stdin.drain()

    async def answer(request_id: int) -> dict:
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            message = json.loads(line)  # fails if anything but JSON reaches stdout
            if message.get("id") == request_id:
                return message

    try:
        await send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}))
        assert "result" in await answer(1)
        await send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        await send('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_session","arguments":{"title":"a\\ud800b"}}}')
        await send("this is not json")
        await send(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                               "params": {"name": "create_session", "arguments": {"title": "still here"}}}))
        reply = await answer(3)
        assert reply["result"]["structuredContent"]["title"] == "still here"
    finally:
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 30)
    stderr = (await proc.stderr.read()).decode()
    assert "DEBUG" in stderr or "INFO" in stderr  # the logs went to stderr, not stdout

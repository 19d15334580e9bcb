"""Words that fit (issue 13, item 19): a stale claim after your own fail_task says so,
history details write times in ISO 8601, cancel_task says it cancels running tasks too,
CLI errors name CLI commands, "1 name", CLI search snippets keep the match, and
last_seen moves on any call by that agent (at most once a minute)."""

from __future__ import annotations

import re

from mcp_sessions.cli.search import around_match
from tests.cli_support import cli, ok
from tests.conftest import call, call_error

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
PG_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")


async def test_a_stale_claim_after_your_own_fail_task_says_so(client):
    sid = (await call(client, "create_session", title="t"))["id"]
    task = await call(client, "create_task", session_id=sid, task_type="code")
    claim = (await call(client, "claim_task"))["task"]
    await call(client, "fail_task", task_id=task["id"], claim_token=claim["claim_token"], error="flaky")
    message = await call_error(client, "complete_task", task_id=task["id"], claim_token=claim["claim_token"])
    assert "[stale_claim]" in message and "tester gave it up with fail_task" in message, message
    assert "lease ran out" not in message and ISO.search(message), message

    detail = await call(client, "get_task", task_id=task["id"])
    retry = next(e for e in detail["history"] if e["event"] == "retry_scheduled")
    assert retry["detail"].startswith("flaky (retry after ") and ISO.search(retry["detail"]), retry
    assert not PG_TIME.search(retry["detail"]), retry


async def test_cancel_task_says_running_tasks_too(client):
    tool = next(t for t in (await client.list_tools()).tools if t.name == "cancel_task")
    assert "running" in tool.description


async def test_last_seen_moves_on_any_call(client, conn):
    # registered two hours ago (by someone else: the client's own calls start now)
    await conn.execute("INSERT INTO agents (name, type, last_seen) VALUES ('tester', 'cli', now() - interval '2 hours')")
    await call_error(client, "get_session", session_id="no-such")  # any call, a refused one too
    moved = await conn.fetchval("SELECT last_seen > now() - interval '1 minute' FROM agents WHERE name = 'tester'")
    assert moved
    # at most once a minute: the next calls don't write
    await conn.execute("UPDATE agents SET last_seen = now() - interval '2 hours' WHERE name = 'tester'")
    await call(client, "list_sessions")
    assert await conn.fetchval("SELECT last_seen < now() - interval '1 hour' FROM agents WHERE name = 'tester'")
    # a call by an agent that isn't registered registers nothing
    assert await conn.fetchval("SELECT count(*) FROM agents WHERE name = 'anonymous'") == 0


async def test_cli_errors_name_cli_commands(database_url):
    run = await cli(database_url, "tasks", "show", "no-such-task")
    assert run.code == 1 and "`mcp-sessions tasks list` shows the existing ones" in run.err, run.err
    assert "list_tasks" not in run.err
    run = await cli(database_url, "sessions", "show", "no-such-session")
    assert "`mcp-sessions sessions list`" in run.err and "list_sessions" not in run.err, run.err


async def test_one_name_and_snippets_keep_the_match(database_url, client):
    sid = (await call(client, "create_session", title="t"))["id"]
    await call(client, "save_artifact", session_id=sid, name="only.md", type="document", content="x")
    shown = await ok(database_url, "sessions", "show", sid)
    assert "(1 name, latest versions)" in shown.out, shown.out
    words = " ".join(f"filler{i}" for i in range(40))
    await call(client, "add_chunk", session_id=sid, content=f"{words} needle {words}")
    found = await ok(database_url, "search", "needle")
    assert "**needle**" in found.out, found.out
    assert around_match("a " * 60 + "**end**").endswith("**end**")

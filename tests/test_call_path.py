"""The short call path: no session check before a write (the foreign key refuses a missing
session, reported as not found), and no reset query when a connection goes back to the pool."""

from __future__ import annotations

from mcp_sessions.config import Settings
from mcp_sessions.db import open_pool
from tests.conftest import call, call_error


async def test_writes_into_a_missing_session_are_not_found_and_write_nothing(client, conn):
    writes = [
        ("remember", {"key": "k", "type": "fact", "content": 1}),
        ("remember", {"key": "k", "type": "fact", "content": 1, "expected_version": 0}),
        ("remember", {"key": "k", "type": "fact", "content": 1, "expected_version": 3}),
        ("add_chunk", {"content": "hello"}),
        ("save_artifact", {"name": "a.md", "type": "document", "content": "doc"}),
        ("create_task", {"task_type": "code"}),
    ]
    for tool, arguments in writes:
        message = await call_error(client, tool, session_id="nowhere", **arguments)
        assert message.startswith("[not_found]") and "session 'nowhere' not found: list_sessions" in message, (
            tool, message)
    counts = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM memories) + (SELECT count(*) FROM conversation_chunks)"
        " + (SELECT count(*) FROM artifacts) + (SELECT count(*) FROM tasks) AS n")
    assert counts["n"] == 0
    # ...and into one that exists, they land.
    sid = (await call(client, "create_session", title="here"))["id"]
    for tool, arguments in writes:
        if tool == "remember":
            if arguments["expected_version"] if "expected_version" in arguments else False:
                continue  # version 3 of a memory that doesn't exist: a conflict, as it should be
            arguments = {**arguments, "key": f"k{arguments.get('expected_version')}"}
        await call(client, tool, session_id=sid, **arguments)


async def test_a_released_connection_keeps_its_session_but_not_an_open_transaction(database_url):
    async with open_pool(Settings(DATABASE_URL=database_url, pool_min_size=1, pool_max_size=1)) as pool:
        async with pool.acquire() as first:
            pid = await first.fetchval("SELECT pg_backend_pid()")
            await first.execute("SELECT set_config('mcp_sessions.activity_mark', 'kept', false)")
            await first.execute("BEGIN")
            await first.execute("CREATE TEMP TABLE left_open (x int)")
        async with pool.acquire() as second:
            assert await second.fetchval("SELECT pg_backend_pid()") == pid
            # No RESET ALL: the triggers' marks outlive the call, as they are meant to...
            assert await second.fetchval("SELECT current_setting('mcp_sessions.activity_mark')") == "kept"
            # ...but what a call left open is rolled back (asyncpg does that itself).
            assert not await second.fetchval("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
            assert await second.fetchval("SELECT to_regclass('pg_temp.left_open')") is None

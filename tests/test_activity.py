"""Activity tracking by the database, without a hot session row."""

from __future__ import annotations

import asyncpg

from mcp_sessions.db import connect
from mcp_sessions.store import artifacts, chunks, memories, sessions, tasks


async def _connections_on_different_stripes(dsn: str) -> tuple[asyncpg.Connection, asyncpg.Connection]:
    first = await connect(dsn)
    stripe = await first.fetchval("SELECT pg_backend_pid() % 32")
    spare = []
    while True:
        other = await connect(dsn)
        if await other.fetchval("SELECT pg_backend_pid() % 32") != stripe:
            for conn in spare:
                await conn.close()
            return first, other
        spare.append(other)


async def test_concurrent_writers_to_one_session_do_not_wait_for_each_other(database_url):
    a, b = await _connections_on_different_stripes(database_url)
    try:
        s = await sessions.create(a, title="busy", participants=[], metadata={}, session_id="busy", agent="x")
        before = s.last_activity
        # Writer A holds an open transaction that wrote to the session...
        tx = a.transaction()
        await tx.start()
        await chunks.add(a, "busy", content="from a", format="dialogue", chunk_id="a", extracted_items={}, agent="a")
        # ...and writer B's writes to the same session must not queue behind it.
        await b.execute("SET lock_timeout = '3s'")
        async with b.transaction():
            await chunks.add(b, "busy", content="from b", format="dialogue", chunk_id="b", extracted_items={}, agent="b")
            await memories.remember(b, "busy", key="k", type="fact", content=1, tags=[], expected_version=None, agent="b")
            await tasks.create(b, "busy", task_type="code", agent_name=None, title=None, input_data={}, priority=0, agent="b")
            await artifacts.save(b, "busy", name="n", type="code", content="c", format="python", metadata={}, agent="b")
            await sessions.update(b, "busy", title="renamed", status=None, add_participants=["b"], metadata=None)
        await tx.commit()
        after = await sessions.get(b, "busy")
        assert after.title == "renamed" and after.counts.chunks == 2 and after.counts.memories == 1
        assert after.last_activity > before
    finally:
        await a.close()
        await b.close()


async def test_last_activity_follows_writes(conn):
    s = await sessions.create(conn, title="t", participants=[], metadata={}, session_id="t", agent="x")
    # Kept to the second: a write within a second of the stored time doesn't rewrite it.
    await conn.execute("UPDATE sessions SET last_activity = last_activity - interval '1 minute'")
    older = (await sessions.get(conn, "t")).last_activity
    await chunks.add(conn, "t", content="x", format="dialogue", chunk_id="c", extracted_items={}, agent="x")
    later = await sessions.get(conn, "t")
    assert later.last_activity >= s.last_activity > older
    listed = await sessions.list_page(conn, status=None, participant=None, limit=10, cursor=None)
    assert listed.sessions[0].last_activity == later.last_activity


async def test_activity_is_written_at_commit_at_most_once_a_second(conn):
    await sessions.create(conn, title="t", participants=[], metadata={}, session_id="t", agent="x")
    await conn.execute("UPDATE sessions SET last_activity = last_activity - interval '1 minute'")
    versions = await conn.fetchval("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'sessions'")
    async with conn.transaction():
        for i in range(20):
            await memories.remember(conn, "t", key=f"k{i}", type="fact", content=i, tags=[], expected_version=None,
                                    agent="x")
        # Deferred to COMMIT: nothing locks or rewrites the session row before it.
        assert await conn.fetchval("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'sessions'") \
            == versions
    fresh = await conn.fetchval("SELECT last_activity > now() - interval '10 seconds' FROM sessions")
    assert fresh
    async with conn.transaction():
        await memories.remember(conn, "t", key="k0", type="fact", content=2, tags=[], expected_version=None, agent="x")
        stamp = await conn.fetchval("SELECT last_activity FROM sessions")
    # Within the same second: the stored time stands.
    assert await conn.fetchval("SELECT last_activity FROM sessions") == stamp

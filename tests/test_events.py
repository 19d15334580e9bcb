"""The event feed: every change has its event, written with the change (psql included);
a reader following next_after never skips or repeats one, whatever the commit order;
watch(wait_seconds) is woken by NOTIFY across processes; retention; the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import anyio
import pytest

from mcp_sessions.db import connect
from tests.conftest import REPO, call, call_error, stdio_client

POLL = 5.0  # the listener's fallback poll: a wait that returns sooner was woken by NOTIFY


async def all_events(client, **filters) -> list[dict]:
    out, after = [], "0"
    while True:
        page = await call(client, "watch", after=after, limit=500, **filters)
        out += page["events"]
        if not page["events"]:
            return out
        after = page["next_after"]


async def test_every_change_has_its_event_in_order(client):
    sid = (await call(client, "create_session", title="feed"))["id"]
    await call(client, "add_chunk", session_id=sid, content="hello there", format="dialogue", chunk_id="c1")
    await call(client, "remember", session_id=sid, key="db", type="decision", content="postgres")
    await call(client, "forget", session_id=sid, key="db")
    await call(client, "save_artifact", session_id=sid, name="plan.md", type="document", content="# plan")
    await call(client, "update_session", session_id=sid, status="paused")
    t1 = (await call(client, "create_task", session_id=sid, task_type="code", title="build"))["id"]
    claim = (await call(client, "claim_task", session_id=sid))["task"]
    await call(client, "start_task", task_id=t1, claim_token=claim["claim_token"])
    await call(client, "complete_task", task_id=t1, claim_token=claim["claim_token"])
    t2 = (await call(client, "create_task", session_id=sid, task_type="code", title="retry me"))["id"]
    claim = (await call(client, "claim_task", session_id=sid))["task"]
    await call(client, "fail_task", task_id=t2, claim_token=claim["claim_token"], error="flaky", retry=False)
    t3 = (await call(client, "create_task", session_id=sid, task_type="code"))["id"]
    await call(client, "cancel_task", task_id=t3, reason="not needed")

    events = await all_events(client, session_id=sid)
    assert [e["kind"] for e in events] == [
        "session.created", "chunk.added", "memory.set", "memory.forgotten", "artifact.saved", "session.updated",
        "task.created", "task.claimed", "task.started", "task.completed",
        "task.created", "task.claimed", "task.failed",
        "task.created", "task.cancelled",
    ]
    assert {e["agent"] for e in events} == {"tester"}
    assert events[1]["refs"] == {"chunk_id": "c1", "format": "dialogue", "size": 11}
    assert events[2]["refs"]["key"] == "db" and events[2]["refs"]["version"] == 1
    assert events[9]["refs"]["task_id"] == t1
    assert all(len(e["summary"]) <= 200 and "hello there" not in e["summary"] for e in events)
    cursors = [e["cursor"] for e in events]
    assert len(set(cursors)) == len(cursors)
    # Filters: kinds (exact or prefix) and session.
    done = await call(client, "watch", session_id=sid, after="0", kinds=["task.completed", "memory.*"])
    assert [e["kind"] for e in done["events"]] == ["memory.set", "memory.forgotten", "task.completed"]
    other = (await call(client, "create_session", title="other"))["id"]
    assert [e["session_id"] for e in await all_events(client, session_id=other)] == [other]


async def test_a_change_made_in_psql_has_its_event(client, conn):
    sid = (await call(client, "create_session", title="psql"))["id"]
    start = (await call(client, "watch", session_id=sid))["next_after"]
    await conn.execute(
        "INSERT INTO memories (session_id, key, type, content, created_by, updated_by) "
        "VALUES ($1, 'from-psql', 'fact', '1', 'dba', 'dba')", sid)
    page = await call(client, "watch", session_id=sid, after=start)
    assert [(e["kind"], e["agent"], e["refs"]["key"]) for e in page["events"]] == [("memory.set", "dba", "from-psql")]


async def test_a_later_commit_of_an_earlier_transaction_is_not_skipped(client, database_url):
    """The reordering case: A writes first (lower xid and id) and commits last. A reader
    that read B's event first would have moved past A's position and lost A forever; here
    B's event is held back until A has committed, and then both come, A first."""
    sid = (await call(client, "create_session", title="reorder"))["id"]
    start = (await call(client, "watch", session_id=sid))["next_after"]
    a, b = await connect(database_url), await connect(database_url)
    try:
        insert = ("INSERT INTO memories (session_id, key, type, content, created_by, updated_by) "
                  "VALUES ($1, $2, 'fact', '1', $2, $2)")
        tx_a = a.transaction()
        await tx_a.start()
        await a.execute(insert, sid, "a")
        await b.execute(insert, sid, "b")  # B commits while A is still open
        held = await call(client, "watch", session_id=sid, after=start)
        assert held["events"] == [] and held["next_after"] == start
        # A waiting reader is not woken for B alone: it keeps waiting until A commits.
        async with anyio.create_task_group() as tg:
            got = {}

            async def reader():
                got["page"] = await call(client, "watch", session_id=sid, after=start, wait_seconds=10)

            tg.start_soon(reader)
            await anyio.sleep(0.5)
            assert "page" not in got
            await tx_a.commit()
        assert [e["agent"] for e in got["page"]["events"]] == ["a", "b"]
        after = got["page"]["next_after"]
        assert (await call(client, "watch", session_id=sid, after=after))["events"] == []
    finally:
        await a.close()
        await b.close()


WRITER = """
import asyncio, random, sys
import asyncpg

async def main(dsn, sid, name, n):
    conn = await asyncpg.connect(dsn)
    for i in range(n):
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO memories (session_id, key, type, content, created_by, updated_by) "
                "VALUES ($1, $2, 'fact', '1', $3, $3)", sid, f"{name}-{i}", name)
            # hold some transactions open, so commits land out of id order
            await asyncio.sleep(random.choice([0, 0, 0.001, 0.02]))
    await conn.close()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""


@pytest.mark.slow
async def test_concurrent_writers_and_readers_never_skip_or_repeat(client, database_url):
    """Four writer processes commit out of order; two reader server processes follow the
    feed with waiting watch calls. Each reader sees every event exactly once, in one order."""
    sid = (await call(client, "create_session", title="concurrent"))["id"]
    start = (await call(client, "watch", session_id=sid))["next_after"]
    writers, per_writer = 4, 60
    expected = writers * per_writer

    async def follow(seen: list[dict]) -> None:
        async with stdio_client(database_url, agent="reader") as reader:
            after = start
            with anyio.fail_after(120):
                while len(seen) < expected:
                    page = await call(reader, "watch", session_id=sid, after=after, wait_seconds=5, limit=7)
                    seen += page["events"]
                    after = page["next_after"]
            # and nothing more comes
            assert (await call(reader, "watch", session_id=sid, after=after))["events"] == []

    readers: list[list[dict]] = [[], []]
    async with anyio.create_task_group() as tg:
        for seen in readers:
            tg.start_soon(follow, seen)
        await anyio.sleep(1.0)  # readers started and waiting
        procs = [
            await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, database_url, sid, f"w{i}",
                                                 str(per_writer))
            for i in range(writers)
        ]
        for proc in procs:
            assert await proc.wait() == 0
    for seen in readers:
        keys = [e["refs"]["key"] for e in seen]
        assert len(keys) == expected and len(set(keys)) == expected, "an event was skipped or repeated"
    assert [e["cursor"] for e in readers[0]] == [e["cursor"] for e in readers[1]]


async def test_watch_is_woken_across_processes(database_url):
    """A watch waiting in one server process returns when another process writes, well
    before the fallback poll could have found it."""
    async with stdio_client(database_url, agent="lead") as lead, stdio_client(database_url, agent="dev") as dev:
        sid = (await call(lead, "create_session", title="wake"))["id"]
        got = {}

        async def waiter():
            started = time.monotonic()
            got["page"] = await call(lead, "watch", session_id=sid, kinds=["chunk.added"], wait_seconds=30)
            got["seconds"] = time.monotonic() - started

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.sleep(0.8)
            await call(dev, "remember", session_id=sid, key="noise", type="fact", content=1)  # not a match
            await call(dev, "add_chunk", session_id=sid, content="news", format="summary")
        assert [(e["kind"], e["agent"]) for e in got["page"]["events"]] == [("chunk.added", "dev")]
        assert got["seconds"] < POLL


async def test_writers_pay_no_notify_while_nobody_listens(client, conn):
    sid = (await call(client, "create_session", title="quiet"))["id"]
    assert await conn.fetchval("SELECT count(*) FROM event_listeners") == 0
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: call(client, "watch", session_id=sid, wait_seconds=1.0))
        with anyio.fail_after(5):
            while not await conn.fetchval("SELECT count(*) FROM event_listeners WHERE session_id = $1", sid):
                await anyio.sleep(0.02)


async def test_bad_cursors_and_kinds_are_clear_errors(client):
    assert "not an event cursor" in await call_error(client, "watch", after="yesterday")
    assert "unknown event kind 'task.done'" in await call_error(client, "watch", kinds=["task.done"])


async def test_a_cursor_older_than_retention_points_at_catch_up(client, conn):
    sid = (await call(client, "create_session", title="old"))["id"]
    await call(client, "remember", session_id=sid, key="k", type="fact", content=1)
    first = (await call(client, "watch", session_id=sid, after="0"))["events"][0]["cursor"]
    await call(client, "remember", session_id=sid, key="k2", type="fact", content=1)
    await conn.execute("UPDATE events SET at = now() - interval '31 days'")
    assert await conn.fetchval("SELECT prune_events(interval '30 days')") >= 3
    message = await call_error(client, "watch", session_id=sid, after=first)
    assert "older than the events kept" in message and "catch_up" in message
    # '0' starts at what is kept, without an error.
    assert (await call(client, "watch", after="0"))["events"] == []


async def test_cli_watch_prints_the_feed(seeded):
    dsn, ids = seeded
    env = {**os.environ, "DATABASE_URL": dsn, "MCP_SESSIONS_LOG_LEVEL": "WARNING"}
    once = subprocess.run(
        [sys.executable, "-m", "mcp_sessions", "watch", "--after", "0", "--once", "--kinds", "session.*"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=60,
    )
    assert once.returncode == 0, once.stderr
    assert "session.created" in once.stdout and "task." not in once.stdout
    # Following: a change made after it started is printed.
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_sessions", "watch", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    try:
        time.sleep(3)
        subprocess.run(["psql", dsn, "-qc", "INSERT INTO sessions (id, title, created_by) VALUES ('tail-f', 't', 'me')"],
                       check=True, timeout=30)
        line = proc.stdout.readline()
        assert '"kind":"session.created"' in line and "tail-f" in line
    finally:
        proc.terminate()
        proc.communicate(timeout=10)

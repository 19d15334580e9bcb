"""The task queue through the MCP tools (in-memory client) and the store, on real
PostgreSQL: leases, heartbeats, retries with backoff, start, dependencies, idempotency,
cancel/requeue, history, liveness, recovery by concurrent sweepers, ordering."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from mcp_sessions.db import connect
from mcp_sessions.errors import Conflict, StaleClaim
from mcp_sessions.store import tasks as store
from tests.conftest import call, call_error


@pytest.fixture
async def sid(client):
    return (await call(client, "create_session", title="queue"))["id"]


async def expire(conn, task_id: str) -> None:
    """Make a lease run out now (instead of sleeping through it)."""
    await conn.execute("UPDATE tasks SET lease_expires_at = now() - interval '1 second' WHERE id = $1", task_id)


async def make_due(conn, task_id: str) -> None:
    await conn.execute("UPDATE tasks SET run_after = now() - interval '1 second' WHERE id = $1", task_id)


async def claim(client, **kw):
    return (await call(client, "claim_task", **kw))["task"]


async def test_lifecycle_and_history(client, sid):
    created = await call(client, "create_task", session_id=sid, task_type="code", title="t", input_data={"n": 1})
    assert created["status"] == "pending" and created["attempts"] == 0
    task = await claim(client, session_id=sid, lease_seconds=60)
    assert task["id"] == created["id"] and task["status"] == "claimed" and task["attempts"] == 1
    token = task["claim_token"]
    started = await call(client, "start_task", task_id=task["id"], claim_token=token, process_id=4242)
    assert started["status"] == "running"
    beat = await call(client, "heartbeat_task", task_id=task["id"], claim_token=token, lease_seconds=600)
    assert beat["lease_expires_at"] > task["lease_expires_at"]
    done = await call(client, "complete_task", task_id=task["id"], claim_token=token, output_data={"ok": True})
    assert done["status"] == "completed"
    got = await call(client, "get_task", task_id=task["id"])
    assert got["output_data"] == {"ok": True} and got["process_id"] == 4242
    assert [e["event"] for e in got["history"]] == ["created", "claimed", "started", "completed"]
    assert got["history"][1]["agent"] == "tester"
    # the token is dead now
    message = await call_error(client, "heartbeat_task", task_id=task["id"], claim_token=token)
    assert "[stale_claim]" in message and "already completed" in message


async def test_order_priority_then_age_and_run_after(client, sid, conn):
    low = await call(client, "create_task", session_id=sid, task_type="code", title="low", priority=0)
    high_old = await call(client, "create_task", session_id=sid, task_type="code", title="high-old", priority=5)
    high_new = await call(client, "create_task", session_id=sid, task_type="code", title="high-new", priority=5)
    await call(client, "create_task", session_id=sid, task_type="code", title="future", priority=9,
               run_after="2999-01-01T00:00:00Z")
    view = [r["id"] for r in await conn.fetch("SELECT id FROM task_queue")]
    assert view == [high_old["id"], high_new["id"], low["id"]]
    order = [(await claim(client, session_id=sid))["id"] for _ in range(3)]
    assert order == view
    assert await claim(client, session_id=sid) is None  # the future one is not due


async def test_filters_agent_and_type(client, sid):
    await call(client, "create_task", session_id=sid, task_type="research", agent_name="researcher")
    assert await claim(client, session_id=sid) is None  # meant for someone else
    assert await claim(client, session_id=sid, agent_name="researcher", task_types=["code"]) is None
    got = await claim(client, session_id=sid, agent_name="researcher", task_types=["research"])
    assert got["claimed_by"] == "researcher"


async def test_expired_lease_is_reclaimed_and_old_token_dies(client, sid, conn):
    created = await call(client, "create_task", session_id=sid, task_type="code", max_attempts=2)
    first = await claim(client, session_id=sid, agent_name="slow")
    await expire(conn, first["id"])
    second = await claim(client, session_id=sid, agent_name="fast")
    assert second["id"] == created["id"] and second["attempts"] == 2
    for tool, extra in (("heartbeat_task", {}), ("complete_task", {}), ("fail_task", {"error": "late"}),
                        ("start_task", {})):
        message = await call_error(client, tool, task_id=created["id"], claim_token=first["claim_token"], **extra)
        assert "[stale_claim]" in message and "stale" in message, message
    # past max_attempts the next expiry fails it for good, with the reason
    await expire(conn, second["id"])
    assert await claim(client, session_id=sid) is None
    got = await call(client, "get_task", task_id=created["id"])
    assert got["status"] == "failed" and "lease expired on attempt 2 of 2" in got["error"]
    assert [e["event"] for e in got["history"]] == [
        "created", "claimed", "lease_expired", "claimed", "lease_expired", "failed"]


async def test_expired_but_unrecovered_lease_refuses_its_holder(client, sid, conn):
    await call(client, "create_task", session_id=sid, task_type="code")
    task = await claim(client, session_id=sid)
    await expire(conn, task["id"])
    message = await call_error(client, "complete_task", task_id=task["id"], claim_token=task["claim_token"])
    assert "lease ran out" in message


async def test_retry_with_backoff_until_max_attempts(client, sid, conn):
    created = await call(client, "create_task", session_id=sid, task_type="code", max_attempts=3)
    delays = []
    for attempt in (1, 2):
        task = await claim(client, session_id=sid)
        assert task["attempts"] == attempt
        failed = await call(client, "fail_task", task_id=task["id"], claim_token=task["claim_token"], error=f"boom {attempt}")
        assert failed["status"] == "pending"
        assert await claim(client, session_id=sid) is None  # backing off
        delays.append(await conn.fetchval("SELECT extract(epoch FROM run_after - updated)::float8 FROM tasks WHERE id = $1", task["id"]))
        await make_due(conn, task["id"])
    assert delays[0] >= 4.9 and delays[1] >= 2 * delays[0] - 0.1  # exponential
    task = await claim(client, session_id=sid)
    final = await call(client, "fail_task", task_id=task["id"], claim_token=task["claim_token"], error="boom 3")
    assert final["status"] == "failed" and final["error"] == "boom 3"
    got = await call(client, "get_task", task_id=created["id"])
    details = [e["detail"] for e in got["history"] if e["event"] in ("retry_scheduled", "failed")]
    assert [d.split(" (")[0] for d in details] == ["boom 1", "boom 2", "boom 3"]


async def test_fail_without_retry_fails_at_once(client, sid):
    await call(client, "create_task", session_id=sid, task_type="code", max_attempts=5)
    task = await claim(client, session_id=sid)
    failed = await call(client, "fail_task", task_id=task["id"], claim_token=task["claim_token"], error="no", retry=False)
    assert failed["status"] == "failed" and failed["attempts"] == 1


async def test_dependencies_wait_and_failure_propagates(client, sid, conn):
    a = await call(client, "create_task", session_id=sid, task_type="code", title="a", priority=-1)
    b = await call(client, "create_task", session_id=sid, task_type="code", title="b", depends_on=[a["id"]], priority=9)
    c = await call(client, "create_task", session_id=sid, task_type="code", title="c", depends_on=[a["id"], b["id"]])
    assert b["blocked_by"] == 1 and c["blocked_by"] == 2
    first = await claim(client, session_id=sid)
    assert first["id"] == a["id"]  # b outranks a but waits for it
    assert await claim(client, session_id=sid) is None
    await call(client, "complete_task", task_id=a["id"], claim_token=first["claim_token"])
    second = await claim(client, session_id=sid)
    assert second["id"] == b["id"]
    assert await claim(client, session_id=sid) is None  # c still waits for b
    await call(client, "fail_task", task_id=b["id"], claim_token=second["claim_token"], error="b broke", retry=False)
    got = await call(client, "get_task", task_id=c["id"])
    assert got["status"] == "failed" and "b broke" in got["error"] and b["id"] in got["error"]
    assert sorted(got["depends_on"]) == sorted([a["id"], b["id"]])
    # a new task can't wait on one that can never complete, nor on one that doesn't exist
    assert "[invalid_input]" in await call_error(client, "create_task", session_id=sid, task_type="code", depends_on=[b["id"]])
    assert "[not_found]" in await call_error(client, "create_task", session_id=sid, task_type="code", depends_on=["nope"])


async def test_dependency_cycles_are_refused(client, sid, conn):
    a = await call(client, "create_task", session_id=sid, task_type="code")
    b = await call(client, "create_task", session_id=sid, task_type="code", depends_on=[a["id"]])
    with pytest.raises(asyncpg.CheckViolationError, match="cycle"):
        await conn.execute("INSERT INTO task_dependencies VALUES ($1, $2)", a["id"], b["id"])
    with pytest.raises(asyncpg.CheckViolationError, match="cycle"):
        await conn.execute("INSERT INTO task_dependencies VALUES ($1, $1)", a["id"])


async def test_idempotency_key(client, sid, database_url):
    one = await call(client, "create_task", session_id=sid, task_type="code", idempotency_key="build-42")
    two = await call(client, "create_task", session_id=sid, task_type="code", idempotency_key="build-42", title="again")
    assert one["id"] == two["id"] and two["title"] is None
    other_sid = (await call(client, "create_session", title="other"))["id"]
    three = await call(client, "create_task", session_id=other_sid, task_type="code", idempotency_key="build-42")
    assert three["id"] != one["id"]

    # two creators racing with one key get one task
    async def create() -> str:
        c = await connect(database_url)
        try:
            async with c.transaction():
                task = await store.create(c, sid, task_type="code", agent_name=None, title=None, input_data={},
                                          priority=0, agent="x", idempotency_key="race")
                await asyncio.sleep(0.05)
                return task.id
        finally:
            await c.close()

    ids = await asyncio.gather(create(), create())
    assert ids[0] == ids[1]


async def test_cancel_kills_the_token_and_requeue(client, sid, conn):
    pending = await call(client, "create_task", session_id=sid, task_type="code", priority=-5)
    await call(client, "create_task", session_id=sid, task_type="code")
    held = await claim(client, session_id=sid)
    cancelled = await call(client, "cancel_task", task_id=held["id"], reason="not needed")
    assert cancelled["status"] == "cancelled" and cancelled["error"] == "not needed"
    message = await call_error(client, "complete_task", task_id=held["id"], claim_token=held["claim_token"])
    assert "[stale_claim]" in message and "cancelled" in message
    await call(client, "cancel_task", task_id=pending["id"], reason="dup")
    assert "[conflict]" in await call_error(client, "cancel_task", task_id=pending["id"], reason="again")

    back = await store.requeue(conn, held["id"], agent="operator")
    assert back.status == "pending" and back.attempts == 0 and back.claimed_by is None
    again = await claim(client, session_id=sid)
    assert again["id"] == held["id"] and again["claim_token"] != held["claim_token"]
    events = [e["event"] for e in (await call(client, "get_task", task_id=held["id"]))["history"]]
    assert events == ["created", "claimed", "cancelled", "requeued", "claimed"]
    # requeueing a claimed task kills its holder's token too
    await store.requeue(conn, again["id"], agent="operator")
    assert "[stale_claim]" in await call_error(client, "heartbeat_task", task_id=again["id"], claim_token=again["claim_token"])
    with pytest.raises(Conflict, match="pending"):
        await store.requeue(conn, again["id"], agent="operator")
    cancelled = await store.cancel(conn, again["id"], reason="cli", agent="operator")
    assert cancelled.status == "cancelled"


async def test_two_sweepers_never_recover_a_task_twice(client, sid, database_url, conn):
    await conn.execute(
        "INSERT INTO tasks (session_id, task_type, created_by) SELECT $1, 'code', 'x' FROM generate_series(1, 300)", sid
    )
    held = await conn.fetch("SELECT id FROM claim_task('w', $1) UNION ALL SELECT id FROM claim_task('w', $1)", sid)
    await conn.execute("UPDATE tasks SET status = 'claimed', attempts = 1, claim_token = gen_random_uuid(), "
                       "claimed_by = 'w', lease_expires_at = now() - interval '1 second' WHERE session_id = $1", sid)
    assert len(held) == 2

    async def sweep() -> int:
        c = await connect(database_url)
        try:
            total = 0
            while n := await store.recover_expired(c, 7):
                total += n
            return total
        finally:
            await c.close()

    counts = await asyncio.gather(sweep(), sweep(), sweep())
    assert sum(counts) == 300
    rows = await conn.fetch(
        "SELECT t.status, t.attempts, count(e.*) AS n FROM tasks t "
        "LEFT JOIN task_events e ON e.task_id = t.id AND e.event = 'lease_expired' WHERE t.session_id = $1 "
        "GROUP BY t.id", sid,
    )
    assert {(r["status"], r["attempts"], r["n"]) for r in rows} == {("pending", 1, 1)}


async def test_liveness_and_holdings(client, sid):
    await call(client, "create_task", session_id=sid, task_type="code")
    task = await claim(client, session_id=sid, agent_name="worker-7")
    agents = {a["name"]: a for a in (await call(client, "list_agents"))["agents"]}
    assert agents["worker-7"]["alive"] and agents["worker-7"]["holds"] == [task["id"]]
    assert agents["worker-7"]["last_seen"] is not None
    assert agents["codex"]["alive"] is False and agents["codex"]["holds"] == []
    await call(client, "complete_task", task_id=task["id"], claim_token=task["claim_token"])
    agents = {a["name"]: a for a in (await call(client, "list_agents"))["agents"]}
    assert agents["worker-7"]["holds"] == []


async def test_psql_sees_the_same_semantics(client, sid, conn):
    """A non-Python worker uses the SQL functions directly."""
    a = await call(client, "create_task", session_id=sid, task_type="code")
    b = await call(client, "create_task", session_id=sid, task_type="code", depends_on=[a["id"]], priority=3)
    row = await conn.fetchrow("SELECT * FROM claim_task('psql-worker', $1, NULL, 30)", sid)
    assert row["id"] == a["id"] and row["lease_seconds"] == 30
    assert await conn.fetchrow("SELECT * FROM claim_task('psql-worker', $1)", sid) is None
    assert await conn.fetchrow("SELECT * FROM complete_task($1, gen_random_uuid())", a["id"]) is None
    assert (await conn.fetchrow("SELECT * FROM complete_task($1, $2)", a["id"], row["claim_token"]))["status"] == "completed"
    assert (await conn.fetchrow("SELECT * FROM claim_task('psql-worker', $1)", sid))["id"] == b["id"]


async def test_authenticated_holder_must_own_the_claim(client, sid, conn):
    """Over HTTP the tools pass the token's agent as holder: a claim_token alone is not enough."""
    await call(client, "create_task", session_id=sid, task_type="code")
    task = await claim(client, session_id=sid, agent_name="bob")
    for step in (lambda h: store.heartbeat(conn, task["id"], task["claim_token"], None, h),
                 lambda h: store.start(conn, task["id"], task["claim_token"], None, h),
                 lambda h: store.fail(conn, task["id"], task["claim_token"], "x", True, h),
                 lambda h: store.complete(conn, task["id"], task["claim_token"], {}, h)):
        with pytest.raises(StaleClaim, match="claimed by bob, and you are alice"):
            await step("alice")
    nxt = await call(client, "create_task", session_id=sid, task_type="code")
    with pytest.raises(StaleClaim, match="claimed by bob, and you are alice"):
        await store.complete(conn, task["id"], task["claim_token"], {}, "alice", claim_next=True)
    assert (await store.get_row(conn, task["id"])).status == "claimed"
    assert (await store.get_row(conn, nxt["id"])).status == "pending"  # nothing claimed for alice
    done = await store.complete(conn, task["id"], task["claim_token"], {}, "bob", claim_next=True)
    assert done.status == "completed"
    assert done.next_task.id == nxt["id"] and done.next_task.claimed_by == "bob"  # for the holder


async def test_claim_takes_over_an_expired_lease_in_priority_order(client, sid, conn):
    """A lease that ran out makes its task claimable where it stands in claim order:
    the next claim takes it over (no sweep needed), ahead of lower-priority work."""
    urgent = await call(client, "create_task", session_id=sid, task_type="code", priority=9)
    routine = await call(client, "create_task", session_id=sid, task_type="code", priority=1)
    first = await claim(client, session_id=sid, agent_name="slow")
    assert first["id"] == urgent["id"]
    queued = [r["id"] for r in await conn.fetch("SELECT id FROM task_queue WHERE session_id = $1", sid)]
    assert queued == [routine["id"]]
    await expire(conn, urgent["id"])
    queued = [r["id"] for r in await conn.fetch("SELECT id FROM task_queue WHERE session_id = $1", sid)]
    assert queued == [urgent["id"], routine["id"]]
    second = await claim(client, session_id=sid, agent_name="fast")
    assert second["id"] == urgent["id"] and second["attempts"] == 2 and second["claimed_by"] == "fast"
    events = [e["event"] for e in (await call(client, "get_task", task_id=urgent["id"]))["history"]]
    assert events == ["created", "claimed", "lease_expired", "claimed"]


async def test_claim_and_heartbeat_update_the_row_in_place(client, sid, conn):
    """No index reads the columns a claim or heartbeat changes, so PostgreSQL updates the
    row in place (HOT) and writes no index entry: what keeps claims cheap (bench/QUEUE.md).
    An index on status or lease_expires_at would break this."""
    for _ in range(3):
        await call(client, "create_task", session_id=sid, task_type="code")
    async with conn.transaction():
        row = await conn.fetchrow("SELECT * FROM claim_task('hot', $1)", sid)
        await conn.fetchrow("SELECT * FROM heartbeat_task($1, $2, 60)", row["id"], row["claim_token"])
        updated = await conn.fetchval("SELECT pg_stat_get_xact_tuples_updated('tasks'::regclass)")
        hot = await conn.fetchval("SELECT pg_stat_get_xact_tuples_hot_updated('tasks'::regclass)")
    assert (updated, hot) == (2, 2)


async def test_dependency_added_from_sql_unblocks_on_completion(client, sid, conn):
    """has_dependents, which lets a completion skip the dependents lookup, is kept by a
    trigger on task_dependencies, so a dependency written from psql (or imported) counts."""
    parent = await call(client, "create_task", session_id=sid, task_type="code", priority=5)
    child = await call(client, "create_task", session_id=sid, task_type="code")
    await conn.execute("INSERT INTO task_dependencies (task_id, depends_on) VALUES ($1, $2)", child["id"], parent["id"])
    await conn.execute("UPDATE tasks SET blocked_by = 1 WHERE id = $1", child["id"])
    assert await conn.fetchval("SELECT has_dependents FROM tasks WHERE id = $1", parent["id"])
    task = await claim(client, session_id=sid)
    assert task["id"] == parent["id"]
    assert await claim(client, session_id=sid) is None  # the child waits
    await call(client, "complete_task", task_id=task["id"], claim_token=task["claim_token"])
    assert (await claim(client, session_id=sid))["id"] == child["id"]


async def test_complete_with_claim_next_hands_over_the_next_task(client, sid, conn):
    first = await call(client, "create_task", session_id=sid, task_type="code", title="first", priority=5)
    second = await call(client, "create_task", session_id=sid, task_type="code", title="second", input_data={"n": 2})
    task = await claim(client, session_id=sid)
    assert task["id"] == first["id"]
    done = await call(client, "complete_task", task_id=task["id"], claim_token=task["claim_token"],
                      output_data={"ok": 1}, claim_next={"session_id": sid, "lease_seconds": 120})
    assert done["status"] == "completed" and done["id"] == first["id"]
    nxt = done["next_task"]
    assert nxt["id"] == second["id"] and nxt["status"] == "claimed" and nxt["claimed_by"] == "tester"
    assert nxt["input_data"] == {"n": 2} and nxt["attempts"] == 1 and nxt["claim_token"]
    lease = await conn.fetchval("SELECT lease_seconds FROM tasks WHERE id = $1", second["id"])
    assert lease == 120
    # the handed-over claim works like any other, and an empty queue hands over nothing
    last = await call(client, "complete_task", task_id=nxt["id"], claim_token=nxt["claim_token"], claim_next={})
    assert last["status"] == "completed" and last["next_task"] is None
    # the first completion kept its output
    assert (await call(client, "get_task", task_id=first["id"]))["output_data"] == {"ok": 1}


async def test_claim_next_respects_its_filters_and_a_stale_claim_claims_nothing(client, sid, conn):
    other = (await call(client, "create_session", title="other"))["id"]
    mine = await call(client, "create_task", session_id=sid, task_type="code", title="mine")
    research = await call(client, "create_task", session_id=other, task_type="research", priority=9)
    code = await call(client, "create_task", session_id=other, task_type="code")
    task = await claim(client, session_id=sid)
    assert task["id"] == mine["id"]
    done = await call(client, "complete_task", task_id=task["id"], claim_token=task["claim_token"],
                      claim_next={"session_id": other, "task_types": ["code"]})
    assert done["next_task"]["id"] == code["id"]  # not the higher-priority research task
    # a stale token is refused as without claim_next, and nothing is claimed
    message = await call_error(client, "complete_task", task_id=task["id"], claim_token=task["claim_token"],
                               claim_next={})
    assert "[stale_claim]" in message and "already completed" in message
    assert await conn.fetchval("SELECT status FROM tasks WHERE id = $1", research["id"]) == "pending"
    message = await call_error(client, "complete_task", task_id=task["id"], claim_token=task["claim_token"],
                               claim_next={"lease_seconds": 0})
    assert "lease_seconds" in message


async def test_claim_next_gets_the_dependent_its_completion_unblocked(client, sid):
    parent = await call(client, "create_task", session_id=sid, task_type="code", title="parent")
    child = await call(client, "create_task", session_id=sid, task_type="code", title="child",
                       depends_on=[parent["id"]])
    task = await claim(client, session_id=sid)
    assert task["id"] == parent["id"]
    done = await call(client, "complete_task", task_id=task["id"], claim_token=task["claim_token"], claim_next={})
    assert done["next_task"] is not None and done["next_task"]["id"] == child["id"]

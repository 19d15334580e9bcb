"""claim_task(wait_seconds=...): woken by LISTEN/NOTIFY, one waiter per task, and still
served when the LISTEN connection is killed. Each wait here is shorter than the 5 s
polling fallback, so a claimer only gets its task in time if a wake-up reached it."""

from __future__ import annotations

import anyio
import pytest

from tests.conftest import call

WAIT = 4.0  # < POLL_SECONDS (5): the fallback poll can't be what delivers the task


@pytest.fixture
async def sid(client):
    return (await call(client, "create_session", title="waiting"))["id"]


async def waiters(conn) -> int:
    return await conn.fetchval("SELECT count(*) FROM task_waiters")


async def until(predicate, timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not await predicate():
            await anyio.sleep(0.02)


async def test_waiting_claimer_is_woken_by_a_new_task(client, sid, conn):
    results = {}

    async def waiter():
        results["task"] = (await call(client, "claim_task", session_id=sid, wait_seconds=WAIT))["task"]

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await until(lambda: _eq(waiters(conn), 1))
        created = await call(client, "create_task", session_id=sid, task_type="code")
    assert results["task"] is not None and results["task"]["id"] == created["id"]
    assert await waiters(conn) == 0


async def test_nothing_arrives_returns_null(client, sid, conn):
    result = await call(client, "claim_task", session_id=sid, wait_seconds=0.3)
    assert result["task"] is None
    assert await waiters(conn) == 0  # the registration is cleaned up


async def test_one_task_wakes_one_waiter(client, sid, conn):
    """No thundering herd: three waiters, one task: one registration is consumed."""
    got: list[dict | None] = []

    async def waiter():
        got.append((await call(client, "claim_task", session_id=sid, wait_seconds=WAIT))["task"])

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(waiter)
        await until(lambda: _eq(waiters(conn), 3))
        first = await call(client, "create_task", session_id=sid, task_type="code")
        await until(lambda: _eq(_len(got), 1))
        assert await waiters(conn) == 2  # the other two still wait, unwoken
        # a burst of two wakes exactly the two remaining waiters
        await conn.execute(
            "INSERT INTO tasks (session_id, task_type, created_by) SELECT $1, 'code', 'x' FROM generate_series(1, 2)", sid
        )
    assert all(t is not None for t in got) and len({t["id"] for t in got}) == 3
    assert first["id"] in {t["id"] for t in got}


async def test_waiter_for_another_agent_is_not_woken(client, sid, conn):
    results = {}

    async def waiter():
        results["task"] = (await call(client, "claim_task", session_id=sid, agent_name="a1", wait_seconds=WAIT))["task"]

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await until(lambda: _eq(waiters(conn), 1))
        await call(client, "create_task", session_id=sid, task_type="code", agent_name="someone-else")
        assert await waiters(conn) == 1  # not woken for a task it can't claim
        mine = await call(client, "create_task", session_id=sid, task_type="code", agent_name="a1")
    assert results["task"]["id"] == mine["id"]


async def test_dependency_completion_wakes_a_waiter(client, sid, conn):
    a = await call(client, "create_task", session_id=sid, task_type="code")
    b = await call(client, "create_task", session_id=sid, task_type="code", depends_on=[a["id"]])
    held = (await call(client, "claim_task", session_id=sid))["task"]
    results = {}

    async def waiter():
        results["task"] = (await call(client, "claim_task", session_id=sid, wait_seconds=WAIT))["task"]

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await until(lambda: _eq(waiters(conn), 1))
        await call(client, "complete_task", task_id=held["id"], claim_token=held["claim_token"])
    assert results["task"]["id"] == b["id"]


async def test_killed_listen_connection_still_delivers(client, sid, conn):
    results = {}

    async def waiter():
        results["task"] = (await call(client, "claim_task", session_id=sid, wait_seconds=WAIT))["task"]

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await until(lambda: _eq(waiters(conn), 1))
        old_pid = await conn.fetchval("SELECT listener_pid FROM task_waiters")
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", old_pid)
        # the server reconnects and the waiter registers again on the new listener
        await until(lambda: _eq(conn.fetchval(
            "SELECT count(*) FROM task_waiters w WHERE listener_pid <> $1 "
            "AND EXISTS (SELECT 1 FROM pg_stat_get_activity(w.listener_pid))", old_pid), 1))
        created = await call(client, "create_task", session_id=sid, task_type="code")
    assert results["task"] is not None and results["task"]["id"] == created["id"]


async def _eq(value, expected) -> bool:
    return (await value) == expected


async def _len(items) -> int:
    return len(items)

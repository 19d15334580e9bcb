"""Recurring tasks: schedule_task, the sweep that turns each due time into exactly one
task, missed occurrences after downtime, and three server processes sweeping at once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import anyio
import pytest

from mcp_sessions.db import connect
from mcp_sessions.store import schedules
from tests.cli_support import ok
from tests.conftest import call, call_error, stdio_client


async def _session(conn, sid: str = "sched") -> str:
    await conn.execute("INSERT INTO sessions (id, title, created_by) VALUES ($1, 'schedules', 'test')", sid)
    return sid


async def test_schedule_task_validates_and_lists(client, conn):
    sid = await _session(conn)
    assert "not a valid cron expression" in await call_error(client, "schedule_task", session_id=sid, cron="61 * * * *",
                                                            task_type="code")
    assert "not a known IANA time zone" in await call_error(
        client, "schedule_task", session_id=sid, cron="0 9 * * *", task_type="code", timezone="Mars/Olympus")
    assert "not found" in await call_error(client, "schedule_task", session_id="nope", cron="0 9 * * *", task_type="code")
    made = await call(client, "schedule_task", session_id=sid, cron="30 9 * * 1-5", task_type="research",
                      title="standup notes", timezone="Europe/Paris", input_data={"repo": "x"})
    due = datetime.fromisoformat(made["next_due"])
    local = due.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert (local.hour, local.minute, local.weekday() < 5) == (9, 30, True)
    listed = await call(client, "list_schedules", session_id=sid)
    assert [s["id"] for s in listed["schedules"]] == [made["id"]]
    await call(client, "delete_schedule", schedule_id=made["id"])
    assert (await call(client, "list_schedules"))["schedules"] == []
    assert "not found" in await call_error(client, "delete_schedule", schedule_id=made["id"])


async def test_missed_occurrences_after_downtime_become_one_task(conn):
    sid = await _session(conn)
    sched = await schedules.create(conn, sid, cron="* * * * *", zone="UTC", task_type="code", title="tick",
                                   agent_name=None, priority=0, input_data={"k": 1}, max_attempts=3, agent="test")
    # As if every server had been down for ten minutes.
    await conn.execute("UPDATE schedules SET next_due = date_trunc('minute', now()) - interval '10 minutes'")
    assert await schedules.sweep(conn) == 1
    assert await schedules.sweep(conn) == 0  # nothing is due any more
    rows = await conn.fetch("SELECT input_data, idempotency_key FROM tasks WHERE session_id = $1", sid)
    assert len(rows) == 1
    data = rows[0]["input_data"]
    now = await conn.fetchval("SELECT now()")
    due = datetime.fromisoformat(data["scheduled_for"])
    assert due == now.replace(second=0, microsecond=0) and data["missed"] == 10 and data["k"] == 1
    assert data["schedule_id"] == sched.id and rows[0]["idempotency_key"] == schedules.idempotency_key(sched.id, due)
    after = await conn.fetchrow("SELECT next_due, last_due FROM schedules")
    assert after["last_due"] == due and after["next_due"] == due + timedelta(minutes=1)


async def test_concurrent_sweeps_create_one_task(database_url, conn):
    sid = await _session(conn)
    await schedules.create(conn, sid, cron="* * * * *", zone="UTC", task_type="code", title=None, agent_name=None,
                           priority=0, input_data={}, max_attempts=3, agent="test")
    await conn.execute("UPDATE schedules SET next_due = now() - interval '1 minute'")
    conns = [await connect(database_url) for _ in range(6)]
    try:
        results: list[int] = []

        async def one(c) -> None:
            results.append(await schedules.sweep(c))

        async with anyio.create_task_group() as tg:
            for c in conns:
                tg.start_soon(one, c)
    finally:
        for c in conns:
            await c.close()
    assert sorted(results) == [0, 0, 0, 0, 0, 1]
    assert await conn.fetchval("SELECT count(*) FROM tasks") == 1


@pytest.mark.slow  # three server processes starting on a shared machine: ~15-20 s
async def test_three_servers_create_exactly_one_task_per_due_time(database_url, conn):
    sid = await _session(conn)
    env = {"MCP_SESSIONS_SWEEP_SECONDS": "0.3"}
    async with stdio_client(database_url, "a", **env) as a, stdio_client(database_url, "b", **env), \
            stdio_client(database_url, "c", **env):
        made = await call(a, "schedule_task", session_id=sid, cron="*/2 * * * * *", task_type="analysis", title="every 2s")
        await anyio.sleep(5)
        await call(a, "delete_schedule", schedule_id=made["id"])
    rows = await conn.fetch("SELECT input_data FROM tasks WHERE session_id = $1 ORDER BY created", sid)
    dues = [datetime.fromisoformat(r["input_data"]["scheduled_for"]) for r in rows]
    assert len(dues) >= 2 and len(set(dues)) == len(dues)  # one task per due time
    assert all(d.second % 2 == 0 and d.microsecond == 0 for d in dues)
    # none lost: the tasks (each standing for itself and the occurrences it collapsed) cover every due time
    covered = sum(1 + r["input_data"]["missed"] for r in rows)
    assert covered == (dues[-1] - datetime.fromisoformat(made["next_due"])).total_seconds() / 2 + 1
    assert dues == sorted(dues)


async def test_schedules_cli(database_url, conn):
    sid = await _session(conn)
    sched = await schedules.create(conn, sid, cron="0 9 * * *", zone="UTC", task_type="code", title="daily",
                                   agent_name="codex", priority=0, input_data={}, max_attempts=3, agent="test")
    listed = await ok(database_url, "schedules", "list", "--json")
    assert [s["id"] for s in listed.json()["schedules"]] == [sched.id]
    assert "0 9 * * *" in (await ok(database_url, "schedules", "list")).out
    await ok(database_url, "schedules", "delete", sched.id)
    assert await conn.fetchval("SELECT count(*) FROM schedules") == 0

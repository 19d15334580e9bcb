"""The queue with real processes: worker processes (tests/queue_worker.py), each with its
own `mcp-sessions serve` over stdio, on one database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import anyio
import pytest

from mcp_sessions.db import connect
from mcp_sessions.errors import StaleClaim
from mcp_sessions.store import tasks as store

WORKER = Path(__file__).resolve().parent / "queue_worker.py"


def spawn(dsn: str, agent: str, session_id: str, *mode: str) -> subprocess.Popen:
    env = {**os.environ, "MCP_SESSIONS_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, str(WORKER), dsn, agent, session_id, *mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def events(proc: subprocess.Popen, timeout: float) -> list[dict]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"worker exited with {proc.returncode}: {err[-3000:]}"
    return [json.loads(line) for line in out.splitlines() if line.strip()]


async def seed(conn, n: int) -> str:
    sid = "queue-procs"
    await conn.execute("INSERT INTO sessions (id, title, created_by) VALUES ($1, 'procs', 'test')", sid)
    await conn.execute(
        "INSERT INTO tasks (session_id, task_type, title, created_by) "
        "SELECT $1, 'code', 'task ' || g, 'test' FROM generate_series(1, $2) g", sid, n,
    )
    return sid


@pytest.mark.slow
async def test_eight_workers_drain_1000_tasks_exactly_once(database_url, conn):
    sid = await seed(conn, 1000)
    # half of them finish each task with complete_task(claim_next=...), which hands them the next
    workers = [spawn(database_url, f"worker-{i}", sid, "drain-next" if i % 2 else "drain") for i in range(8)]
    try:
        results = await anyio.to_thread.run_sync(lambda: [events(w, 240) for w in workers])
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    completed = Counter(e["completed"] for evs in results for e in evs if "completed" in e)
    assert not [e for evs in results for e in evs if "refused" in e]
    assert len(completed) == 1000 and set(completed.values()) == {1}  # none lost, none twice
    assert sum(1 for evs in results if any("completed" in e for e in evs)) >= 2  # the work was shared
    assert any("completed" in e for i, evs in enumerate(results) if i % 2 for e in evs)  # claim_next did work
    rows = await conn.fetch("SELECT status, attempts, output_data->>'by' AS by FROM tasks WHERE session_id = $1", sid)
    assert {(r["status"], r["attempts"]) for r in rows} == {("completed", 1)}  # each claimed once
    by_db = Counter(r["by"] for r in rows)
    by_workers = Counter(f"worker-{i}" for i, evs in enumerate(results) for e in evs if "completed" in e)
    assert by_db == by_workers


@pytest.mark.slow
async def test_sigkilled_worker_tasks_are_reclaimed_and_its_late_completion_refused(database_url, conn):
    sid = await seed(conn, 20)
    holder = spawn(database_url, "doomed", sid, "hold", "3")
    held: list[dict] = []
    assert holder.stdout is not None

    def read_until_ready() -> None:
        for line in holder.stdout:
            event = json.loads(line)
            if "held" in event:
                held.append(event)
            if event.get("ready"):
                return

    try:
        with anyio.fail_after(60):
            await anyio.to_thread.run_sync(read_until_ready)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
        holder.stderr.close()
    assert len(held) == 3
    held_ids = [h["held"] for h in held]
    # wait out the 2 s leases of the dead worker
    with anyio.fail_after(30):
        while await conn.fetchval("SELECT count(*) FROM tasks WHERE id = ANY($1) AND lease_expires_at > now()", held_ids):
            await anyio.sleep(0.2)

    workers = [spawn(database_url, f"rescuer-{i}", sid, "drain") for i in range(2)]
    try:
        results = await anyio.to_thread.run_sync(lambda: [events(w, 120) for w in workers])
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    completed = Counter(e["completed"] for evs in results for e in evs if "completed" in e)
    assert len(completed) == 20 and set(completed.values()) == {1}
    for task_id in held_ids:
        row = await conn.fetchrow("SELECT status, attempts, claimed_by FROM tasks WHERE id = $1", task_id)
        assert row["status"] == "completed" and row["attempts"] == 2 and row["claimed_by"].startswith("rescuer-")
        history = (await store.get(conn, task_id)).history
        assert [(e.event, e.agent) for e in history] == [
            ("created", "test"), ("claimed", "doomed"), ("lease_expired", "doomed"), ("claimed", row["claimed_by"]),
            ("completed", row["claimed_by"])]

    # the dead worker's late completion (its token, replayed) is refused
    late = await connect(database_url)
    try:
        for h in held:
            with pytest.raises(StaleClaim, match="already completed"):
                await store.complete(late, h["held"], h["token"], {"by": "doomed"})
        assert await late.fetchval("SELECT count(*) FROM tasks WHERE output_data->>'by' = 'doomed'") == 0
    finally:
        await late.close()

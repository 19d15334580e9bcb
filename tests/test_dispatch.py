"""`mcp-sessions dispatch` with real processes: a dispatcher process runs
tests/fake_agent.py for each task (completing, failing, timing out, cancelled mid-run,
its dispatcher SIGKILLed or stopped), and two dispatchers share one queue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import anyio
import pytest

from mcp_sessions.store import tasks as store
from tests.conftest import REPO

FAKE = Path(__file__).resolve().parent / "fake_agent.py"
COMMAND = f"{sys.executable} {FAKE} {{input_file}} {{title}}"


async def _setup(conn, agent: str = "fake", command: str = COMMAND) -> str:
    await conn.execute("INSERT INTO sessions (id, title, created_by) VALUES ('work', 'work', 'test')")
    await conn.execute("INSERT INTO agents (name, type, command) VALUES ($1, 'test', $2)", agent, command)
    return "work"


def dispatcher(database_url: str, tmp_path: Path, *args: str, agent: str = "fake") -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "MCP_SESSIONS_LOG_LEVEL": os.environ.get("DISPATCH_TEST_LOG", "INFO"),
           "MCP_SESSIONS_AGENT": "dispatcher"}
    path = tmp_path / f"dispatch-{time.monotonic_ns()}.log"
    with open(path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcp_sessions", "dispatch", "--agent", agent, "--lease", "3", "--grace", "1", *args],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )
    proc.log_path = path  # type: ignore[attr-defined]
    return proc


def stop(proc: subprocess.Popen) -> str:
    """Kill it (if still running) and return what it logged, with no traceback in it."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    text = proc.log_path.read_text()  # type: ignore[attr-defined]
    assert "Traceback" not in text, text
    return text


async def create(conn, title: str = "a task", max_attempts: int = 3, **input_data) -> str:
    task = await store.create(conn, "work", task_type="code", agent_name="fake", title=title, input_data=input_data,
                              priority=0, agent="test", max_attempts=max_attempts)
    return task.id


async def wait_for(conn, task_id: str, *statuses: str, timeout: float = 15) -> dict:
    with anyio.fail_after(timeout):
        while True:
            row = await conn.fetchrow("SELECT * FROM tasks WHERE id = $1", task_id)
            if row["status"] in statuses:
                return dict(row)
            await anyio.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False  # reaped between the two looks


async def read_pids(path: Path) -> dict:
    with anyio.fail_after(15):
        while not path.exists() or not path.read_text():
            await anyio.sleep(0.05)
    return json.loads(path.read_text())


async def test_completes_fails_and_reports_plain_output(database_url, conn, tmp_path):
    await _setup(conn)
    d = dispatcher(database_url, tmp_path)
    try:
        done = await create(conn, title="fix the bug {not a placeholder}", mode="complete", x=[1, "two"])
        plain = await create(conn, mode="plain")
        failed = await create(conn, mode="fail", max_attempts=1)
        row = await wait_for(conn, done, "completed")
        out = row["output_data"]
        assert out["echo"] == {"mode": "complete", "x": [1, "two"]}
        # placeholders filled, one argument each (the title has spaces), no shell
        assert out["argv"][1] == "fix the bug {not a placeholder}" and out["argv"][0].endswith("input.json")
        env = out["env"]
        assert env["MCP_SESSIONS_TASK_ID"] == done and env["MCP_SESSIONS_SESSION_ID"] == "work"
        assert env["MCP_SESSIONS_AGENT"] == "fake" and len(env["MCP_SESSIONS_CLAIM_TOKEN"]) == 36
        assert row["process_id"] == out["pid"] and row["attempts"] == 1
        chunk = await conn.fetchrow("SELECT content, format FROM conversation_chunks WHERE chunk_id = $1",
                                    out["transcript_chunk_id"])
        assert chunk["format"] == "transcript" and "working on it" in chunk["content"] and "exit status 0" in chunk["content"]

        row = await wait_for(conn, plain, "completed")
        assert row["output_data"]["exit_code"] == 0
        assert row["output_data"]["stdout_tail"].strip().endswith("all done, no JSON here")

        row = await wait_for(conn, failed, "failed")
        assert "exit status 3" in row["error"] and "disk on fire" in row["error"]
        assert "transcript chunk dispatch-" in row["error"]
        # back to available once its last attempt is reported (just after the result)
        with anyio.fail_after(5):
            while await conn.fetchval("SELECT status FROM agents WHERE name = 'fake'") != "available":
                await anyio.sleep(0.05)
    finally:
        stop(d)


async def test_timeout_stops_the_agent_and_fails_the_task(database_url, conn, tmp_path):
    await _setup(conn)
    d = dispatcher(database_url, tmp_path, "--timeout", "1.5")
    try:
        task = await create(conn, mode="sleep", seconds=60, pids=str(tmp_path / "pids"), max_attempts=1)
        pids = await read_pids(tmp_path / "pids")
        row = await wait_for(conn, task, "failed")
        assert row["error"].startswith("timed out after 1.5s")
        assert not alive(pids["agent"]) and not alive(pids["child"])
    finally:
        stop(d)


async def test_cancel_stops_the_process_group_at_once(database_url, conn, tmp_path):
    await _cancel_mid_run(database_url, conn, tmp_path, stubborn=False)


async def test_cancel_kills_an_agent_ignoring_sigterm_after_the_grace(database_url, conn, tmp_path):
    await _cancel_mid_run(database_url, conn, tmp_path, stubborn=True)


async def _cancel_mid_run(database_url, conn, tmp_path, *, stubborn: bool) -> None:
    await _setup(conn)
    d = dispatcher(database_url, tmp_path)
    try:
        task = await create(conn, mode="sleep", seconds=60, pids=str(tmp_path / "pids"), stubborn=stubborn)
        pids = await read_pids(tmp_path / "pids")
        await wait_for(conn, task, "running")
        assert await conn.fetchval("SELECT status FROM agents WHERE name = 'fake'") == "busy"
        assert alive(pids["agent"]) and alive(pids["child"])
        await store.cancel(conn, task, "no longer needed", "test")
        cancelled = time.monotonic()
        with anyio.fail_after(1 + 2):  # the grace (1 s) and a margin
            while alive(pids["agent"]) or alive(pids["child"]):
                await anyio.sleep(0.02)
        took = time.monotonic() - cancelled
        assert took >= 0.9 if stubborn else took < 0.9  # SIGKILL only after the grace
        await anyio.sleep(0.5)
        row = await conn.fetchrow("SELECT status, output_data, error FROM tasks WHERE id = $1", task)
        # nothing more written for that attempt: no output, no transcript, still cancelled
        assert row["status"] == "cancelled" and row["output_data"] is None and row["error"] == "no longer needed"
        assert await conn.fetchval("SELECT count(*) FROM conversation_chunks") == 0
        assert d.poll() is None  # the dispatcher goes on
    finally:
        stop(d)


async def test_a_claim_lost_without_an_event_is_noticed_by_the_heartbeat(database_url, conn, tmp_path):
    await _setup(conn)
    d = dispatcher(database_url, tmp_path)  # lease 3 s: a heartbeat every second
    try:
        task = await create(conn, mode="sleep", seconds=60, pids=str(tmp_path / "pids"))
        pids = await read_pids(tmp_path / "pids")
        await wait_for(conn, task, "running")
        # As if another claimer had taken it over, with no event to say so: only the
        # heartbeat's refusal can tell the dispatcher.
        await conn.execute("UPDATE tasks SET claim_token = gen_random_uuid() WHERE id = $1", task)
        with anyio.fail_after(1 + 1 + 3):  # a heartbeat period, the grace, a margin
            while alive(pids["agent"]) or alive(pids["child"]):
                await anyio.sleep(0.05)
        await anyio.sleep(0.5)
        row = await conn.fetchrow("SELECT status, output_data, error FROM tasks WHERE id = $1", task)
        assert row["status"] == "running" and row["output_data"] is None and row["error"] is None  # nothing written
        assert "heartbeat refused" in stop(d)
    finally:
        stop(d)


async def test_a_sigkilled_dispatchers_task_is_rerun_by_another(database_url, conn, tmp_path):
    await _setup(conn)
    first = dispatcher(database_url, tmp_path)
    second = None
    try:
        task = await create(conn, mode="sleep", seconds=60, pids=str(tmp_path / "pids"))
        pids = await read_pids(tmp_path / "pids")
        await wait_for(conn, task, "running")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        with anyio.fail_after(5):  # the agent dies with its dispatcher (PR_SET_PDEATHSIG)
            while alive(pids["agent"]):
                await anyio.sleep(0.05)
        os.kill(pids["child"], signal.SIGKILL)  # a grandchild outlives it: the test cleans it up
        (tmp_path / "pids").unlink()
        await conn.execute("UPDATE tasks SET input_data = input_data || '{\"seconds\": 0.2}' WHERE id = $1", task)
        second = dispatcher(database_url, tmp_path)
        row = await wait_for(conn, task, "completed", timeout=20)  # after the 3 s lease ran out
        assert row["attempts"] == 2 and row["output_data"]["slept"] == 0.2
        history = await conn.fetch("SELECT event FROM task_events WHERE task_id = $1 ORDER BY id", task)
        assert "lease_expired" in [h["event"] for h in history]
    finally:
        stop(first)
        if second is not None:
            stop(second)


async def test_sigterm_puts_running_tasks_back_after_the_grace(database_url, conn, tmp_path):
    await _setup(conn)
    d = dispatcher(database_url, tmp_path)
    try:
        task = await create(conn, mode="sleep", seconds=60, pids=str(tmp_path / "pids"))
        pids = await read_pids(tmp_path / "pids")
        await wait_for(conn, task, "running")
        d.send_signal(signal.SIGTERM)
        assert await anyio.to_thread.run_sync(lambda: d.wait(10)) == 0
        assert not alive(pids["agent"]) and not alive(pids["child"])
        row = await conn.fetchrow("SELECT status, error, attempts FROM tasks WHERE id = $1", task)
        assert row["status"] == "pending" and "dispatcher was stopped" in row["error"] and row["attempts"] == 1
    finally:
        stop(d)


@pytest.mark.slow
async def test_two_dispatchers_run_each_of_100_tasks_exactly_once(database_url, conn, tmp_path):
    await _setup(conn)
    log = tmp_path / "runs.log"
    ids = [await create(conn, title=f"t{i}", mode="complete", log=str(log)) for i in range(100)]
    ds = [dispatcher(database_url, tmp_path, "--concurrency", "3") for _ in range(2)]
    try:
        with anyio.fail_after(90):
            while await conn.fetchval("SELECT count(*) FROM tasks WHERE status <> 'completed'"):
                await anyio.sleep(0.2)
    finally:
        for d in ds:
            stop(d)
    runs = Counter(line.split()[0] for line in log.read_text().splitlines())
    assert set(runs) == set(ids) and set(runs.values()) == {1}  # each ran once, none lost
    rows = await conn.fetch("SELECT attempts, process_id, output_data->>'pid' AS pid FROM tasks")
    assert {r["attempts"] for r in rows} == {1} and all(str(r["process_id"]) == r["pid"] for r in rows)
    # both dispatchers shared the work: each was the parent of some of the agents
    assert {int(line.split()[2]) for line in log.read_text().splitlines()} == {d.pid for d in ds}


async def test_unregistered_or_commandless_agents_are_refused_in_one_line(database_url, conn):
    from tests.cli_support import cli

    run = await cli(database_url, "dispatch", "--agent", "nobody")
    assert run.code == 1 and "agent 'nobody' is not registered" in run.err and "Traceback" not in run.err
    run = await cli(database_url, "dispatch", "--agent", "researcher")  # a sample agent without a command
    assert run.code == 1 and "agent 'researcher' has no command" in run.err
    await conn.execute("INSERT INTO agents (name, type, command) VALUES ('broken', 'x', 'run \"unclosed')")
    run = await cli(database_url, "dispatch", "--agent", "broken")
    assert run.code == 1 and "not a valid argument list" in run.err

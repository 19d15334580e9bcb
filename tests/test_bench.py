"""The queue benchmark runs as docs/queue.md says, on the server under test: each system
that needs no extras drains its queue with every task claimed exactly once (the bench
raises when the count is off), and the table names each. No timing is asserted:
figures live in bench/."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

SYSTEMS = ("floor", "tasks-bare", "split-bare", "store", "store+next", "store+tx")


def test_queue_bench_drains_every_task_once_per_system(pg_server_dsn: str) -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "queue_bench.py"), "--tasks", "120", "--workers", "1,4",
         "--rounds", "1", "--systems", ",".join(SYSTEMS), "--wake-rounds", "3"],
        env={**os.environ, "DATABASE_URL": pg_server_dsn}, capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    table = [line for line in run.stdout.splitlines() if line.startswith("| ") and "workers" not in line]
    assert {(row.split("|")[1].strip(), row.split("|")[2].strip()) for row in table} == {
        (system, w) for system in SYSTEMS for w in ("1", "4")
    }
    assert "wake-up of a waiting claimer" in run.stdout and "3 rounds" in run.stdout


@pytest.mark.slow
def test_load_bench_runs_one_and_two_processes_side_by_side(pg_server_dsn: str) -> None:
    """bench/load_bench.py --processes: each row ran without errors, and the server
    memory of two processes counts the workers (not only the supervisor)."""
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "load_bench.py"), "--transport", "http", "--processes", "1,2",
         "--clients", "2", "--calls", "4", "--seconds", "60", "--mode", "legacy"],
        env={**os.environ, "DATABASE_URL": pg_server_dsn}, capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [line.split("|") for line in run.stdout.splitlines() if line.startswith("| http |")]
    assert [row[2].strip() for row in rows] == ["1", "2"]
    assert all(row[7].strip() == "0" for row in rows), run.stdout  # errors
    one, two = (float(row[5]) for row in rows)  # server RSS, MiB
    assert two > 1.5 * one


def test_coordination_bench_measures_both_wake_ups_and_the_catch_up_size(pg_server_dsn: str) -> None:
    """bench/coordination_bench.py runs end to end: each waiting call got exactly its one
    message or event every round (the bench raises otherwise), and catch_up is under 8 KB."""
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "coordination_bench.py"), "--rounds", "3"],
        env={**os.environ, "DATABASE_URL": pg_server_dsn}, capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [line.split("|")[1].strip() for line in run.stdout.splitlines() if line.startswith("| ") and " 3 |" in line]
    assert rows == ["read_inbox", "watch"]
    size = int(run.stdout.split("catch_up: 1 call, ")[1].split(" bytes")[0].replace(",", ""))
    assert size <= 8 * 1024


@pytest.mark.slow
def test_scale_and_call_benches_run_end_to_end(pg_server_dsn: str) -> None:
    """bench/scale_bench.py and bench/call_bench.py, tiny: every call they time answers."""
    env = {**os.environ, "DATABASE_URL": pg_server_dsn}
    scale = subprocess.run(
        [sys.executable, str(REPO / "bench" / "scale_bench.py"), "--sizes", "300,600", "--big", "1000",
         "--calls", "2"], env=env, capture_output=True, text=True, timeout=300,
    )
    assert scale.returncode == 0, scale.stderr[-3000:]
    rows = [line for line in scale.stdout.splitlines() if line.startswith("| list_") or line.startswith("| get_")]
    assert any(r.startswith("| list_agents |") for r in rows) and len(rows) > 40, scale.stdout
    calls = subprocess.run(
        [sys.executable, str(REPO / "bench" / "call_bench.py"), "--calls", "3", "--rounds", "1"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert calls.returncode == 0, calls.stderr[-3000:]
    assert "| complete_task |" in calls.stdout and "HTTP / stdio" in calls.stdout, calls.stdout


def test_ui_bench_runs_end_to_end(pg_server_dsn: str) -> None:
    """bench/ui_bench.py, tiny: every dashboard page it times answers 200 (the bench
    raises otherwise) and the live stream answered each write."""
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "ui_bench.py"), "--tasks", "200", "--events", "1000", "--calls", "1",
         "--rounds", "2"],
        env={**os.environ, "DATABASE_URL": pg_server_dsn}, capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "| session page (first view) |" in run.stdout and "live update" in run.stdout

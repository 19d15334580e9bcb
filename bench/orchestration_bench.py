"""How fast orchestration reacts.

    python bench/orchestration_bench.py                # 200 samples of each
    python bench/orchestration_bench.py --samples 500

1. create_task -> agent process start: one `mcp-sessions dispatch` process waits for
   work (long-poll); the bench creates a task (the store's create, one transaction) and
   the agent's command is `date +%s.%N`, which prints the time right after exec. The
   latency is that time minus the wall clock just before the create. One task at a time.
2. webhook POST -> task claimable / claimed: a `serve --transport http` process with a
   github hook; the bench posts a signed issues payload. "claimable" is the 201
   response (the task is committed when it is sent); "claimed" is a claimer already
   long-polling in the bench process (TaskWaiter, as claim_task(wait_seconds) and the
   dispatcher wait) getting the task, woken by NOTIFY.

PostgreSQL: MCP_SESSIONS_BENCH_DSN (default postgresql://postgres@127.0.0.1:5432/postgres);
a throwaway database is created and dropped."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mcp_sessions import migrations  # noqa: E402
from mcp_sessions.db import connect  # noqa: E402
from mcp_sessions.hooks.verify import sign_github  # noqa: E402
from mcp_sessions.store import tasks  # noqa: E402
from mcp_sessions.store.task_waiter import TaskWaiter  # noqa: E402

SECRET = "bench-secret"
HOOKS = """
[hooks.github]
scheme = "github"
secret_env = "BENCH_GITHUB_SECRET"
[[hooks.github.rules]]
events = ["issues"]
session = "bench-hooks"
task_type = "code"
agent_name = "hook-claimer"
title = "Issue #{/issue/number}"
input = { number = "/issue/number" }
"""


def with_db(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def report(name: str, ms: list[float]) -> None:
    print(f"{name:<40} n={len(ms):<4} p50={pct(ms, 50):7.1f} ms  p90={pct(ms, 90):7.1f} ms  "
          f"p99={pct(ms, 99):7.1f} ms  max={max(ms):7.1f} ms  mean={statistics.mean(ms):6.1f} ms")


async def dispatch_latency(dsn: str, samples: int, args_gap: float) -> list[float]:
    conn = await connect(dsn)
    await conn.execute("INSERT INTO sessions (id, title, created_by) VALUES ('bench', 'bench', 'bench')")
    await conn.execute("INSERT INTO agents (name, type, command) VALUES ('bench-agent', 'bench', 'date +%s.%N')")
    env = {**os.environ, "DATABASE_URL": dsn, "MCP_SESSIONS_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "mcp_sessions", "dispatch", "--agent", "bench-agent"],
                            env=env, cwd=REPO)
    out = []
    try:
        await asyncio.sleep(3)  # the dispatcher is up and long-polling
        for i in range(samples + 5):
            before = time.time()
            task = await tasks.create(conn, "bench", task_type="code", agent_name="bench-agent", title=None,
                                      input_data={}, priority=0, agent="bench")
            while True:
                row = await conn.fetchrow("SELECT status, output_data FROM tasks WHERE id = $1", task.id)
                if row["status"] in ("completed", "failed"):
                    break
                await asyncio.sleep(0.005)
            assert row["status"] == "completed", row
            started = float(row["output_data"]["stdout_tail"].strip())
            if i >= 5:  # the first few warm the dispatcher's pool and statements
                out.append((started - before) * 1000)
            # the dispatcher is back in its long-poll (creating the next task while it is
            # between its claim and its registration can lose the wake-up: see bench/ORCHESTRATION.md)
            await asyncio.sleep(args_gap)
    finally:
        proc.terminate()
        proc.wait(30)
        await conn.close()
    return out


async def webhook_latency(dsn: str, samples: int) -> tuple[list[float], list[float]]:
    hooks_file = Path(tempfile.mkdtemp()) / "hooks.toml"
    hooks_file.write_text(HOOKS)
    env = {**os.environ, "DATABASE_URL": dsn, "MCP_SESSIONS_LOG_LEVEL": "WARNING", "MCP_SESSIONS_HOOKS": str(hooks_file),
           "BENCH_GITHUB_SECRET": SECRET}
    proc = subprocess.Popen([sys.executable, "-m", "mcp_sessions", "serve", "--transport", "http", "--port", "0"],
                            env=env, cwd=REPO, stderr=subprocess.PIPE, text=True)
    base = None
    for line in proc.stderr:
        if m := re.search(r"(http://[^ ]+)/mcp", line):
            base = m[1]
            break
    assert base, "the server did not start"
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
    waiter = TaskWaiter(pool, lambda: _same(dsn))
    await waiter.start()
    responded, claimed = [], []

    async def claim():
        async with pool.acquire() as c:
            return await tasks.claim(c, agent="hook-claimer", session_id=None, task_types=None)

    try:
        async with httpx2.AsyncClient() as http:
            for i in range(samples + 5):
                body = ('{"action": "opened", "issue": {"number": %d, "title": "t"}}' % i).encode()
                headers = {"X-GitHub-Event": "issues", "X-GitHub-Delivery": str(uuid.uuid4()),
                           "X-Hub-Signature-256": sign_github(SECRET.encode(), body)}
                waiting = asyncio.create_task(waiter.claim(claim, agent="hook-claimer", session_id=None,
                                                           task_types=None, wait_seconds=30))
                await asyncio.sleep(0.05)  # the claimer is registered and waiting
                before = time.perf_counter()
                r = await http.post(base + "/hooks/github", content=body, headers=headers)
                after = time.perf_counter()
                result = await waiting
                got = time.perf_counter()
                assert r.status_code == 201 and result.task is not None and result.task.id == r.json()["task_id"], r.text
                if i >= 5:
                    responded.append((after - before) * 1000)
                    claimed.append((got - before) * 1000)
    finally:
        await waiter.stop()
        await pool.close()
        proc.terminate()
        proc.wait(30)
    return responded, claimed


async def _same(dsn: str) -> str:
    return dsn


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between one task's end and the next create")
    args = parser.parse_args()
    server = os.environ.get("MCP_SESSIONS_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"mcps_bench_orch_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = with_db(server, name)
    try:
        conn = await connect(dsn)
        await migrations.migrate(conn)
        await conn.close()
        report("create_task -> agent process started", await dispatch_latency(dsn, args.samples, args.gap))
        responded, claimed = await webhook_latency(dsn, args.samples)
        report("webhook POST -> 201 (task claimable)", responded)
        report("webhook POST -> claimed by a waiting claimer", claimed)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())

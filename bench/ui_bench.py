"""The dashboard on a big session: how long its pages take, and how soon a change shows.

    python bench/ui_bench.py                      # 10,000 tasks, 100,000 events
    python bench/ui_bench.py --tasks 1000 --events 10000 --calls 5   # quick

A scratch database on the server of DATABASE_URL (default: the local PostgreSQL at
127.0.0.1:5432), dropped afterwards unless --keep, holds one big session: --tasks tasks
(60% completed, 20% pending, 10% held under live leases by 8 agents, 5% failed, 5%
cancelled; every tenth pending task blocked by another), their events, more events up to
--events, 500 memories, 200 artifacts of 3 versions, 1,000 chunks, 500 messages; and 200
small sessions beside it. `mcp-sessions ui` (auth off) serves it; each page is fetched
--calls times after 5 warm-up fetches, timed at the client on loopback (so an upper bound
of the server's time). Then live updates: a task inserted by another connection, and the
time until the session's event stream says `changed`, over --rounds rounds."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
import uuid

import asyncpg
import httpx2

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
SID = "big-session"


def with_db(dsn: str, name: str) -> str:
    base, _, query = dsn.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")


async def populate(dsn: str, tasks: int, events: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO sessions (id, title, participants, created_by) VALUES ($1, 'The big session', "
            "'[\"a0\",\"a1\",\"a2\",\"a3\",\"a4\",\"a5\",\"a6\",\"a7\"]', 'bench')", SID,
        )
        await conn.execute(
            "INSERT INTO sessions (id, title, created_by) SELECT 'small-' || g, 'Small session ' || g, 'bench' "
            "FROM generate_series(1, 200) g"
        )
        await conn.execute(
            """INSERT INTO tasks (session_id, title, task_type, created_by, status, claimed_by, claimed_at,
                                  lease_expires_at, finished_at, attempts, claim_token, error)
               SELECT $1, 'Task ' || g, 'code', 'bench', st,
                      CASE WHEN st IN ('claimed', 'completed', 'failed') THEN 'a' || (g % 8) END,
                      CASE WHEN st IN ('claimed', 'completed', 'failed') THEN now() - interval '2 min' END,
                      CASE WHEN st = 'claimed' THEN now() + interval '10 min' END,
                      CASE WHEN st IN ('completed', 'failed', 'cancelled') THEN now() - (g % 3600) * interval '1 s' END,
                      CASE WHEN st = 'pending' THEN 0 ELSE 1 END,
                      CASE WHEN st = 'claimed' THEN gen_random_uuid() END,
                      CASE WHEN st = 'failed' THEN 'it broke' END
               FROM (SELECT g, CASE WHEN g % 20 < 12 THEN 'completed' WHEN g % 20 < 16 THEN 'pending'
                                    WHEN g % 20 < 18 THEN 'claimed' WHEN g % 20 = 18 THEN 'failed'
                                    ELSE 'cancelled' END AS st
                     FROM generate_series(1, $2) g) x""",
            SID, tasks,
        )
        # Every tenth pending task waits for another pending one.
        await conn.execute(
            """WITH p AS (SELECT id, row_number() OVER (ORDER BY seq) AS n FROM tasks
                          WHERE session_id = $1 AND status = 'pending')
               INSERT INTO task_dependencies (task_id, depends_on)
               SELECT a.id, b.id FROM p a JOIN p b ON b.n = a.n + 1 WHERE a.n % 10 = 0""",
            SID,
        )
        await conn.execute(
            """UPDATE tasks t SET blocked_by = 1 FROM task_dependencies d WHERE d.task_id = t.id AND t.session_id = $1""",
            SID,
        )
        have = await conn.fetchval("SELECT count(*) FROM events WHERE session_id = $1", SID)
        await conn.execute(
            """INSERT INTO events (session_id, agent, kind, ref, version)
               SELECT $1, 'a' || (g % 8), (ARRAY['task.claimed', 'task.started', 'task.completed'])[1 + g % 3],
                      (SELECT id FROM tasks WHERE session_id = $1 ORDER BY seq LIMIT 1), 1
               FROM generate_series(1, $2) g""",
            SID, max(0, events - have),
        )
        await conn.execute(
            """INSERT INTO memories (session_id, key, type, content, created_by, updated_by)
               SELECT $1, 'mem-' || g, (ARRAY['idea','decision','question','action_item','context','preference',
                      'fact','risk'])[1 + g % 8], to_jsonb('memory number ' || g), 'a' || (g % 8), 'a' || (g % 8)
               FROM generate_series(1, 500) g""",
            SID,
        )
        await conn.execute(
            """INSERT INTO artifacts (session_id, name, version, type, format, content, size, content_sha256, created_by)
               SELECT $1, 'doc-' || g || '.md', v, 'document', 'markdown', repeat('line ' || v || E'\n', 50), 350,
                      sha256(convert_to(g || '-' || v, 'UTF8')), 'a' || (g % 8)
               FROM generate_series(1, 200) g, generate_series(1, 3) v""",
            SID,
        )
        await conn.execute(
            """INSERT INTO conversation_chunks (session_id, chunk_id, content, size, content_sha256, format, created_by)
               SELECT $1, 'chunk-' || g, repeat('words of chunk ' || g || ' ', 40), 600,
                      sha256(convert_to('c' || g, 'UTF8')), 'dialogue', 'a' || (g % 8)
               FROM generate_series(1, 1000) g""",
            SID,
        )
        await conn.execute(
            """INSERT INTO messages (session_id, created_by, subject, body)
               SELECT $1, 'a' || (g % 8), 'status ' || g, 'progress report ' || g FROM generate_series(1, 500) g""",
            SID,
        )
        await conn.execute("VACUUM ANALYZE")
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM tasks WHERE session_id = $1) AS tasks, "
            "(SELECT count(*) FROM events WHERE session_id = $1) AS events", SID,
        )
        print(f"big session: {counts['tasks']:,} tasks, {counts['events']:,} events", file=sys.stderr)
    finally:
        await conn.close()


async def measure(base: str, dsn: str, calls: int, rounds: int) -> None:
    paths = {
        "session page (first view)": f"/ui/s/{SID}",
        "task board (live fragment)": f"/ui/s/{SID}/board",
        "timeline (live fragment)": f"/ui/s/{SID}/timeline",
        "sessions list": "/ui/",
        "chunks, page 25": f"/ui/s/{SID}/chunks?page=25",
        "artifact diff": f"/ui/s/{SID}/artifacts/doc-1.md?a=1&b=3",
        "agents": "/ui/agents",
        "queue charts data": "/ui/queue/data",
    }
    print(f"\n| page | p50 ms | p95 ms | max ms | bytes |\n|---|---:|---:|---:|---:|")
    async with httpx2.AsyncClient(base_url=base, timeout=30) as http:
        for label, path in paths.items():
            for _ in range(5):
                (await http.get(path)).raise_for_status()
            times, size = [], 0
            for _ in range(calls):
                started = time.perf_counter()
                r = await http.get(path)
                times.append((time.perf_counter() - started) * 1000)
                r.raise_for_status()
                size = len(r.content)
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(f"| {label} | {statistics.median(times):.1f} | {p95:.1f} | {times[-1]:.1f} | {size:,} |")

        # Live: a write by another connection, to the stream's `changed`.
        conn = await asyncpg.connect(dsn)
        latencies = []
        try:
            async with http.stream("GET", f"/ui/s/{SID}/live") as stream:
                lines = stream.aiter_lines()
                while not (await lines.__anext__()).startswith("event: changed"):
                    pass
                for i in range(rounds):
                    await asyncio.sleep(0.3)
                    started = time.perf_counter()
                    await conn.execute(
                        "INSERT INTO tasks (session_id, title, task_type, created_by) VALUES ($1, $2, 'code', 'bench')",
                        SID, f"live {i} {uuid.uuid4().hex[:6]}",
                    )
                    while not (await lines.__anext__()).startswith("event: changed"):
                        pass
                    latencies.append((time.perf_counter() - started) * 1000)
        finally:
            await conn.close()
        latencies.sort()
        print(f"\nlive update (INSERT committed -> `changed` on the page's stream), {rounds} rounds: "
              f"p50 {statistics.median(latencies):.1f} ms, max {latencies[-1]:.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", DEFAULT_DSN)
    name = f"ui_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = with_db(server, name)
    env = {**os.environ, "DATABASE_URL": dsn, "MCP_SESSIONS_HTTP_AUTH": "none", "MCP_SESSIONS_LOG_LEVEL": "WARNING"}
    process = None
    try:
        subprocess.run([sys.executable, "-m", "mcp_sessions", "db", "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        started = time.perf_counter()
        await populate(dsn, args.tasks, args.events)
        print(f"populated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        process = subprocess.Popen([sys.executable, "-m", "mcp_sessions", "ui", "--port", "0"], env=env,
                                   stderr=subprocess.PIPE, text=True)
        base = None
        for line in process.stderr:
            if match := re.search(r"(http://\S+)/ui/", line):
                base = match[1]
                break
        assert base, "mcp-sessions ui did not start"
        await asyncio.sleep(0.5)
        await measure(base, dsn, args.calls, args.rounds)
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
        if args.keep:
            print(f"kept database {name}", file=sys.stderr)
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())

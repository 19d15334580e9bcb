"""Listings and reads at scale, over MCP: p50/p95 of every list and get call on a database
of a million sessions, side by side with the same calls on a thousand.

    python bench/scale_bench.py                          # 1,000 and 1,000,000 sessions
    python bench/scale_bench.py --sizes 1000,20000 --calls 50   # quick
    python bench/scale_bench.py --keep                   # keep the databases (named on stderr)
    python bench/scale_bench.py --databases A,B          # measure kept ones (one per size)

Each size gets a scratch database on the server of DATABASE_URL (default: the local
PostgreSQL at 127.0.0.1:5432), dropped afterwards unless --keep. What it holds, for N
sessions:

- N sessions, 1-3 participants each of 10 agents, 80% completed / 15% active / 5% paused,
  activity spread over a year;
- 2N memories (2 per session; 8 types, 1-2 of 20 tags), N tasks (97% completed, 2%
  pending, 0.5% failed, 0.5% cancelled; 30% targeted at one of the agents), N/5 chunks and
  N/5 artifacts spread over the sessions;
- and one big session holding 20,000 memories, tasks, chunks and artifacts (4,000 names x 5
  versions), 40 tasks held under live leases by 4 agents: the same in every size, so its
  calls compare across sizes.

It is written by a few INSERT ... SELECT FROM generate_series statements on the server, with
session_replication_role = replica (so a superuser, or the database's owner on PostgreSQL
15+ with that privilege granted) so that no trigger runs: no search index, no events, no
activity, no foreign-key checks. That is what makes a million sessions take minutes, not
hours; the listings read none of what the triggers write. Then VACUUM ANALYZE, as
autovacuum would have done on a database that grew over time. On the 2-core development
machine, 1,000,000 sessions take about 10 minutes to build.

Then one `mcp-sessions serve` process over stdio answers `--calls` calls of each kind (after
10 warm-up calls, so prepared statements have passed the point where PostgreSQL may switch
to a generic plan), timed at the client."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from mcp import Client, StdioServerParameters

from mcp_sessions import migrations, pagination
from mcp_sessions.db import connect
from mcp_sessions.sql import build

BIG = 20_000  # rows of each kind in the big session
AGENTS = [f"agent{i}" for i in range(10)]

SEED = """
SET session_replication_role = replica;
INSERT INTO agents (name, type, status, last_seen)
SELECT 'agent' || i, 'coding', 'available', now() - i * interval '1 minute' FROM generate_series(0, 9) i
ON CONFLICT (name) DO NOTHING;
INSERT INTO sessions (id, title, participants, status, metadata, created_by, created, last_activity)
SELECT 's' || i, 'Session ' || i || ': cache redesign',
       CASE i % 3 WHEN 0 THEN jsonb_build_array('agent' || (i % 10))
                  WHEN 1 THEN jsonb_build_array('agent' || (i % 10), 'agent' || ((i / 10) % 10))
                  ELSE jsonb_build_array('agent' || (i % 10), 'agent' || ((i / 10) % 10), 'agent' || ((i / 100) % 10)) END,
       CASE WHEN i % 20 = 0 THEN 'paused' WHEN i % 20 < 4 THEN 'active' ELSE 'completed' END,
       jsonb_build_object('n', i), 'agent' || (i % 10),
       now() - interval '400 days' + i * ($1 / $2::float8) * interval '1 second',
       now() - interval '365 days' + i * ($1 / $2::float8) * interval '1 second' + (i % 7) * interval '1 hour'
FROM generate_series(1, $2::int) i;
INSERT INTO sessions (id, title, participants, status, created_by, created, last_activity)
VALUES ('big', 'The big session', '["agent0", "agent1"]', 'active', 'agent0',
        now() - interval '30 days', now() - interval '1 day');
INSERT INTO memories (session_id, key, type, content, tags, created_by, updated_by, created, updated)
SELECT CASE WHEN i <= $3 THEN 'big' ELSE 's' || (1 + (i - $3) % $2) END, 'key-' || i,
       (ARRAY['idea', 'decision', 'question', 'action_item', 'context', 'preference', 'fact', 'risk'])[1 + i % 8],
       jsonb_build_object('text', 'memory ' || i),
       CASE WHEN i % 2 = 0 THEN ARRAY['tag' || (i % 20)] ELSE ARRAY['tag' || (i % 20), 'tag' || ((i / 20) % 20)] END,
       'agent' || (i % 10), 'agent' || (i % 10),
       now() - interval '365 days' + i * interval '1 second', now() - interval '365 days' + i * interval '1 second'
FROM generate_series(1, 2 * $2 + $3) i;
INSERT INTO tasks (id, session_id, title, agent_name, task_type, status, input_data, created_by, created,
                   updated, finished_at, attempts)
SELECT 't' || i, CASE WHEN i <= $3 THEN 'big' ELSE 's' || (1 + (i - $3) % $2) END, 'task ' || i,
       CASE WHEN i % 10 < 3 THEN 'agent' || (i % 10) END,
       (ARRAY['code', 'research', 'document', 'analysis'])[1 + i % 4],
       CASE WHEN i % 200 = 7 THEN 'failed' WHEN i % 200 = 8 THEN 'cancelled' WHEN i % 50 = 9 THEN 'pending'
            ELSE 'completed' END,
       jsonb_build_object('n', i), 'agent' || (i % 10),
       now() - interval '365 days' + i * interval '1 second', now(),
       CASE WHEN i % 50 = 9 AND i % 200 NOT IN (7, 8) THEN NULL ELSE now() END, 1
FROM generate_series(1, $2 + $3) i;
UPDATE tasks SET status = 'claimed', claimed_by = 'agent' || (substr(id, 2)::int % 4), claimed_at = now(),
       claim_token = gen_random_uuid(), lease_seconds = 3600, lease_expires_at = now() + interval '1 hour'
WHERE id IN (SELECT id FROM tasks WHERE session_id = 'big' AND status = 'pending' ORDER BY id LIMIT 40);
INSERT INTO conversation_chunks (session_id, chunk_id, content, size, content_sha256, format, created_by, created)
SELECT CASE WHEN i <= $3 THEN 'big' ELSE 's' || (1 + (i - $3) * 5 % $2) END, 'chunk-' || i,
       'chunk text ' || i, length('chunk text ' || i), sha256(('chunk text ' || i)::bytea), 'dialogue',
       'agent' || (i % 10), now() - interval '365 days' + i * interval '1 second'
FROM generate_series(1, $2 / 5 + $3) i;
INSERT INTO artifacts (session_id, name, version, type, format, content, size, content_sha256, created_by, created)
SELECT CASE WHEN i <= $3 THEN 'big' ELSE 's' || (1 + (i - $3) * 5 % $2) END,
       CASE WHEN i <= $3 THEN 'doc-' || ((i - 1) / 5) ELSE 'doc-' || i END,
       CASE WHEN i <= $3 THEN 1 + (i - 1) % 5 ELSE 1 END,
       (ARRAY['code', 'document', 'research', 'prd', 'report'])[1 + (i / 5) % 5], 'markdown',
       'artifact ' || i, length('artifact ' || i), sha256(('artifact ' || i)::bytea),
       'agent' || (i % 10), now() - interval '365 days' + i * interval '1 second'
FROM generate_series(1, $2 / 5 + $3) i;
SET session_replication_role = DEFAULT;
"""


def with_db(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


async def build_database(server_dsn: str, sessions: int, big: int = BIG) -> tuple[str, str, float]:
    name = f"mcps_scale_{sessions}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = with_db(server_dsn, name)
    started = time.perf_counter()
    conn = await connect(dsn)
    try:
        await migrations.migrate(conn)
        await conn.execute("SET maintenance_work_mem = '256MB'")
        # $1 a year in seconds, $2 the number of sessions, $3 the big session's rows: numbers
        # of our own, written into the text.
        seed = SEED.replace("$1", str(365 * 86400.0)).replace("$2", str(sessions)).replace("$3", str(big))
        await conn.execute(seed)
        await conn.execute("VACUUM ANALYZE")
    except BaseException:
        await conn.close()
        await drop(server_dsn, name)  # a half-built database is of no use to anyone
        raise
    await conn.close()
    return name, dsn, time.perf_counter() - started


async def drop(server_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def cursors(dsn: str) -> dict[str, str]:
    """Cursors into the middle of each listing, as a client paging that deep would hold."""
    conn = await connect(dsn)
    try:
        half = await conn.fetchrow(
            "SELECT id, last_activity FROM sessions ORDER BY last_activity DESC, id DESC "
            "OFFSET (SELECT count(*) / 2 FROM sessions) LIMIT 1")
        paused = await conn.fetchrow(
            "SELECT id, last_activity FROM sessions WHERE status = 'paused' ORDER BY last_activity DESC, id DESC "
            "OFFSET (SELECT count(*) / 2 FROM sessions WHERE status = 'paused') LIMIT 1")
        memory = await conn.fetchrow(
            "SELECT created, key FROM memories WHERE session_id = 'big' ORDER BY created, key "
            "OFFSET (SELECT count(*) / 2 FROM memories WHERE session_id = 'big') LIMIT 1")
        task = await conn.fetchrow(
            "SELECT created, id FROM tasks ORDER BY created, id OFFSET (SELECT count(*) / 2 FROM tasks) LIMIT 1")
        chunk = await conn.fetchval(
            "SELECT seq FROM conversation_chunks WHERE session_id = 'big' ORDER BY seq "
            "OFFSET (SELECT count(*) / 2 FROM conversation_chunks WHERE session_id = 'big') LIMIT 1")
    finally:
        await conn.close()
    return {
        "sessions": pagination.encode(half["last_activity"].isoformat(), half["id"]),
        "paused": pagination.encode(paused["last_activity"].isoformat(), paused["id"]),
        "memories": pagination.encode(memory["created"].isoformat(), memory["key"]),
        "tasks": pagination.encode(task["created"].isoformat(), task["id"]),
        "chunks": pagination.encode(chunk),
        "artifacts": pagination.encode("doc-2000", 5),
    }


def calls(deep: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, tool, arguments)."""
    return [
        ("list_sessions", "list_sessions", {}),
        ("list_sessions deep", "list_sessions", {"cursor": deep["sessions"]}),
        ("list_sessions status", "list_sessions", {"status": "paused"}),
        ("list_sessions status deep", "list_sessions", {"status": "paused", "cursor": deep["paused"]}),
        ("list_sessions participant", "list_sessions", {"participant": "agent3"}),
        ("list_sessions participant deep", "list_sessions", {"participant": "agent3", "cursor": deep["sessions"]}),
        ("list_sessions status+participant", "list_sessions", {"status": "active", "participant": "agent3"}),
        ("list_memories big", "list_memories", {"session_id": "big"}),
        ("list_memories big deep", "list_memories", {"session_id": "big", "cursor": deep["memories"]}),
        ("list_memories big type", "list_memories", {"session_id": "big", "type": "risk"}),
        ("list_memories big tags", "list_memories", {"session_id": "big", "tags": ["tag3"]}),
        ("list_memories big type+tags", "list_memories", {"session_id": "big", "type": "fact", "tags": ["tag6"]}),
        ("list_memories small", "list_memories", {"session_id": "s77"}),
        ("list_tasks", "list_tasks", {}),
        ("list_tasks deep", "list_tasks", {"cursor": deep["tasks"]}),
        ("list_tasks session big", "list_tasks", {"session_id": "big"}),
        ("list_tasks status pending", "list_tasks", {"status": "pending"}),
        ("list_tasks status failed", "list_tasks", {"status": "failed"}),
        ("list_tasks agent", "list_tasks", {"agent_name": "agent3"}),
        ("list_tasks session+status", "list_tasks", {"session_id": "big", "status": "completed"}),
        ("list_chunks big", "list_chunks", {"session_id": "big"}),
        ("list_chunks big deep", "list_chunks", {"session_id": "big", "cursor": deep["chunks"]}),
        ("list_artifacts big", "list_artifacts", {"session_id": "big"}),
        ("list_artifacts big deep", "list_artifacts", {"session_id": "big", "cursor": deep["artifacts"]}),
        ("list_artifacts big type", "list_artifacts", {"session_id": "big", "type": "prd"}),
        ("list_artifacts versions", "list_artifacts", {"session_id": "big", "name": "doc-77"}),
        ("list_agents", "list_agents", {}),
        ("get_session big", "get_session", {"session_id": "big"}),
        ("get_session small", "get_session", {"session_id": "s77"}),
        ("recall", "recall", {"session_id": "big", "key": "key-777"}),
        ("get_task", "get_task", {"task_id": "t777"}),
        ("get_chunk", "get_chunk", {"session_id": "big", "chunk_id": "chunk-777"}),
        ("get_artifact", "get_artifact", {"session_id": "big", "name": "doc-77"}),
    ]


def statements(dsn_cursors: dict[str, str]) -> list[tuple[str, str, list[Any]]]:
    """(label, SQL, arguments): the statement each listing and get_session runs, as the store
    builds it, for EXPLAIN (ANALYZE, BUFFERS): pages read do not depend on the machine's load."""
    d = {k: pagination.decode(v, 1 if k == "chunks" else 2) for k, v in dsn_cursors.items()}
    at = datetime.fromisoformat
    plain = [
        ("list_sessions", "session_summaries", {"limit": 51}),
        ("list_sessions deep", "session_summaries", {"limit": 51, "after_at": at(d["sessions"][0]),
                                                      "after_id": d["sessions"][1]}),
        ("list_sessions status", "session_summaries", {"limit": 51, "status": "paused"}),
        ("list_sessions status deep", "session_summaries", {"limit": 51, "status": "paused",
                                                             "after_at": at(d["paused"][0]), "after_id": d["paused"][1]}),
        ("list_sessions participant", "session_summaries", {"limit": 51, "participant": "agent3"}),
        ("list_memories big", "list_memories", {"session_id": "big", "limit": 51}),
        ("list_memories big deep", "list_memories", {"session_id": "big", "limit": 51,
                                                      "after_at": at(d["memories"][0]), "after_key": d["memories"][1]}),
        ("list_memories big type", "list_memories", {"session_id": "big", "type": "risk", "limit": 51}),
        ("list_memories big tags", "list_memories", {"session_id": "big", "tags": ["tag3"], "limit": 51}),
        ("list_tasks", "list_tasks", {"limit": 51}),
        ("list_tasks deep", "list_tasks", {"limit": 51, "after_at": at(d["tasks"][0]), "after_id": d["tasks"][1]}),
        ("list_tasks status pending", "list_tasks", {"status": "pending", "unfinished": True, "limit": 51}),
        ("list_tasks status failed", "list_tasks", {"status": "failed", "limit": 51}),
        ("list_tasks agent", "list_tasks", {"agent_name": "agent3", "limit": 51}),
        ("list_chunks big deep", "list_chunks", {"session_id": "big", "after_seq": d["chunks"][0], "limit": 51}),
        ("list_artifacts big", "list_artifacts", {"session_id": "big", "limit": 51}),
        ("get_session big", "session_summaries", {"id": "big", "limit": 1}),
        ("get_session small", "session_summaries", {"id": "s77", "limit": 1}),
        ("list_agents", "list_agents", {"alive_seconds": 300.0, "limit": 51}),
    ]
    return [(label, *build(name, **params)) for label, name, params in plain]


async def explain(dsn: str, n: int = 20) -> dict[str, tuple[float, int]]:
    """Per statement: the median execution time (ms) and the buffers it touched."""
    conn = await connect(dsn)
    results = {}
    try:
        for label, query, args in statements(await cursors(dsn)):
            times, buffers = [], 0
            for _ in range(n):
                plan = (await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}", *args))[0]
                times.append(plan["Execution Time"])
                buffers = plan["Plan"]["Shared Hit Blocks"] + plan["Plan"]["Shared Read Blocks"]
            results[label] = (statistics.median(times), buffers)
    finally:
        await conn.close()
    return results


async def measure(dsn: str, n: int, warmup: int = 10) -> dict[str, tuple[float, float]]:
    env = {**os.environ, "DATABASE_URL": dsn, "MCP_SESSIONS_AGENT": "bench", "MCP_SESSIONS_LOG_LEVEL": "WARNING"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_sessions", "serve"], env=env)
    results: dict[str, tuple[float, float]] = {}
    async with Client(params) as client:
        for label, tool, arguments in calls(await cursors(dsn)):
            times = []
            for i in range(warmup + n):
                started = time.perf_counter()
                result = await client.call_tool(tool, arguments)
                elapsed = time.perf_counter() - started
                if result.is_error:
                    raise RuntimeError(f"{label}: {result.content[0].text}")
                if i >= warmup:
                    times.append(elapsed * 1000)
            times.sort()
            results[label] = (statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))])
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,1000000", help="numbers of sessions, comma-separated")
    parser.add_argument("--calls", type=int, default=200, help="timed calls of each kind")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--big", type=int, default=BIG, help="rows of each kind in the big session")
    parser.add_argument("--sql-only", action="store_true", help="only the statements' EXPLAIN ANALYZE table")
    parser.add_argument("--databases", help="measure these kept databases (comma-separated, one per size) instead")
    args = parser.parse_args()
    server_dsn = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    sizes = [int(s) for s in args.sizes.split(",")]
    columns: list[dict[str, tuple[float, float]]] = []
    plans: list[dict[str, tuple[float, int]]] = []
    kept = args.databases.split(",") if args.databases else None
    for i, size in enumerate(sizes):
        if kept:
            name, dsn = kept[i], with_db(server_dsn, kept[i])
        else:
            name, dsn, seconds = await build_database(server_dsn, size, args.big)
            print(f"built {size:,} sessions in {seconds:.0f} s (database {name})", file=sys.stderr, flush=True)
        try:
            plans.append(await explain(dsn))
            if not args.sql_only:
                columns.append(await measure(dsn, args.calls))
            print(f"measured {size:,} (load average {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
        finally:
            if not args.keep and not kept:
                await drop(server_dsn, name)
    print(f"The statements alone (EXPLAIN ANALYZE, median of 20; buffers: pages touched), {datetime.now():%Y-%m-%d}\n")
    print("| statement | " + " | ".join(f"{s:,} ms | {s:,} buffers" for s in sizes) + " |")
    print("|---|" + "---:|" * (2 * len(sizes)))
    for label in plans[0]:
        print(f"| {label} | " + " | ".join(f"{p[label][0]:.2f} | {p[label][1]}" for p in plans) + " |")
    if not columns:
        return
    print()
    head = " | ".join(f"{s:,} p50 | {s:,} p95" for s in sizes)
    ratio = f" | p50 {sizes[-1]:,} / {sizes[0]:,}" if len(sizes) > 1 else ""
    print(f"{args.calls} calls each over stdio, ms, {datetime.now():%Y-%m-%d}\n")
    print(f"| call | {head}{ratio} |")
    print("|---|" + "---:|" * (2 * len(sizes) + (1 if ratio else 0)))
    for label in columns[0]:
        cells = " | ".join(f"{c[label][0]:.2f} | {c[label][1]:.2f}" for c in columns)
        r = f" | {columns[-1][label][0] / columns[0][label][0]:.2f}" if ratio else ""
        print(f"| {label} | {cells}{r} |")


if __name__ == "__main__":
    asyncio.run(main())

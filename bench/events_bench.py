"""What the event feed costs writers, and how fast it wakes readers.

    python bench/events_bench.py                      # ingest with/without events, wake-up latency
    python bench/events_bench.py --rounds 5 --chunks 40 --chunk-kb 512 --wake-rounds 200

1. Chunk ingest through the store (add_chunk's code path: the search index and the
   event), in interleaved rounds with the event triggers of the chunk table in place and
   dropped, reported as MB/s and the ratio of the two per round (the machine's load
   moves both alike). The claim+complete side is measured by queue_bench.py
   (`--systems floor,store,store-noevents`) and queue_cost.py (`store-noevents`).
3. Resource notifications: a client subscribed to a memory's resource in one server
   process is told of a write through another (write sent -> notification received).
2. Wake-up: a reader waits in watch(wait_seconds) in one `mcp-sessions serve` process;
   another server process adds a memory; measured from sending the write to the watch
   returning it, over the MCP stdio transport of both processes.

PostgreSQL: MCP_SESSIONS_BENCH_DSN (default postgresql://postgres@127.0.0.1:5432/postgres);
a throwaway database is created and dropped."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import string
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp import Client, StdioServerParameters  # noqa: E402

from mcp_sessions import migrations  # noqa: E402
from mcp_sessions.db import connect  # noqa: E402
from mcp_sessions.store import chunks  # noqa: E402

TRIGGER = "conversation_chunks_events"


def with_db(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


def text(kb: int, rng: random.Random) -> str:
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(5000)]
    out, size = [], 0
    while size < kb * 1024:
        word = rng.choice(words)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


async def set_trigger(conn: asyncpg.Connection, enabled: bool, saved: list[str]) -> None:
    oid = await conn.fetchval("SELECT oid FROM pg_trigger WHERE tgname = $1", TRIGGER)
    if not enabled and oid is not None:
        saved[:] = [await conn.fetchval("SELECT pg_get_triggerdef($1)", oid)]
        await conn.execute(f"DROP TRIGGER {TRIGGER} ON conversation_chunks")
    elif enabled and oid is None:
        await conn.execute(saved[0])


async def ingest(dsn: str, rounds: int, n: int, kb: int) -> None:
    rng = random.Random(7)
    bodies = [text(kb, rng) for _ in range(n)]
    megabytes = sum(len(b) for b in bodies) / 1e6
    conn = await connect(dsn)
    await conn.execute("INSERT INTO sessions (id, title, created_by) VALUES ('bench', 'bench', 'bench')")
    saved: list[str] = []
    rates: dict[bool, list[float]] = {True: [], False: []}
    for r in range(rounds):
        for enabled in (True, False) if r % 2 == 0 else (False, True):
            await set_trigger(conn, enabled, saved)
            await conn.execute("TRUNCATE conversation_chunks, search_segments")
            started = time.perf_counter()
            for i, body in enumerate(bodies):
                async with conn.transaction():
                    await chunks.add(conn, "bench", content=body, format="transcript", chunk_id=f"c{i}",
                                     extracted_items={}, agent="bench")
            rates[enabled].append(megabytes / (time.perf_counter() - started))
    await set_trigger(conn, True, saved)
    await conn.close()
    ratios = sorted(a / b for a, b in zip(rates[True], rates[False]))
    print(f"chunk ingest, {n} chunks of {kb} KB per run, {rounds} interleaved rounds:")
    print("| events | MB/s (median) |\n|---|---:|")
    print(f"| on | {statistics.median(rates[True]):.1f} |\n| off | {statistics.median(rates[False]):.1f} |")
    print(f"on/off per round: median {statistics.median(ratios):.3f}, range {ratios[0]:.3f}-{ratios[-1]:.3f}\n")


INSERT_MEMORY = ("INSERT INTO memories (session_id, key, type, content, created_by, updated_by) "
                 "VALUES ($1, $2, 'fact', '1', 'writer', 'writer')")


async def wake(dsn: str, rounds: int, via_sql: bool) -> None:
    direct = await asyncpg.connect(dsn) if via_sql else None
    def params(agent: str) -> StdioServerParameters:
        env = {**os.environ, "DATABASE_URL": dsn, "MCP_SESSIONS_AGENT": agent, "MCP_SESSIONS_LOG_LEVEL": "WARNING"}
        return StdioServerParameters(command=sys.executable, args=["-m", "mcp_sessions", "serve"], env=env)

    out: list[float] = []
    async with Client(params("reader")) as reader, Client(params("writer")) as writer:
        sid = (await reader.call_tool("create_session", {"title": "wake"})).structured_content["id"]
        after = (await reader.call_tool("watch", {"session_id": sid})).structured_content["next_after"]
        for i in range(rounds):
            waiting = asyncio.create_task(
                reader.call_tool("watch", {"session_id": sid, "after": after, "wait_seconds": 10}))
            await asyncio.sleep(0.05)  # the watch is registered and waiting
            if direct:
                await direct.execute(INSERT_MEMORY, sid, f"k{i}")  # autocommit: returns once committed
            else:
                await writer.call_tool("remember", {"session_id": sid, "key": f"k{i}", "type": "fact", "content": i})
            sent = time.perf_counter()
            page = (await waiting).structured_content
            out.append(time.perf_counter() - sent)
            assert page["events"], "the watch returned empty"
            after = page["next_after"]
    if direct:
        await direct.close()
    out.sort()
    how = "committed by psql-like INSERT" if via_sql else "remember through a second server process returned"
    print(f"watch wake-up ({how} -> watch returned over stdio), {len(out)} rounds: "
          f"p50 {statistics.median(out) * 1000:.1f} ms, p99 {out[min(len(out) - 1, int(.99 * len(out)))] * 1000:.1f} ms, "
          f"max {out[-1] * 1000:.1f} ms")


async def resource_notifications(dsn: str, rounds: int) -> None:
    """A client subscribed (resources/subscribe, over stdio) to a memory's resource in one
    server process; another process writes the memory: write sent -> notification received."""
    import mcp.types as types

    from mcp_sessions.resources import uris

    arrived: dict[str, float] = {}

    async def on_message(message) -> None:
        note = getattr(message, "root", message)
        if isinstance(note, types.ResourceUpdatedNotification):
            arrived.setdefault(str(note.params.uri), time.perf_counter())

    def params(agent: str) -> StdioServerParameters:
        env = {**os.environ, "DATABASE_URL": dsn, "MCP_SESSIONS_AGENT": agent, "MCP_SESSIONS_LOG_LEVEL": "WARNING"}
        return StdioServerParameters(command=sys.executable, args=["-m", "mcp_sessions", "serve"], env=env)

    out: list[float] = []
    direct = await asyncpg.connect(dsn)
    async with Client(params("reader"), mode="legacy", message_handler=on_message) as reader, \
            Client(params("writer")) as writer:
        sid = (await writer.call_tool("create_session", {"title": "notify"})).structured_content["id"]
        for i in range(rounds):
            uri = uris.memory(sid, f"k{i}")
            await reader.session.subscribe_resource(uri)
            async with direct.transaction():
                await direct.execute(INSERT_MEMORY, sid, f"k{i}")
            sent = time.perf_counter()  # committed
            while uri not in arrived:
                await asyncio.sleep(0.001)
            out.append(arrived[uri] - sent)
    await direct.close()
    out.sort()
    print(f"resource-updated notification (commit -> notification received over stdio), {len(out)} rounds: "
          f"p50 {statistics.median(out) * 1000:.1f} ms, p99 {out[min(len(out) - 1, int(.99 * len(out)))] * 1000:.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--chunk-kb", type=int, default=256)
    parser.add_argument("--wake-rounds", type=int, default=100)
    args = parser.parse_args()
    base = os.environ.get("MCP_SESSIONS_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"mcps_events_bench_{os.getpid()}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = with_db(base, name)
    try:
        conn = await connect(dsn)
        await migrations.migrate(conn)
        await conn.close()
        if args.rounds:
            await ingest(dsn, args.rounds, args.chunks, args.chunk_kb)
        if args.wake_rounds:
            await wake(dsn, args.wake_rounds, via_sql=True)
            await wake(dsn, args.wake_rounds, via_sql=False)
            await resource_notifications(dsn, args.wake_rounds)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())

"""How fast messages and events wake their readers across server processes, and how big
catch_up is for issue 15's late joiner.

    python bench/coordination_bench.py                 # 200 rounds of each wake-up, the catch_up size
    python bench/coordination_bench.py --rounds 50

1. read_inbox wake-up: agent `dev` waits in read_inbox(session_id, wait_seconds=10) in one
   `mcp-sessions serve` process; agent `lead`, in another process, sends it a direct message.
2. watch wake-up: `dev` waits in watch(session_id, kinds=["message.sent"], wait_seconds=10);
   `lead` sends a message.
   Each is measured from sending the write to the waiting call returning it, over the MCP
   stdio transport of both processes: it includes the writer's own call (its transaction
   and commit) and the reader's answer, so the wake-up after the commit is less. The
   "after the writer's answer" column starts the clock when send_message has returned
   (after its commit): the reader may have returned before that (0 then).
3. catch_up: the late joiner's session of tests/test_catch_up.py, read the old way (the
   11 calls of issue 15) and with catch_up, in bytes of compact JSON.

PostgreSQL: MCP_SESSIONS_BENCH_DSN or DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
a throwaway database is created and dropped."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp import Client, StdioServerParameters  # noqa: E402

from mcp_sessions import migrations  # noqa: E402
from mcp_sessions.db import connect  # noqa: E402


def with_db(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


def params(dsn: str, agent: str) -> StdioServerParameters:
    env = {**os.environ, "DATABASE_URL": dsn, "MCP_SESSIONS_AGENT": agent, "MCP_SESSIONS_LOG_LEVEL": "WARNING"}
    return StdioServerParameters(command=sys.executable, args=["-m", "mcp_sessions", "serve"], env=env)


async def call(client: Client, tool: str, **arguments: object) -> dict:
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        raise RuntimeError(f"{tool}: {result.content[0].text}")
    return result.structured_content


def figures(name: str, sent: list[float], answered: list[float]) -> str:
    def p(xs: list[float], q: float) -> float:
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000

    return (f"| {name} | {len(sent)} | {statistics.median(sent) * 1000:.1f} | {p(sent, .99):.1f} | "
            f"{max(sent) * 1000:.1f} | {statistics.median(answered) * 1000:.1f} | {p(answered, .99):.1f} |")


async def wake(dsn: str, rounds: int) -> None:
    async with Client(params(dsn, "dev")) as dev, Client(params(dsn, "lead")) as lead:
        sid = (await call(lead, "create_session", title="wake", participants=["lead", "dev"]))["id"]
        rows = []
        for what in ("read_inbox", "watch"):
            after = (await call(dev, "watch", session_id=sid))["next_after"]
            sent_to_return: list[float] = []
            answer_to_return: list[float] = []
            for i in range(rounds):
                if what == "read_inbox":
                    waiting = asyncio.create_task(call(dev, "read_inbox", session_id=sid, wait_seconds=10))
                else:
                    waiting = asyncio.create_task(call(dev, "watch", session_id=sid, after=after,
                                                       kinds=["message.sent"], wait_seconds=10))
                await asyncio.sleep(0.05)  # the reader is subscribed and waiting
                sent = time.perf_counter()
                await call(lead, "send_message", session_id=sid, to=["dev"], body=f"ping {i}")
                answered = time.perf_counter()
                page = await waiting
                returned = time.perf_counter()
                got = page["messages"] if what == "read_inbox" else page["events"]
                assert len(got) == 1, f"{what} returned {len(got)} items"
                if what == "watch":
                    after = page["next_after"]
                sent_to_return.append(returned - sent)
                answer_to_return.append(max(0.0, returned - answered))
            rows.append(figures(what, sent_to_return, answer_to_return))
    print("wake-up across server processes (ms):")
    print("| waiting call | rounds | sent -> returned p50 | p99 | max | after the writer's answer p50 | p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


async def catch_up_size(dsn: str) -> None:
    import logging

    from tests.test_catch_up import build_session, size

    logging.getLogger("mcp_sessions").setLevel(logging.WARNING)  # the in-process servers that build it
    sid = await build_session(dsn)
    async with Client(params(dsn, "dev2")) as dev2:
        first = await call(dev2, "list_tasks", session_id=sid)
        before = [
            await call(dev2, "list_sessions"), await call(dev2, "get_session", session_id=sid),
            await call(dev2, "list_memories", session_id=sid), first,
            await call(dev2, "list_artifacts", session_id=sid),
            await call(dev2, "get_artifact", session_id=sid, name="design.md"),
            await call(dev2, "list_chunks", session_id=sid),
            await call(dev2, "get_chunk", session_id=sid, chunk_id="day-3"),
            await call(dev2, "get_chunk", session_id=sid, chunk_id="day-2"),
            await call(dev2, "get_task", task_id=first["tasks"][-1]["id"]),
            await call(dev2, "list_agents"),
        ]
        started = time.perf_counter()
        digest = await call(dev2, "catch_up", session_id=sid)
        seconds = time.perf_counter() - started
    print(f"\nlate joiner (tests/test_catch_up.py's session): 11 calls, {sum(size(r) for r in before):,} bytes; "
          f"catch_up: 1 call, {size(digest):,} bytes ({len(json.dumps(digest)):,} characters), "
          f"{seconds * 1000:.0f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200, help="wake-ups measured of each kind (default 200)")
    parser.add_argument("--no-catch-up", action="store_true", help="skip the catch_up size")
    args = parser.parse_args()
    base = os.environ.get("MCP_SESSIONS_BENCH_DSN") or os.environ.get(
        "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"mcps_coord_bench_{os.getpid()}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = with_db(base, name)
    try:
        conn = await connect(dsn)
        await migrations.migrate(conn)
        await conn.close()
        if args.rounds:
            await wake(dsn, args.rounds)
        if not args.no_catch_up:
            await catch_up_size(dsn)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())

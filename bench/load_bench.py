"""Load test: N clients calling a mix of tools over streamable HTTP (one server, per-agent
tokens) and the same mix over stdio (one server process per client, as MCP clients run
it). Bounded in count and time, loopback only. Reports throughput, p50/p99 per tool and
the servers' memory.

    python bench/load_bench.py --clients 8 --calls 150            # DATABASE_URL: the server to use
    python bench/load_bench.py --transport http --clients 16
    python bench/load_bench.py --transport http --processes 1,2,4  # serve --workers N, side by side

A scratch database is created on the server of DATABASE_URL (default: the local
PostgreSQL at 127.0.0.1:5432) and dropped afterwards."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import time
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from typing import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import anyio
import asyncpg
import psutil
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mcp_sessions import migrations
from mcp_sessions.db import connect
from mcp_sessions.store import tokens

# (tool, weight): mostly writes of small content, reads and searches, some queue traffic.
MIX = [("add_chunk", 25), ("remember", 20), ("get_session", 20), ("search", 15), ("list_sessions", 5), ("queue", 15)]
CHUNK = "We decided to shard the cache by tenant; the migration plan is in the PRD. " * 25  # ~1.9 KB


def with_db(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


@asynccontextmanager
async def scratch_database(server_dsn: str) -> AsyncIterator[str]:
    name = f"mcps_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await connect(with_db(server_dsn, name))
        await migrations.migrate(conn)
        await conn.close()
        yield with_db(server_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def server_env(dsn: str, agent: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": dsn, "MCP_SESSIONS_AGENT": agent, "MCP_SESSIONS_LOG_LEVEL": "WARNING"}


@asynccontextmanager
async def http_clients(dsn: str, n: int, processes: int = 1, mode: str = "auto") -> AsyncIterator[list[Client]]:
    conn = await connect(dsn)
    secrets = [(await tokens.create(conn, f"bench-{i}"))[1] for i in range(n)]
    await conn.close()
    command = [sys.executable, "-m", "mcp_sessions", "serve", "--transport", "http", "--port", "0",
               "--workers", str(processes)]
    # The same number of database connections in all, however many processes share them.
    pool = max(2, min(20, max(4, n)) // processes)
    env = {**server_env(dsn, "server"), "MCP_SESSIONS_POOL_MAX_SIZE": str(pool)}
    async with await anyio.open_process(command, env=env) as process:
        url = None
        async for chunk in process.stderr:
            match = re.search(rb"(http://\S+/mcp)", chunk)
            if match:
                url = match[1].decode()
                break
        assert url, "the HTTP server did not start"

        async def drain() -> None:
            async for _ in process.stderr:
                pass

        # Clients connect as soon as one worker accepts; wait for all of them (each LISTENs
        # once its pool is open), so no worker's start-up CPU is counted in the run.
        await until_listening(dsn, processes)

        async with anyio.create_task_group() as tg, AsyncExitStack() as stack:
            tg.start_soon(drain)
            clients = []
            for secret in secrets:
                http = await stack.enter_async_context(create_mcp_http_client(headers={"Authorization": f"Bearer {secret}"}))
                clients.append(await stack.enter_async_context(
                    Client(streamable_http_client(url, http_client=http), mode=mode)))
            yield clients
            await stack.aclose()
            process.terminate()
            await process.wait()
            tg.cancel_scope.cancel()


async def until_listening(dsn: str, n: int, timeout: float = 120) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        with anyio.fail_after(timeout):
            while await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'"
            ) < n:
                await anyio.sleep(0.2)
        await anyio.sleep(1)  # the last one's first requests' warm-up
    finally:
        await conn.close()


@asynccontextmanager
async def stdio_clients(dsn: str, n: int) -> AsyncIterator[list[Client]]:
    async with AsyncExitStack() as stack:
        clients = []
        for i in range(n):
            params = StdioServerParameters(
                command=sys.executable, args=["-m", "mcp_sessions", "serve"],
                env={**server_env(dsn, f"bench-{i}"), "MCP_SESSIONS_POOL_MAX_SIZE": "2"},
            )
            clients.append(await stack.enter_async_context(Client(params)))
        yield clients


def servers() -> list[psutil.Process]:
    """Every mcp-sessions server this process started, with the worker processes of
    `serve --workers N` (spawned children whose command line doesn't name us)."""
    found: dict[int, psutil.Process] = {}
    for child in psutil.Process().children(recursive=True):
        try:
            if "mcp_sessions" in " ".join(child.cmdline()) and "serve" in child.cmdline():
                found[child.pid] = child
                found.update((p.pid, p) for p in child.children(recursive=True))
        except psutil.Error:
            pass
    return list(found.values())


def server_rss_mib() -> float:
    return sum(_safe(lambda p: p.memory_info().rss, p) for p in servers()) / 2**20


def server_cpu_seconds() -> float:
    return sum(_safe(lambda p: p.cpu_times().user + p.cpu_times().system, p) for p in servers())


def _safe(read, process: psutil.Process) -> float:
    try:
        return read(process)
    except psutil.Error:
        return 0


async def one_call(client: Client, tool: str, sid: str, rng: random.Random) -> None:
    async def call(name: str, args: dict) -> dict:
        result = await client.call_tool(name, args)
        if result.is_error:
            raise RuntimeError(f"{name}: {result.content[0].text}")
        return result.structured_content

    if tool == "add_chunk":
        await call("add_chunk", {"session_id": sid, "content": CHUNK, "format": "dialogue"})
    elif tool == "remember":
        await call("remember", {"session_id": sid, "key": f"k{rng.randrange(50)}", "type": "decision",
                                "content": {"text": "shard by tenant", "n": rng.random()}})
    elif tool == "get_session":
        await call("get_session", {"session_id": sid})
    elif tool == "search":
        await call("search", {"query": rng.choice(["shard cache", "migration plan", "tenant", "PRD"])})
    elif tool == "list_sessions":
        await call("list_sessions", {"limit": 20})
    elif tool == "queue":  # one unit of queue traffic: create, claim, complete
        await call("create_task", {"session_id": sid, "task_type": "code", "input_data": {"n": 1}})
        task = (await call("claim_task", {"session_id": sid}))["task"]
        if task:
            await call("complete_task", {"task_id": task["id"], "claim_token": task["claim_token"], "output_data": {}})


async def run_mix(clients: list[Client], calls: int, seconds: float) -> dict:
    timings: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    tools, weights = zip(*MIX)
    peak_rss = 0.0

    async def worker(i: int, client: Client) -> None:
        rng = random.Random(i)
        sid = (await client.call_tool("create_session", {"title": f"bench {i}"})).structured_content["id"]
        for _ in range(calls):
            if time.perf_counter() > deadline:
                return
            tool = rng.choices(tools, weights)[0]
            started = time.perf_counter()
            try:
                await one_call(client, tool, sid, rng)
                timings.setdefault(tool, []).append(time.perf_counter() - started)
            except Exception as exc:  # counted, reported; the bench goes on
                errors[tool] = errors.get(tool, 0) + 1
                if errors[tool] == 1:
                    print(f"  first error in {tool}: {exc}", file=sys.stderr)

    async def sample_memory() -> None:
        nonlocal peak_rss
        while True:
            peak_rss = max(peak_rss, server_rss_mib())
            await anyio.sleep(0.5)

    deadline = time.perf_counter() + seconds
    cpu_before = server_cpu_seconds()
    me = psutil.Process()
    client_before = me.cpu_times().user + me.cpu_times().system
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        tg.start_soon(sample_memory)
        async with anyio.create_task_group() as workers:
            for i, client in enumerate(clients):
                workers.start_soon(worker, i, client)
        tg.cancel_scope.cancel()
    elapsed = time.perf_counter() - started
    cpu = server_cpu_seconds() - cpu_before
    client_cpu = me.cpu_times().user + me.cpu_times().system - client_before
    return {"timings": timings, "errors": errors, "elapsed": elapsed, "peak_rss": peak_rss, "cpu": cpu,
            "client_cpu": client_cpu}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(name: str, clients: int, result: dict) -> str:
    timings = result["timings"]
    total = sum(len(v) for v in timings.values())
    lines = [
        f"### {name}: {clients} clients, {total} operations in {result['elapsed']:.1f} s "
        f"= {total / result['elapsed']:.0f} ops/s; server memory (RSS, peak) {result['peak_rss']:.0f} MiB; "
        f"server CPU {result['cpu']:.1f} s ({result['cpu'] / max(total, 1) * 1000:.1f} ms/op), "
        f"load generator CPU {result['client_cpu']:.1f} s; "
        f"errors {sum(result['errors'].values())}",
        "",
        "| operation | count | p50 ms | p99 ms | mean ms |",
        "|---|---|---|---|---|",
    ]
    for tool, _ in MIX:
        values = timings.get(tool, [])
        if values:
            lines.append(f"| {tool} | {len(values)} | {pct(values, 0.5):.1f} | {pct(values, 0.99):.1f} | "
                         f"{statistics.fmean(values) * 1000:.1f} |")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls", type=int, default=150, help="operations per client (upper bound)")
    parser.add_argument("--seconds", type=float, default=60, help="time limit per transport")
    parser.add_argument("--transport", choices=["both", "http", "stdio"], default="both")
    parser.add_argument("--processes", default="1", help="HTTP: server processes (serve --workers), e.g. 1,2,4")
    parser.add_argument("--mode", choices=["auto", "legacy"], default="auto",
                        help="HTTP clients: the per-request protocol (auto) or the initialize handshake (legacy)")
    args = parser.parse_args()
    processes = [int(p) for p in args.processes.split(",")]
    if not all(1 <= p <= 16 for p in processes):
        parser.error("--processes: 1-16 each")
    if not 1 <= args.clients <= 64 or not 1 <= args.calls <= 5000 or not 1 <= args.seconds <= 600:
        parser.error("keep it bounded: 1-64 clients, 1-5000 calls each, 1-600 seconds")
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    print(f"load bench: {args.clients} clients x {args.calls} operations (limit {args.seconds:g} s), mix {dict(MIX)}\n"
          "('queue' is create_task + claim_task + complete_task)\n")
    runs = [("http", p) for p in processes] if args.transport in ("both", "http") else []
    runs += [("stdio", args.clients)] if args.transport in ("both", "stdio") else []
    summary = []
    for transport, n in runs:
        async with scratch_database(server) as dsn:
            if transport == "http":
                opener = http_clients(dsn, args.clients, n, args.mode)
                name = f"http, {n} server process{'es' if n > 1 else ''} (serve --workers {n}), clients {args.mode}"
            else:
                opener = stdio_clients(dsn, args.clients)
                name = f"stdio ({n} server processes)"
            async with opener as clients:
                result = await run_mix(clients, args.calls, args.seconds)
            print(report(name, args.clients, result) + "\n", flush=True)
            summary.append((transport, n, result))
    if len(summary) > 1:
        print(side_by_side(summary))


def side_by_side(summary: list[tuple[str, int, dict]]) -> str:
    lines = ["| transport | server processes | ops/s | server CPU ms/op | server RSS MiB | get_session p50 / p99 ms | "
             "errors |", "|---|---|---|---|---|---|---|"]
    for transport, n, result in summary:
        total = sum(len(v) for v in result["timings"].values())
        gets = result["timings"].get("get_session", [0.0])
        lines.append(f"| {transport} | {n} | {total / result['elapsed']:.0f} | {result['cpu'] / max(total, 1) * 1000:.1f} "
                     f"| {result['peak_rss']:.0f} | {pct(gets, 0.5):.1f} / {pct(gets, 0.99):.1f} | "
                     f"{sum(result['errors'].values())} |")
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(main())

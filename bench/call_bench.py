"""What one tool call costs the server, beside a floor: server CPU per call of each tool,
against a floor server in this file that runs the same SQL through the same MCP SDK (an
MCPServer with an asyncpg pool, each tool doing the statements our store does on its usual
path and returning the rows as JSON text), and get_session over HTTP against stdio.

    python bench/call_bench.py                   # 300 calls per tool and server, 3 rounds
    python bench/call_bench.py --calls 100 --rounds 1

Both servers run as processes of their own over stdio, one at a time, alternating tool by
tool and round by round (a busy machine slows both alike); their CPU time (user + system,
from psutil) is read before and after each tool's calls. The ratio per tool is the median
over rounds. A scratch database on the server of DATABASE_URL (default: the local
PostgreSQL at 127.0.0.1:5432) is seeded with one session of 200 memories, chunks,
artifacts and tasks, and dropped afterwards."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import statistics
import sys
import time
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import Any, AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import anyio
import asyncpg
import psutil
from mcp import Client, StdioServerParameters
from mcp.server.mcpserver import Context, MCPServer

from mcp_sessions import migrations
from mcp_sessions.db import _init_connection, connect
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.sql import build
from mcp_sessions.store.search import ALL_KINDS, CANDIDATES_PER_KIND

SID = "bench"
TEXT = "We decided to shard the cache by tenant; the migration plan is in the PRD. " * 10


def with_db(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


# The floor -------------------------------------------------------------------------------


def floor_server(dsn: str) -> MCPServer:
    """The same SQL as our store's usual path for each tool, through the same SDK, with
    nothing else: no validation beyond the SDK's, no models, no error translation."""
    async def no_reset(conn: asyncpg.Connection) -> None:
        pass

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[asyncpg.Pool]:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4, init=_init_connection, reset=no_reset)
        try:
            yield pool
        finally:
            await pool.close()

    mcp = MCPServer("floor", lifespan=lifespan)

    def out(rows: Any) -> str:
        if isinstance(rows, list):
            return json.dumps([dict(r) for r in rows], default=str)
        return json.dumps(dict(rows) if rows is not None else None, default=str)

    def pool_of(ctx: Context) -> asyncpg.Pool:
        return ctx.request_context.lifespan_context

    @mcp.tool()
    async def get_session(session_id: str, ctx: Context) -> str:
        query, args = build("session_summaries", id=session_id, limit=1)
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetchrow(query, *args))

    @mcp.tool()
    async def list_sessions(ctx: Context) -> str:
        query, args = build("session_summaries", limit=51)
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetch(query, *args))

    @mcp.tool()
    async def remember(session_id: str, key: str, type: str, content: Any, ctx: Context) -> str:
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetchrow(Q["upsert_memory"], session_id, key, type, content, [], "floor"))

    @mcp.tool()
    async def recall(session_id: str, key: str, ctx: Context) -> str:
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetchrow(Q["get_memory"], session_id, key))

    @mcp.tool()
    async def list_memories(session_id: str, ctx: Context) -> str:
        query, args = build("list_memories", session_id=session_id, limit=51)
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetch(query, *args))

    @mcp.tool()
    async def add_chunk(session_id: str, content: str, ctx: Context) -> str:
        digest = hashlib.sha256(content.encode()).digest()
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetchrow(Q["insert_chunk"], session_id, uuid.uuid4().hex, content, len(content), digest,
                                        "dialogue", {}, "floor"))

    @mcp.tool()
    async def get_chunk(session_id: str, chunk_id: str, ctx: Context) -> str:
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetchrow(Q["get_chunk_slice"], session_id, chunk_id, 0, 50_000))

    @mcp.tool()
    async def list_chunks(session_id: str, ctx: Context) -> str:
        query, args = build("list_chunks", session_id=session_id, limit=51)
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetch(query, *args))

    @mcp.tool()
    async def save_artifact(session_id: str, name: str, type: str, content: str, ctx: Context) -> str:
        digest = hashlib.sha256(content.encode()).digest()
        async with pool_of(ctx).acquire() as c, c.transaction():
            await c.execute(Q["lock_artifact_name"], session_id, name)
            return out(await c.fetchrow(Q["insert_artifact_version"], session_id, name, type, "markdown", content,
                                        len(content), digest, {}, "floor"))

    @mcp.tool()
    async def get_artifact(session_id: str, name: str, ctx: Context) -> str:
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetchrow(Q["get_artifact_slice_by_name"], session_id, name, None, 0, 50_000))

    @mcp.tool()
    async def list_artifacts(session_id: str, ctx: Context) -> str:
        query, args = build("list_artifacts", session_id=session_id, limit=51)
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetch(query, *args))

    @mcp.tool()
    async def create_task(session_id: str, task_type: str, ctx: Context) -> str:
        async with pool_of(ctx).acquire() as c, c.transaction():
            return out(await c.fetchrow(Q["insert_task"], session_id, task_type, None, None, {}, 0, "floor",
                                        None, 3, None, 0))

    @mcp.tool()
    async def get_task(task_id: str, ctx: Context) -> str:
        async with pool_of(ctx).acquire() as c:
            row = await c.fetchrow(Q["get_task"], task_id)
            await c.fetch(Q["task_dependencies_of"], task_id)
            await c.fetch(Q["task_history"], task_id, 50)
            return out(row)

    @mcp.tool()
    async def list_tasks(session_id: str, ctx: Context) -> str:
        query, args = build("list_tasks", session_id=session_id, limit=51)
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetch(query, *args))

    @mcp.tool()
    async def claim_task(ctx: Context, session_id: str) -> str:
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetchrow(Q["claim_task"], "bench", session_id, None, 300.0))

    @mcp.tool()
    async def complete_task(task_id: str, claim_token: str, ctx: Context) -> str:
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetchrow(Q["complete_task"], task_id, claim_token, {}, None))

    @mcp.tool()
    async def list_agents(ctx: Context) -> str:
        query, args = build("list_agents", alive_seconds=300.0, limit=51)
        async with pool_of(ctx).acquire() as c:
            return out(await c.fetch(query, *args))

    @mcp.tool()
    async def search(query: str, ctx: Context) -> str:
        async with pool_of(ctx).acquire() as c:
            rendition = (await c.fetch(Q["search_render_terms"], [query]))[0]["rendition"]
            tsquery = f"(({rendition}))"
            # kinds, then session, types, tags (any, all), author, after, before, artifact types,
            # cursor (2), page size; the lexeme; viewer, history, patterns (search.sql)
            return out(await c.fetch(Q["search"], tsquery, CANDIDATES_PER_KIND, ALL_KINDS, None, None, None, None,
                                     None, None, None, None, None, None, 21, rendition.strip("'"), None, False, []))

    return mcp


# The bench -------------------------------------------------------------------------------


@asynccontextmanager
async def scratch_database(server_dsn: str) -> AsyncIterator[str]:
    name = f"mcps_calls_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = with_db(server_dsn, name)
        conn = await connect(dsn)
        try:
            await migrations.migrate(conn)
            await conn.execute(f"""
                INSERT INTO sessions (id, title, participants, created_by) VALUES ('{SID}', 'bench', '["bench"]', 'x');
                INSERT INTO sessions (id, title, created_by) SELECT 'other' || i, 'other', 'x' FROM generate_series(1, 100) i;
                INSERT INTO memories (session_id, key, type, content, created_by, updated_by)
                SELECT '{SID}', 'key-' || i, 'fact', jsonb_build_object('text', 'cache decision ' || i), 'x', 'x'
                FROM generate_series(1, 200) i;
                INSERT INTO conversation_chunks (session_id, chunk_id, content, size, content_sha256, format, created_by)
                SELECT '{SID}', 'chunk-' || i, 'the cache plan ' || i, 16, sha256(i::text::bytea), 'dialogue', 'x'
                FROM generate_series(1, 200) i;
                INSERT INTO artifacts (session_id, name, version, type, format, content, size, content_sha256, created_by)
                SELECT '{SID}', 'doc-' || i, 1, 'document', 'markdown', 'cache design ' || i, 14, sha256(i::text::bytea), 'x'
                FROM generate_series(1, 200) i;
                INSERT INTO tasks (id, session_id, task_type, status, created_by, finished_at)
                SELECT 'task-' || i, '{SID}', 'code', 'completed', 'x', now() FROM generate_series(1, 200) i;
            """)
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()
        yield dsn
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def env_for(dsn: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": dsn, "MCP_SESSIONS_AGENT": "bench", "MCP_SESSIONS_LOG_LEVEL": "WARNING"}


def cpu_of(marker: str) -> float:
    """CPU seconds so far of the child process whose command line holds marker."""
    for child in psutil.Process().children(recursive=True):
        try:
            if marker in " ".join(child.cmdline()):
                times = child.cpu_times()
                return times.user + times.system
        except psutil.Error:
            pass
    raise RuntimeError(f"no server process {marker!r}")


CALLS: list[tuple[str, dict[str, Any]]] = [
    ("get_session", {"session_id": SID}),
    ("list_sessions", {}),
    ("remember", {"session_id": SID, "key": "key-7", "type": "fact", "content": {"text": "cache decision"}}),
    ("recall", {"session_id": SID, "key": "key-7"}),
    ("list_memories", {"session_id": SID}),
    ("add_chunk", {"session_id": SID, "content": TEXT}),
    ("get_chunk", {"session_id": SID, "chunk_id": "chunk-7"}),
    ("list_chunks", {"session_id": SID}),
    ("save_artifact", {"session_id": SID, "name": "plan.md", "type": "document", "content": TEXT}),
    ("get_artifact", {"session_id": SID, "name": "doc-7"}),
    ("list_artifacts", {"session_id": SID}),
    ("create_task", {"session_id": SID, "task_type": "code"}),
    ("get_task", {"task_id": "task-7"}),
    ("list_tasks", {"session_id": SID}),
    ("claim_task", {"session_id": SID}),
    ("complete_task", {}),  # the claims' own tasks and tokens
    ("list_agents", {}),
    ("search", {"query": "cache"}),
]


async def run_tool(client: Client, tool: str, arguments: dict[str, Any], n: int, claims: list[tuple[str, str]],
                   marker: str) -> float:
    """Server CPU seconds per call of n calls."""
    argument_list = [arguments] * n
    if tool == "complete_task":
        argument_list = [{"task_id": t, "claim_token": k} for t, k in claims[:n]]
        del claims[:n]
    before = cpu_of(marker)
    for args in argument_list:
        result = await client.call_tool(tool, args)
        if result.is_error:
            raise RuntimeError(f"{marker} {tool}: {result.content[0].text}")
        if tool == "claim_task":
            # ours: {"task": {...}}; the floor: the row as JSON text
            claimed = json.loads(result.content[0].text)
            claimed = claimed.get("task") or claimed
            claims.append((claimed["id"], claimed["claim_token"]))
    return (cpu_of(marker) - before) / n


async def bare_latency(http: Any, url: str, n: int) -> list[float]:
    """get_session as one JSON-RPC POST per call (stateless HTTP answers it without a
    handshake): the server's share of an HTTP call, without the SDK client's."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "get_session", "arguments": {"session_id": SID}}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
               "MCP-Protocol-Version": "2025-06-18"}
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = await http.post(url, json=body, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200 or "error" in response.json():
            raise RuntimeError(f"bare POST: {response.status_code} {response.text[:300]}")
    return times


async def latency(client: Client, tool: str, arguments: dict[str, Any], n: int, each: bool = False) -> Any:
    """The median call time in ms, or (each) every call's."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        await client.call_tool(tool, arguments)
        times.append((time.perf_counter() - started) * 1000)
    return times if each else statistics.median(times)


@asynccontextmanager
async def http_client(dsn: str) -> AsyncIterator[tuple[Client, str]]:
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    from mcp_sessions.store import tokens

    conn = await connect(dsn)
    _, secret = await tokens.create(conn, "bench")
    await conn.close()
    marker = "--transport http --port 0"
    command = [sys.executable, "-m", "mcp_sessions", "serve", *marker.split()]
    async with await anyio.open_process(command, env=env_for(dsn)) as process:
        url = None
        async for chunk in process.stderr:
            if match := re.search(rb"(http://\S+/mcp)", chunk):
                url = match[1].decode()
                break
        assert url, "the HTTP server did not start"

        async def drain() -> None:
            async for _ in process.stderr:
                pass

        async with anyio.create_task_group() as tg, AsyncExitStack() as stack:
            tg.start_soon(drain)
            http = await stack.enter_async_context(create_mcp_http_client(headers={"Authorization": f"Bearer {secret}"}))
            client = await stack.enter_async_context(Client(streamable_http_client(url, http_client=http)))
            client.raw = (http, url)  # for one bare POST per call, without the SDK's client
            yield client, marker
            await stack.aclose()
            process.terminate()
            await process.wait()
            tg.cancel_scope.cancel()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--http-only", action="store_true", help="only get_session over HTTP against stdio")
    parser.add_argument("--serve-floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor:
        await floor_server(os.environ["DATABASE_URL"]).run_stdio_async()
        return
    server_dsn = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    ours: dict[str, list[float]] = {t: [] for t, _ in CALLS}
    floor: dict[str, list[float]] = {t: [] for t, _ in CALLS}
    async with scratch_database(server_dsn) as dsn:
        # Claims find the tasks create_task made just before (both servers' claims share them).
        servers = {
            "ours": (StdioServerParameters(command=sys.executable, args=["-m", "mcp_sessions", "serve"], env=env_for(dsn)),
                     "mcp_sessions serve", ours),
            "floor": (StdioServerParameters(command=sys.executable, args=[__file__, "--serve-floor"], env=env_for(dsn)),
                      "--serve-floor", floor),
        }
        async with AsyncExitStack() as stack:
            clients = {name: await stack.enter_async_context(Client(p)) for name, (p, _, _) in servers.items()}
            claims: dict[str, list[tuple[str, str]]] = {name: [] for name in servers}
            for round_ in range(0 if args.http_only else args.rounds):
                for tool, arguments in CALLS:
                    order = ("ours", "floor") if round_ % 2 == 0 else ("floor", "ours")
                    for name in order:
                        _, marker, into = servers[name]
                        if tool not in ("claim_task", "complete_task"):  # warm-up (claims pair with completions)
                            await run_tool(clients[name], tool, arguments, 10, claims[name], marker)
                        into[tool].append(await run_tool(clients[name], tool, arguments, args.calls, claims[name],
                                                         marker))
                print(f"round {round_ + 1} done (load average {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
            client, marker = await stack.enter_async_context(http_client(dsn))
            get = {"session_id": SID}
            await latency(clients["ours"], "get_session", get, 20)
            await latency(client, "get_session", get, 20)
            # Interleaved in blocks, so a busy spell of the machine falls on both.
            stdio_times: list[float] = []
            http_times: list[float] = []
            bare_times: list[float] = []
            block = max(1, args.calls // 10)
            for _ in range(10):
                stdio_times += await latency(clients["ours"], "get_session", get, block, each=True)
                http_times += await latency(client, "get_session", get, block, each=True)
                bare_times += await bare_latency(*client.raw, block)
            stdio_p50, http_p50, bare_p50 = (statistics.median(t) for t in (stdio_times, http_times, bare_times))
            stdio_cpu = await run_tool(clients["ours"], "get_session", get, args.calls, [], "mcp_sessions serve")
            http_cpu = await run_tool(client, "get_session", get, args.calls, [], marker)
    if not args.http_only:
        print_table(args, ours, floor)
    print(f"\nget_session over stdio and HTTP (one client, {args.calls} calls): p50 stdio {stdio_p50:.2f} ms, "
          f"HTTP {http_p50:.2f} ms (HTTP / stdio {http_p50 / stdio_p50:.2f}), one bare POST {bare_p50:.2f} ms; server CPU per call stdio "
          f"{stdio_cpu * 1000:.2f} ms, HTTP {http_cpu * 1000:.2f} ms")


def print_table(args: argparse.Namespace, ours: dict[str, list[float]], floor: dict[str, list[float]]) -> None:
    print(f"{args.calls} calls per tool and server, {args.rounds} rounds, stdio; server CPU per call in ms "
          f"(median of rounds), {datetime.now():%Y-%m-%d}\n")
    print("| tool | ours | floor | ours / floor |")
    print("|---|---:|---:|---:|")
    for tool, _ in CALLS:
        mine, base = statistics.median(ours[tool]) * 1000, statistics.median(floor[tool]) * 1000
        ratio = f"{mine / base:.2f}" if base else "-"  # too few calls to register a clock tick
        print(f"| {tool} | {mine:.2f} | {base:.2f} | {ratio} |")


if __name__ == "__main__":
    asyncio.run(main())

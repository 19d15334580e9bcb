"""Running `mcp-sessions` as a user would (a subprocess), and a database worth exporting."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import anyio
import asyncpg

from mcp_sessions.store import artifacts, chunks, memories, messages, reservations, sessions, tasks

REPO = Path(__file__).resolve().parent.parent
JSON_STORE = REPO / "tests" / "data" / "json_store"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


async def cli(database_url: str | None, *args: str, stdin: bytes | None = None, **env: str) -> Run:
    """`mcp-sessions ARGS` in a subprocess, against database_url."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_SESSIONS_", "PG"))}
    environment.pop("DATABASE_URL", None)
    environment.update({"MCP_SESSIONS_LOG_LEVEL": "WARNING", **env})
    if database_url:
        environment["DATABASE_URL"] = database_url
    result = await anyio.run_process(
        [sys.executable, "-m", "mcp_sessions", *args], input=stdin, env=environment, cwd=str(REPO), check=False
    )
    return Run(result.returncode, result.stdout.decode(), result.stderr.decode())


async def ok(database_url: str | None, *args: str, **env: str) -> Run:
    run = await cli(database_url, *args, **env)
    assert run.code == 0, f"mcp-sessions {' '.join(args)} exited {run.code}: {run.err}"
    assert "Traceback" not in run.err
    return run


async def seed(conn: asyncpg.Connection) -> dict[str, str]:
    """Two sessions with something in every table an archive carries: chunks in an order
    unlike their ids, memories, a claimed task and a completed one with a failed first
    attempt (history), a dependency inside a session and one across sessions, two
    versions of an artifact, odd values."""
    await sessions.create(conn, title="Cache redesign", participants=["claude_code", "codex"],
                          metadata={"ratio": 0.1, "big": 12345678901234567890, "nested": {"b": 1, "a": [1.50, None]}},
                          session_id="s-cache", agent="claude_code")
    await sessions.create(conn, title="Docs sprint ✓", participants=["researcher"], metadata={},
                          session_id="s-docs", agent="researcher")
    await chunks.add(conn, "s-cache", content="zeta first: the write-through cache " + "lorem " * 2000,
                     format="transcript", chunk_id="z-first", extracted_items={"decisions": ["write-through"]},
                     agent="claude_code")
    await chunks.add(conn, "s-cache", content="then alpha: eviction is LRU, émigré ünïcode 🚀\nline two",
                     format="dialogue", chunk_id="a-second", extracted_items=[], agent="codex")
    await memories.remember(conn, "s-cache", key="cache_strategy", type="decision",
                            content={"strategy": "write-through", "ttl": 300, "x": 1e-7}, tags=["cache", "arch"],
                            expected_version=None, agent="claude_code")
    await memories.remember(conn, "s-cache", key="cache_strategy", type="decision",
                            content={"strategy": "write-through", "ttl": 600}, tags=["cache"],
                            expected_version=None, agent="codex")
    await memories.remember(conn, "s-docs", key="style", type="preference", content="short sentences",
                            tags=[], expected_version=None, agent="researcher")
    build = await tasks.create(conn, "s-cache", task_type="code", agent_name="codex", title="build the cache",
                               input_data={"spec": "write-through"}, priority=5, agent="claude_code")
    # A first attempt that failed and was requeued leaves history (task_events).
    first = await tasks.claim(conn, agent="codex", session_id="s-cache", task_types=None)
    await tasks.fail(conn, build.id, first.task.claim_token, "flaky test", retry=False)
    await tasks.requeue(conn, build.id, agent="claude_code")
    review = await tasks.create(conn, "s-cache", task_type="analysis", agent_name=None, title="review it",
                                input_data={}, priority=1, agent="claude_code", depends_on=[build.id])
    docs = await tasks.create(conn, "s-docs", task_type="document", agent_name="researcher", title="document it",
                              input_data={"n": 1.25}, priority=0, agent="researcher", depends_on=[build.id],
                              idempotency_key="docs-1")
    claimed = await tasks.claim(conn, agent="codex", session_id="s-cache", task_types=None)
    assert claimed.task and claimed.task.id == build.id
    await tasks.complete(conn, build.id, claimed.task.claim_token, {"pr": 42, "ratio": 0.3})
    again = await tasks.claim(conn, agent="claude_code", session_id="s-cache", task_types=None)
    assert again.task and again.task.id == review.id
    await artifacts.save(conn, "s-cache", name="design.md", type="document", content="# v1", format="markdown",
                         metadata={}, agent="claude_code")
    await artifacts.save(conn, "s-cache", name="design.md", type="document", content="# v2\n\nLRU, TTL 600",
                         format="markdown", metadata={"reviewed": True}, agent="codex")
    # Messages: a broadcast asking for acknowledgement (acked by one, read by another) and
    # a direct reply in its thread; and a reservation (short-lived: never archived).
    ask = await messages.send(conn, "s-cache", sender="claude_code", body="please review design.md ✓", to=None,
                              subject="review", thread_id=None, importance="high", ack_required=True, viewer=None)
    await messages.send(conn, "s-cache", sender="codex", body="looks good", to=["claude_code"], subject=None,
                        thread_id=ask.id, importance="normal", ack_required=False, viewer=None)
    await messages.ack(conn, ask.id, "codex")
    await messages.inbox(conn, "researcher", session_id="s-cache", unread_only=True, limit=5, cursor=None)
    await reservations.reserve(conn, "s-cache", agent="codex", paths=["src/cache/**"], exclusive=True,
                               ttl_seconds=600, reason="cache rewrite")
    return {"build": build.id, "review": review.id, "docs": docs.id, "ask": ask.id}


async def exported(database_url: str) -> bytes:
    """The database's archive, made in-process (to check what a command did, cheaply)."""
    import io

    from mcp_sessions.archive import export_archive
    from mcp_sessions.db import connect

    conn = await connect(database_url)
    try:
        out = io.BytesIO()
        await export_archive(conn, out)
        return out.getvalue()
    finally:
        await conn.close()


async def session_ids(database_url: str) -> list[str]:
    from mcp_sessions.db import connect

    conn = await connect(database_url)
    try:
        return [r["id"] for r in await conn.fetch("SELECT id FROM sessions ORDER BY id")]
    finally:
        await conn.close()

"""catch_up: everything an agent joining a session late needs, in one answer of at most
8 KB, read from one snapshot, with the event cursor to follow the session from there."""

from __future__ import annotations

import asyncpg

from mcp_sessions.models import (
    ArtifactDigest,
    ArtifactLine,
    CatchUp,
    ChunkDigest,
    ChunkLine,
    InboxDigest,
    MemoryDigest,
    MemoryPreview,
    MessageLine,
    OpenTask,
    Participant,
    ParticipantDigest,
    ReservationDigest,
    SessionDigest,
    TaskDigest,
)
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.store import events, messages, reservations, sessions
from mcp_sessions.store.agents import ALIVE_SECONDS

BUDGET_BYTES = 8000
LIST_LIMIT = 20
CHUNKS = 5
LATEST_MESSAGES = 5
MAX_PATHS = 5


def _cut(text: str | None, n: int) -> str | None:
    return text if text is None or len(text) <= n else text[: n - 1] + "…"


async def snapshot(conn: asyncpg.Connection, session_id: str, agent: str) -> CatchUp:
    """catch_up in a read-only REPEATABLE READ transaction of its own (the catch_up tool,
    the session resource, the join_session and handoff prompts)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await catch_up(conn, session_id, agent)


async def catch_up(conn: asyncpg.Connection, session_id: str, agent: str) -> CatchUp:
    """Call inside a REPEATABLE READ transaction: every part, and the cursor, from one snapshot."""
    cursor = await events.now(conn)
    row = await conn.fetchrow(Q["catch_up_session"], session_id)
    if row is None:
        raise sessions.not_found(session_id)
    sid = repr(session_id)
    session = SessionDigest(
        id=row["id"], title=_cut(row["title"], 200), status=row["status"], created_by=row["created_by"],
        created=row["created"], last_activity=row["last_activity"],
    )

    rows = await conn.fetch(Q["catch_up_participants"], session_id, list(row["participants"]), ALIVE_SECONDS,
                            LIST_LIMIT)
    participants = ParticipantDigest(
        items=[Participant(name=r["name"], alive=r["alive"], last_seen=r["last_seen"]) for r in rows],
        more=_more(rows), rest=f"get_session({sid}) lists every participant; list_agents shows who is alive",
    )

    counts = await sessions.counts(conn, session_id)
    rows = await conn.fetch(Q["catch_up_open_tasks"], session_id, LIST_LIMIT)
    tasks = TaskDigest(
        counts=counts.tasks_by_status,
        open=[OpenTask(**{k: r[k] for k in OpenTask.model_fields}) for r in rows],
        more=_more(rows), rest=f"list_tasks(session_id={sid}, status='pending'|'claimed'|'running'); get_task(id)",
    )

    rows = await conn.fetch(Q["catch_up_memories"], session_id, LIST_LIMIT)
    memories = MemoryDigest(
        items=[MemoryPreview(key=_cut(r["key"], 100), type=r["type"], version=r["version"], preview=r["preview"])
               for r in rows],
        more=_more(rows), rest=f"list_memories(session_id={sid}, type=...); recall({sid}, key)",
    )

    rows = await conn.fetch(Q["catch_up_artifacts"], session_id, LIST_LIMIT)
    artifacts = ArtifactDigest(
        items=[ArtifactLine(name=_cut(r["name"], 120), version=r["version"], type=r["type"], size=r["size"],
                            created_by=r["created_by"]) for r in rows],
        more=_more(rows), rest=f"list_artifacts(session_id={sid}); get_artifact(...) for content",
    )

    rows = await conn.fetch(Q["catch_up_chunks"], session_id, CHUNKS)
    chunks = ChunkDigest(
        items=[ChunkLine(chunk_id=_cut(r["chunk_id"], 100), format=r["format"], size=r["size"],
                         first_line=r["first_line"]) for r in rows],
        more=_more(rows), rest=f"list_chunks(session_id={sid}); get_chunk(...) for content",
    )

    unread, latest = await messages.peek_unread(conn, agent, session_id, LATEST_MESSAGES)
    inbox = InboxDigest(
        unread=unread,
        latest=[MessageLine(id=m.id, sender=m.sender, subject=_cut(m.subject, 100), importance=m.importance)
                for m in latest],
        rest=f"read_inbox(session_id={sid}) returns them (and marks them read)",
    )

    held = await reservations.active(conn, session_id)
    shown = [
        r.model_copy(update={"paths": [_cut(p, 120) for p in r.paths[:MAX_PATHS]]
                             + ([f"… {len(r.paths) - MAX_PATHS} more"] if len(r.paths) > MAX_PATHS else []),
                             "reason": _cut(r.reason, 120)})
        for r in held[:LIST_LIMIT]
    ]
    reserved = ReservationDigest(
        items=shown, more=len(held) - len(shown),
        rest="reserve() names every reservation that overlaps yours; "
        f"`mcp-sessions reservations list --session {session_id}` lists all",
    )

    digest = CatchUp(
        session=session, participants=participants, tasks=tasks, memories=memories, artifacts=artifacts,
        chunks=chunks, inbox=inbox, reservations=reserved, cursor=str(cursor),
    )
    return fit(digest)


def _more(rows: list[asyncpg.Record]) -> int:
    return max(0, rows[0]["total"] - len(rows)) if rows else 0


def size(digest: CatchUp) -> int:
    return len(digest.model_dump_json().encode("utf-8"))


def fit(digest: CatchUp) -> CatchUp:
    """Shorten the longest lists until the digest is within BUDGET_BYTES; what is cut
    is counted in each list's `more`."""
    lists = [
        (digest.memories, "items"), (digest.tasks, "open"), (digest.artifacts, "items"),
        (digest.reservations, "items"), (digest.participants, "items"), (digest.chunks, "items"),
    ]
    while size(digest) > BUDGET_BYTES:
        candidates = [(len(getattr(owner, name)), owner, name) for owner, name in lists if getattr(owner, name)]
        if candidates:
            _, owner, name = max(candidates, key=lambda c: c[0])
            getattr(owner, name).pop()
            owner.more += 1
        elif digest.inbox.latest:
            digest.inbox.latest.pop()
        else:
            break
    return digest

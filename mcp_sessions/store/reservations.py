"""Path reservations: an agent reserves repository paths or globs in a session,
exclusively or shared, for a while. Overlaps are decided by mcp_sessions.globs
(conservatively); a session's reservations are decided one at a time under an
advisory lock, so two agents can't both be granted overlapping paths."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from mcp_sessions.errors import Conflict, InvalidInput, NotFound
from mcp_sessions.globs import covers, normalize, overlaps
from mcp_sessions.models import Released, Reservation, Reserved, from_row
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.store import sessions

EXPIRE_BATCH = 1000


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(r: Reservation) -> str:
    """One reservation as a conflict names it: holder, paths, reason, expiry."""
    kind = "exclusive" if r.exclusive else "shared"
    reason = f", reason: {r.reason}" if r.reason else ""
    return f"{r.agent} holds {', '.join(r.paths)} ({kind}{reason}; until {_when(r.expires_at)}, id {r.id})"


def clean_paths(paths: list[str]) -> list[str]:
    return list(dict.fromkeys(normalize(p) for p in paths))


async def active(conn: asyncpg.Connection, session_id: str) -> list[Reservation]:
    return [from_row(Reservation, r) for r in await conn.fetch(Q["active_reservations"], session_id)]


async def expire(conn: asyncpg.Connection, session_id: str | None = None, limit: int = EXPIRE_BATCH) -> int:
    """Delete reservations past their expiry (each writes reservation.expired)."""
    return await conn.fetchval(Q["expire_reservations"], session_id, limit)


def _conflicts(mine: list[str], exclusive: bool, others: list[Reservation]) -> list[Reservation]:
    return [
        r for r in others
        if (exclusive or r.exclusive) and any(overlaps(a, b) for a in mine for b in r.paths)
    ]


async def reserve(
    conn: asyncpg.Connection,
    session_id: str,
    *,
    agent: str,
    paths: list[str],
    exclusive: bool,
    ttl_seconds: float,
    reason: str | None,
) -> Reserved:
    wanted = clean_paths(paths)
    await sessions.ensure_exists(conn, session_id)
    await conn.execute(Q["lock_reservations"], session_id)
    await expire(conn, session_id)
    held = await active(conn, session_id)
    others = [r for r in held if r.agent != agent]
    conflicts = _conflicts(wanted, exclusive, others)
    if conflicts:
        what = "exclusively " if exclusive else ""
        raise Conflict(
            f"cannot reserve {', '.join(wanted)} {what}in session {session_id!r}: it overlaps "
            + "; ".join(describe(r) for r in conflicts)
            + ". Wait for them to be released or to expire (watch kinds=['reservation.*']), "
            "or message their holders"
        )
    await conn.execute(Q["touch_agent"], agent)
    same = next((r for r in held if r.agent == agent and sorted(r.paths) == sorted(wanted)), None)
    if same is not None:
        row = await conn.fetchrow(Q["renew_reservation"], same.id, exclusive, reason, ttl_seconds)
        renewed = True
    else:
        row = await conn.fetchrow(Q["insert_reservation"], session_id, agent, wanted, exclusive, reason, ttl_seconds)
        renewed = False
    shared_with = [r for r in others if any(overlaps(a, b) for a in wanted for b in r.paths)]
    return Reserved(reservation=from_row(Reservation, row), renewed=renewed, shared_with=shared_with)


async def release(
    conn: asyncpg.Connection,
    session_id: str,
    *,
    agent: str,
    reservation_id: str | None,
    paths: list[str] | None,
) -> Released:
    await sessions.ensure_exists(conn, session_id)
    await conn.execute(Q["lock_reservations"], session_id)
    await expire(conn, session_id)
    mine = [r for r in await active(conn, session_id) if r.agent == agent]
    released: list[str] = []
    narrowed: list[Reservation] = []
    if reservation_id is not None:
        target = next((r for r in mine if r.id == reservation_id), None)
        if target is None:
            raise NotFound(
                f"you hold no reservation {reservation_id!r} in session {session_id!r} (it may have expired, "
                "or be another agent's): catch_up lists the active ones"
            )
        mine = [target]
    gone = set(clean_paths(paths)) if paths else None
    for r in mine:
        keep = [p for p in r.paths if gone is not None and p not in gone]
        if keep == r.paths:
            continue
        if keep:
            await conn.execute(Q["shrink_reservation"], r.id, keep)
            narrowed.append(r.model_copy(update={"paths": keep}))
        else:
            await conn.execute(Q["delete_reservation"], r.id)
            released.append(r.id)
    if not released and not narrowed:
        raise NotFound(
            f"you hold none of {', '.join(sorted(gone or []))} in session {session_id!r}: release the paths exactly "
            "as reserved (catch_up lists them), or pass reservation_id"
            if gone else f"you hold no reservation in session {session_id!r}"
        )
    return Released(released=released, narrowed=narrowed)


def check(held: list[Reservation], agent: str, files: list[str]) -> list[tuple[str, Reservation]]:
    """(file, reservation) for each file reserved by another agent: exclusively, or shared
    when the agent holds no shared reservation of that file itself."""
    out = []
    for f in files:
        mine_shared = any(r.agent == agent and any(covers(p, f) for p in r.paths) for r in held)
        for r in held:
            if r.agent != agent and any(covers(p, f) for p in r.paths) and (r.exclusive or not mine_shared):
                out.append((f, r))
    return out


"""The event feed: pages of events after a cursor, in an order no concurrent writer can
break (see 0007_events), and retention.

A cursor is "<xid>-<id>", the position of the last event read; "0" is the beginning of
what retention kept."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import asyncpg

from mcp_sessions.errors import InvalidInput
from mcp_sessions.models import Event, EventPage
from mcp_sessions.sql import QUERIES as Q

_CURSOR = re.compile(r"(\d{1,19})-(\d{1,19})")
_MAX = 2**63 - 1
KINDS = list(Event.model_fields["kind"].annotation.__args__)  # type: ignore[union-attr]


@dataclass(frozen=True)
class Position:
    xid: int
    id: int

    def __str__(self) -> str:
        return f"{self.xid}-{self.id}"


@dataclass
class Read:
    """A page as read, with what a waiting reader needs to know."""

    page: EventPage
    held: bool  # committed events wait behind an older, still running transaction


def parse_cursor(after: str) -> Position:
    if after == "0":
        return Position(0, 0)
    match = _CURSOR.fullmatch(after)
    if not match or int(match[1]) > _MAX or int(match[2]) > _MAX:
        raise InvalidInput(
            f"after {after[:40]!r} is not an event cursor: pass the next_after (or an event's cursor) "
            "that watch or catch_up returned, '0' for the oldest event kept, or nothing for 'from now on'"
        )
    return Position(int(match[1]), int(match[2]))


def expand_kinds(kinds: list[str] | None) -> list[str] | None:
    """Exact kinds, or 'task.*' style prefixes; refuses anything else by name."""
    if not kinds:
        return None
    out: list[str] = []
    for kind in kinds:
        if kind in KINDS:
            out.append(kind)
        elif kind.endswith(".*") and any(k.startswith(kind[:-1]) for k in KINDS):
            out.extend(k for k in KINDS if k.startswith(kind[:-1]))
        else:
            raise InvalidInput(f"unknown event kind {kind!r}: use one of {', '.join(KINDS)}, or a prefix like 'task.*'")
    return sorted(set(out))


async def now(conn: asyncpg.Connection) -> Position:
    return Position(int(await conn.fetchval(Q["event_now"])), 0)


async def since(conn: asyncpg.Connection, seconds: float) -> Position:
    """The position just before the first event of the last `seconds` (or now): a reader
    that starts late still sees what was written while it was starting."""
    row = await conn.fetchrow(Q["event_position_since"], seconds)
    return Position(row["xid"], row["id"] - 1) if row else await now(conn)


async def read(
    conn: asyncpg.Connection,
    after: Position,
    *,
    session_id: str | None = None,
    kinds: list[str] | None = None,
    viewer: str | None = None,
    limit: int = 100,
    retention_days: float | None = None,
) -> Read:
    """Events after `after`, oldest first. viewer: the authenticated agent (HTTP), who sees
    only the direct messages' events meant for it; None sees all (stdio: trusted)."""
    result = await conn.fetchval(Q["read_events"], after.xid, after.id, limit, session_id, kinds, viewer)
    pruned = Position(int(result["pruned"][0]), int(result["pruned"][1]))
    if after != Position(0, 0) and (after.xid, after.id) < (pruned.xid, pruned.id):
        kept = f" (kept {retention_days:g} days)" if retention_days else ""
        raise InvalidInput(
            f"cursor {after} is older than the events kept{kept}: what happened after it was deleted. "
            "Call catch_up(session_id) for the session as it is now, and watch from the cursor it returns"
        )
    events = [
        Event(cursor=str(Position(int(e["xid"]), e["id"])), **{k: e[k] for k in Event.model_fields if k != "cursor"})
        for e in result["events"]
    ]
    if events:
        next_after = events[-1].cursor
    elif after == Position(0, 0) and (pruned.xid, pruned.id) > (0, 0):
        next_after = str(pruned)
    else:
        next_after = str(after)
    return Read(EventPage(events=events, next_after=next_after), bool(result["held"]))


async def register(conn: asyncpg.Connection, channel: str, scopes: list[str], seconds: float) -> None:
    await conn.execute(Q["register_event_listeners"], channel, scopes, seconds)


async def settle(pool: asyncpg.Pool, timeout: float) -> None:
    """Call right after a waiter's registration committed. A writer whose trigger looked
    for waiters just before that (and so woke nobody) may commit just after the waiter's
    next look: wait until every transaction that was running then has ended, so that
    look (made after this returns) can't miss its write. Milliseconds, normally; bounded
    by timeout (then the waiter's fallback poll covers the rest)."""
    async with pool.acquire() as conn:
        mark = await conn.fetchval(Q["registration_mark"])
        delay, waited = 0.002, 0.0
        while waited < timeout and not await conn.fetchval(Q["horizon_passed"], mark):
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.05)


async def unregister(conn: asyncpg.Connection, channel: str, scopes: list[str]) -> None:
    await conn.execute(Q["unregister_event_listeners"], channel, scopes)


async def sweep(conn: asyncpg.Connection, retention_days: float, batch: int = 10000) -> int:
    """Forget dead processes' registrations and delete events past retention; returns how many."""
    await conn.execute(Q["sweep_event_listeners"])
    return await conn.fetchval(Q["prune_events"], retention_days, batch)


async def set_actor(conn: asyncpg.Connection, agent: str) -> None:
    await conn.execute(Q["set_actor"], agent)

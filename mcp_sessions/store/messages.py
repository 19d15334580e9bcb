"""Messages between agents: send, read an inbox (newest first, marking what it returns
read), acknowledge. A direct message is for its sender and recipients only; a message
without recipients is for everyone in the session."""

from __future__ import annotations

import uuid

import asyncpg

from mcp_sessions import pagination
from mcp_sessions.errors import InvalidInput, NotFound
from mcp_sessions.models import Ack, Acked, Inbox, Message
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.store import sessions

MAX_BODY_BYTES = 64 * 1024


def _visible(row: asyncpg.Record, viewer: str | None) -> bool:
    """Whether an authenticated viewer may see this message (None: trusted, sees all)."""
    recipients = row["recipients"]
    return viewer is None or recipients is None or viewer == row["sender"] or viewer in recipients


async def send(
    conn: asyncpg.Connection,
    session_id: str,
    *,
    sender: str,
    body: str,
    to: list[str] | None,
    subject: str | None,
    thread_id: str | None,
    importance: str,
    ack_required: bool,
    viewer: str | None,
) -> Message:
    size = len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise InvalidInput(
            f"body is {size:,} bytes, over the message limit of {MAX_BODY_BYTES:,} (64 KiB): save long material "
            "with save_artifact or add_chunk and send a message that names it"
        )
    await sessions.ensure_exists(conn, session_id)
    if thread_id is not None:
        parent = await conn.fetchrow(Q["get_message"], thread_id, sender)
        if parent is None or parent["session_id"] != session_id or not _visible(parent, viewer):
            raise NotFound(
                f"no message {thread_id!r} in session {session_id!r} to reply to: thread_id is the id or "
                "thread_id of a message read_inbox returned"
            )
        thread_id = parent["thread_id"]
    recipients = list(dict.fromkeys(to)) if to else None
    row = await conn.fetchrow(
        Q["insert_message"], uuid.uuid4().hex, session_id, thread_id, sender, recipients, subject, body,
        importance, ack_required,
    )
    await conn.execute(Q["touch_agent"], sender)
    return (await _with_acks(conn, [row]))[0]


async def inbox(
    conn: asyncpg.Connection,
    agent: str,
    *,
    session_id: str | None,
    unread_only: bool,
    limit: int,
    cursor: str | None,
) -> Inbox:
    """The agent's messages, newest first; those returned are marked read for it."""
    after = pagination.decode(cursor, int)
    rows = await conn.fetch(
        Q["inbox"], agent, session_id, unread_only, not unread_only, after[0] if after else None, limit + 1
    )
    if not rows and session_id is not None:
        await sessions.ensure_exists(conn, session_id)
    rows, more = pagination.page(rows, limit, "body")
    unread = [r["id"] for r in rows if r["read_at"] is None and r["sender"] != agent]
    if unread:
        await conn.execute(Q["mark_read"], unread, agent)
    messages = await _with_acks(conn, rows)
    next_cursor = pagination.encode(rows[-1]["seq"]) if more and rows else None
    return Inbox(messages=messages, next_cursor=next_cursor)


async def peek_unread(conn: asyncpg.Connection, agent: str, session_id: str, limit: int) -> tuple[int, list[Message]]:
    """How many unread messages the agent has in the session, and the latest, left unread."""
    count = await conn.fetchval(Q["unread_count"], agent, session_id)
    rows = await conn.fetch(Q["inbox"], agent, session_id, True, False, None, limit) if count else []
    return count, [_message(r) for r in rows]


async def ack(conn: asyncpg.Connection, message_id: str, agent: str) -> Acked:
    row = await conn.fetchrow(Q["get_message"], message_id, agent)
    recipients = row["recipients"] if row else None
    if row is None or (recipients is not None and agent not in recipients and agent != row["sender"]):
        raise NotFound(f"no message {message_id!r} for you: read_inbox lists yours")
    if row["sender"] == agent:
        raise InvalidInput(f"message {message_id!r} is yours: its recipients acknowledge it, not its sender")
    if not row["ack_required"]:
        raise InvalidInput(f"message {message_id!r} asks for no acknowledgement (ack_required is false): nothing to do")
    await conn.fetchrow(Q["ack_message"], message_id, agent)
    await conn.execute(Q["touch_agent"], agent)
    row = await conn.fetchrow(Q["get_message"], message_id, agent)
    message = (await _with_acks(conn, [row]))[0]
    return Acked(id=message.id, acked_at=message.acked_at, acked_by=message.acked_by,
                 awaiting_ack=message.awaiting_ack)


def _message(row: asyncpg.Record) -> Message:
    return Message(
        id=row["id"], session_id=row["session_id"], thread_id=row["thread_id"], sender=row["sender"],
        to=row["recipients"], subject=row["subject"], body=row["body"], importance=row["importance"],
        ack_required=row["ack_required"], created=row["created"], read_at=row["read_at"], acked_at=row["acked_at"],
    )


async def _with_acks(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[Message]:
    """Messages, each ack_required one with who acknowledged and who is still expected to."""
    messages = [_message(r) for r in rows]
    asking = [m for m in messages if m.ack_required]
    if not asking:
        return messages
    acks: dict[str, list[Ack]] = {}
    for r in await conn.fetch(Q["message_acks"], [m.id for m in asking]):
        acks.setdefault(r["message_id"], []).append(Ack(agent=r["agent"], at=r["acked_at"]))
    participants: dict[str, list[str]] = {}
    for m in asking:
        if m.to is None and m.session_id not in participants:
            participants[m.session_id] = list(await conn.fetchval(Q["session_participants"], m.session_id) or [])
        m.acked_by = acks.get(m.id, [])
        done = {a.agent for a in m.acked_by} | {m.sender}
        expected = m.to if m.to is not None else participants[m.session_id]
        m.awaiting_ack = [a for a in expected if a not in done]
    return messages

"""Tasks: create, claim (atomically, through the SQL function claim_task), complete, fail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from mcp_sessions import pagination
from mcp_sessions.errors import InvalidInput, NotFound, StaleClaim
from mcp_sessions.models import ClaimedTask, ClaimResult, Task, TaskPage, from_row
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.store import sessions

DEFAULT_LEASE_SECONDS = 300


def _task(row: Any) -> Task:
    return from_row(Task, row)


def _token(claim_token: str) -> uuid.UUID:
    try:
        return uuid.UUID(claim_token)
    except ValueError:
        raise StaleClaim("claim_token is not a token this server issued: pass the claim_token claim_task returned") from None


async def create(
    conn: asyncpg.Connection,
    session_id: str,
    *,
    task_type: str,
    agent_name: str | None,
    title: str | None,
    input_data: Any,
    priority: int,
    agent: str,
) -> Task:
    await sessions.ensure_exists(conn, session_id)
    row = await conn.fetchrow(Q["insert_task"], session_id, task_type, agent_name, title, input_data, priority, agent)
    return _task(row)


async def claim(
    conn: asyncpg.Connection,
    *,
    agent: str,
    session_id: str | None,
    task_types: list[str] | None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> ClaimResult:
    row = await conn.fetchrow(Q["claim_task"], agent, session_id, task_types or None, lease_seconds)
    if row is None:
        return ClaimResult(task=None)
    data = dict(row)
    data["claim_token"] = str(data["claim_token"])
    return ClaimResult(task=ClaimedTask.model_validate(data))


async def get(conn: asyncpg.Connection, task_id: str) -> Task:
    row = await conn.fetchrow(Q["get_task"], task_id)
    if row is None:
        raise NotFound(f"task {task_id!r} not found: list_tasks shows the existing ones")
    return _task(row)


async def complete(conn: asyncpg.Connection, task_id: str, claim_token: str, output_data: Any) -> Task:
    row = await conn.fetchrow(Q["complete_task"], task_id, _token(claim_token), output_data)
    if row is None:
        await _refuse(conn, task_id, claim_token, "complete")
    return _task(row)


async def fail(conn: asyncpg.Connection, task_id: str, claim_token: str, error: str) -> Task:
    row = await conn.fetchrow(Q["fail_task"], task_id, _token(claim_token), error)
    if row is None:
        await _refuse(conn, task_id, claim_token, "fail")
    return _task(row)


async def _refuse(conn: asyncpg.Connection, task_id: str, claim_token: str, verb: str) -> None:
    """Say precisely why a claim-token operation did not apply."""
    task = await get(conn, task_id)
    if task.status in ("completed", "failed", "cancelled"):
        raise StaleClaim(f"cannot {verb} task {task_id!r}: it is already {task.status}")
    row = await conn.fetchrow(Q["task_claim_state"], task_id)
    if task.status == "pending" or row["token"] != claim_token:
        raise StaleClaim(
            f"cannot {verb} task {task_id!r}: your claim_token is stale (the task is {task.status}"
            + (f", claimed by {task.claimed_by}" if task.status != "pending" else "")
            + "); another agent may have taken it over after your lease ran out"
        )
    raise StaleClaim(f"cannot {verb} task {task_id!r}: your lease ran out at {task.lease_expires_at.isoformat()}")


async def list_page(
    conn: asyncpg.Connection,
    *,
    session_id: str | None,
    status: str | None,
    agent_name: str | None,
    limit: int,
    cursor: str | None,
) -> TaskPage:
    after = pagination.decode(cursor, 2)
    after_at = datetime.fromisoformat(after[0]) if after else None
    rows = await conn.fetch(
        Q["list_tasks"], session_id, status, agent_name, after_at, after[1] if after else None, limit + 1
    )
    if not rows and session_id is not None:
        await sessions.ensure_exists(conn, session_id)
    more = len(rows) > limit
    rows = rows[:limit]
    tasks = [_task(r) for r in rows]
    next_cursor = pagination.encode(rows[-1]["created"].isoformat(), rows[-1]["id"]) if more else None
    return TaskPage(tasks=tasks, next_cursor=next_cursor)


def check_lease(lease_seconds: float) -> float:
    if not 1 <= lease_seconds <= 86400:
        raise InvalidInput("lease_seconds must be between 1 and 86400")
    return lease_seconds

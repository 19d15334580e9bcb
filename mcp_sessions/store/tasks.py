"""Tasks: create (with dependencies, idempotency, schedule), claim, heartbeat, start,
complete, fail (with retry), cancel, requeue, recover expired leases, read.

Each lifecycle step is one call of its SQL function (migrations/0003_task_queue.sql).
A step that did not apply returns no row, and `_refuse` reads the task to say why."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any

import asyncpg

from mcp_sessions import pagination
from mcp_sessions.errors import Conflict, InvalidInput, NotFound, StaleClaim
from mcp_sessions.models import (
    ClaimedTask,
    ClaimResult,
    CompletedTask,
    Task,
    TaskDetail,
    TaskEvent,
    TaskPage,
    TaskState,
    from_row,
)
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.sql import build
from mcp_sessions.store import sessions

DEFAULT_LEASE_SECONDS = 300
HISTORY_LIMIT = 50
FINISHED = ("completed", "failed", "cancelled")
UNFINISHED = ("pending", "claimed", "running")


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
    run_after: datetime | None = None,
    depends_on: list[str] | None = None,
    max_attempts: int = 3,
    idempotency_key: str | None = None,
) -> Task:
    with sessions.refusing_missing(session_id):
        return await _create(
            conn, session_id, task_type=task_type, agent_name=agent_name, title=title, input_data=input_data,
            priority=priority, agent=agent, run_after=run_after, depends_on=depends_on, max_attempts=max_attempts,
            idempotency_key=idempotency_key,
        )


async def _create(
    conn: asyncpg.Connection, session_id: str, *, task_type: str, agent_name: str | None, title: str | None,
    input_data: Any, priority: int, agent: str, run_after: datetime | None, depends_on: list[str] | None,
    max_attempts: int, idempotency_key: str | None,
) -> Task:
    if idempotency_key is not None:
        row = await conn.fetchrow(Q["task_by_idempotency_key"], session_id, idempotency_key)
        if row is not None:
            return _task(row)
    deps = list(dict.fromkeys(depends_on or []))
    blocked_by = await _check_dependencies(conn, deps)
    row = await conn.fetchrow(
        Q["insert_task"], session_id, task_type, agent_name, title, input_data, priority, agent,
        run_after, max_attempts, idempotency_key, blocked_by,
    )
    if row is None:
        # A concurrent create with the same key committed first: it is the task.
        return _task(await conn.fetchrow(Q["task_by_idempotency_key"], session_id, idempotency_key))
    if deps:
        await conn.execute(Q["insert_dependencies"], row["id"], deps)
    return _task(row)


async def _check_dependencies(conn: asyncpg.Connection, deps: list[str]) -> int:
    """How many of deps are not completed yet; refuses unknown or dead dependencies."""
    if not deps:
        return 0
    found = {r["id"]: r["status"] for r in await conn.fetch(Q["lock_dependencies"], deps)}
    missing = [d for d in deps if d not in found]
    if missing:
        raise NotFound(f"depends_on names tasks that do not exist: {', '.join(missing)}")
    dead = [f"{d} ({s})" for d, s in found.items() if s in ("failed", "cancelled")]
    if dead:
        raise InvalidInput(f"depends_on names tasks that can never complete: {', '.join(dead)}; requeue them first")
    return sum(1 for s in found.values() if s != "completed")


def _claimed(row: Any) -> ClaimedTask:
    data = dict(row)
    data["claim_token"] = str(data["claim_token"])
    return ClaimedTask.model_validate(data)


async def claim(
    conn: asyncpg.Connection,
    *,
    agent: str,
    session_id: str | None,
    task_types: list[str] | None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> ClaimResult:
    row = await conn.fetchrow(Q["claim_task"], agent, session_id, task_types or None, float(lease_seconds))
    return ClaimResult(task=None if row is None else _claimed(row))


# `holder`, when given (an authenticated caller), must also be the agent holding the claim.


async def _claim_step(
    conn: asyncpg.Connection, verb: str, task_id: str, claim_token: str, holder: str | None, *args: Any,
    query: str | None = None,
) -> asyncpg.Record:
    """One step of a held claim through its SQL function (`<verb>_task`, or `query`, whose
    last parameter is the holder); when it did not apply, say precisely why."""
    row = await conn.fetchrow(Q[query or f"{verb}_task"], task_id, _token(claim_token), *args, holder)
    if row is None:
        await _refuse(conn, task_id, claim_token, verb, holder)
    return row


async def heartbeat(
    conn: asyncpg.Connection, task_id: str, claim_token: str, lease_seconds: float | None = None,
    holder: str | None = None,
) -> TaskState:
    return from_row(TaskState, await _claim_step(conn, "heartbeat", task_id, claim_token, holder, lease_seconds))


async def start(
    conn: asyncpg.Connection, task_id: str, claim_token: str, process_id: int | None = None, holder: str | None = None
) -> TaskState:
    return from_row(TaskState, await _claim_step(conn, "start", task_id, claim_token, holder, process_id))


async def complete(
    conn: asyncpg.Connection, task_id: str, claim_token: str, output_data: Any, holder: str | None = None,
    *, claim_next: bool = False, session_id: str | None = None, task_types: list[str] | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> CompletedTask:
    """Finish a held task. With claim_next, also claim the next task for the agent that
    held it (filtered by session_id and task_types, as claim does), in the same statement:
    one round trip and one commit where complete-then-claim takes two of each."""
    if not claim_next:
        return from_row(CompletedTask, await _claim_step(conn, "complete", task_id, claim_token, holder, output_data))
    row = await _claim_step(
        conn, "complete", task_id, claim_token, holder, output_data, session_id, task_types or None,
        float(lease_seconds), query="complete_task_claim_next",
    )
    done, nxt = {}, {}
    for key, value in row.items():
        if key.startswith("next_"):
            nxt[key[5:]] = value
        else:
            done[key] = value
    return CompletedTask(**done, next_task=None if nxt["id"] is None else _claimed(nxt))


async def fail(
    conn: asyncpg.Connection, task_id: str, claim_token: str, error: str, retry: bool = True,
    holder: str | None = None,
) -> TaskState:
    return from_row(TaskState, await _claim_step(conn, "fail", task_id, claim_token, holder, error, retry))


async def cancel(conn: asyncpg.Connection, task_id: str, reason: str, agent: str) -> Task:
    """Cancel a pending, claimed or running task; its holder's claim_token dies."""
    row = await conn.fetchrow(Q["cancel_task"], task_id, reason, agent)
    if row is None:
        task = await get_row(conn, task_id)
        raise Conflict(f"cannot cancel task {task_id!r}: it is already {task.status}")
    return _task(row)


async def requeue(conn: asyncpg.Connection, task_id: str, agent: str) -> Task:
    """Put a failed, cancelled, claimed or running task back to pending with a fresh
    attempt budget; any claim on it dies. Recorded in its history."""
    row = await conn.fetchrow(Q["requeue_task"], task_id, agent)
    if row is None:
        task = await get_row(conn, task_id)
        if task.status in ("pending", "completed"):
            raise Conflict(f"cannot requeue task {task_id!r}: it is {task.status}")
        dead = await conn.fetch(Q["failed_dependencies_of"], task_id)
        names = ", ".join(f"{r['id']} ({r['status']})" for r in dead)
        raise Conflict(f"cannot requeue task {task_id!r}: its dependencies {names} can never complete; requeue them first")
    return _task(row)


async def recover_expired(conn: asyncpg.Connection, limit: int = 100) -> int:
    """Requeue (or fail, past max_attempts) tasks whose lease ran out; safe to run from
    any number of servers at once. Returns how many it recovered."""
    return await conn.fetchval(Q["recover_expired_tasks"], limit)


async def get_row(conn: asyncpg.Connection, task_id: str) -> Task:
    row = await conn.fetchrow(Q["get_task"], task_id)
    if row is None:
        raise NotFound(f"task {task_id!r} not found: list_tasks shows the existing ones")
    return _task(row)


async def get(conn: asyncpg.Connection, task_id: str) -> TaskDetail:
    """The task with what it depends on and its history (the latest transitions)."""
    task = await get_row(conn, task_id)
    deps = [r["depends_on"] for r in await conn.fetch(Q["task_dependencies_of"], task_id)]
    history = [
        from_row(TaskEvent, {**dict(r), "detail": iso_times(r["detail"])})
        for r in await conn.fetch(Q["task_history"], task_id, HISTORY_LIMIT)
    ]
    return TaskDetail(**task.model_dump(), depends_on=deps, history=_with_row_events(task, history))


def _with_row_events(task: Task, logged: list[TaskEvent]) -> list[TaskEvent]:
    """Add the transitions the task row itself records (0003_task_queue: the happy path
    writes no history rows): its creation, its current claim and its completion."""
    events = list(logged)  # in the order they were written
    if len(logged) < HISTORY_LIMIT:
        events.insert(0, TaskEvent(at=task.created, event="created", agent=task.created_by, attempt=0, detail=None))
    if task.claimed_at is not None and task.status in ("claimed", "running", "completed"):
        claim = TaskEvent(at=task.claimed_at, event="claimed", agent=task.claimed_by, attempt=task.attempts, detail=None)
        # after whatever happened up to the claim (a recovery in the same transaction
        # included), before the current attempt's own 'started'
        at = len(events)
        while at > 0 and (events[at - 1].at > claim.at or
                          (events[at - 1].event == "started" and events[at - 1].attempt == task.attempts)):
            at -= 1
        events.insert(at, claim)
    if task.status == "completed" and task.finished_at is not None:
        events.append(TaskEvent(at=task.finished_at, event="completed", agent=task.claimed_by, attempt=task.attempts, detail=None))
    return events


# A time as PostgreSQL writes timestamptz as text ("2026-11-29 20:00:05.1+00"), which the
# queue's SQL functions put in history details ("retry after ...").
_PG_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d(?::\d\d)?")


def iso(at: datetime) -> str:
    """ISO 8601 in UTC, as every time in an answer is written (2026-11-29T20:00:05.1Z)."""
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def iso_times(text: str | None) -> str | None:
    """text with PostgreSQL's times rewritten as ISO 8601 (stored details keep theirs)."""
    return _PG_TIME.sub(lambda m: iso(datetime.fromisoformat(m[0])), text) if text else text


async def _refuse(conn: asyncpg.Connection, task_id: str, claim_token: str, verb: str, holder: str | None) -> None:
    """Say precisely why a claim-token operation did not apply."""
    task = await get_row(conn, task_id)
    if task.status in FINISHED:
        why = f": {task.error}" if task.status != "completed" and task.error else ""
        raise StaleClaim(f"cannot {verb} task {task_id!r}: it is already {task.status}{why}")
    row = await conn.fetchrow(Q["task_claim_state"], task_id)
    if holder is not None and task.claimed_by != holder and row["token"] == claim_token:
        raise StaleClaim(
            f"cannot {verb} task {task_id!r}: it is claimed by {task.claimed_by}, and you are {holder}; "
            "only the agent holding a claim can use its claim_token"
        )
    last = await conn.fetchrow(Q["task_history"], task_id, 1)
    if task.status == "pending" and last is not None and last["event"] == "retry_scheduled":
        # The claim ended with fail_task (the caller's own, most often), not a lost lease.
        raise StaleClaim(
            f"cannot {verb} task {task_id!r}: its claim ended when {last['agent']} gave it up with fail_task at "
            f"{iso(last['at'])}, and a failed claim's claim_token stops working; the task is pending again and "
            f"retries after {iso(task.run_after)} under a new claim"
        )
    if task.status == "pending" or row["token"] != claim_token:
        raise StaleClaim(
            f"cannot {verb} task {task_id!r}: your claim_token is stale (the task is {task.status}"
            + (f", claimed by {task.claimed_by}" if task.status != "pending" else "")
            + "); your lease ran out or the task was requeued, and another agent may have taken it over"
        )
    raise StaleClaim(
        f"cannot {verb} task {task_id!r}: your lease ran out at {task.lease_expires_at.isoformat()}; "
        "heartbeat_task before it runs out"
    )


async def list_page(
    conn: asyncpg.Connection,
    *,
    session_id: str | None,
    status: str | None,
    agent_name: str | None,
    limit: int,
    cursor: str | None,
) -> TaskPage:
    after = pagination.decode(cursor, datetime, str)
    after_at = after[0] if after else None
    query, args = build(
        "list_tasks", session_id=session_id, agent_name=agent_name, status=status,
        # pending, claimed and running tasks have their own index
        unfinished=True if status in UNFINISHED else None,
        after_at=after_at, after_id=after[1] if after else None, limit=limit + 1,
    )
    rows = await conn.fetch(query, *args)
    if not rows and session_id is not None:
        await sessions.ensure_exists(conn, session_id)
    rows, more = pagination.page(rows, limit, "input_data", "output_data")
    tasks, omitted = [], {}
    for row in rows:
        # A task's input and output may each be at the JSON limit: together they don't fit
        # a page, so such a row comes without its output (then input); get_task has them.
        row, left_out = pagination.elide(row, "output_data", "input_data")
        if left_out:
            omitted[row["id"]] = left_out
        tasks.append(_task(row))
    next_cursor = pagination.encode(rows[-1]["created"].isoformat(), rows[-1]["id"]) if more else None
    return TaskPage(tasks=tasks, next_cursor=next_cursor, omitted=omitted or None)


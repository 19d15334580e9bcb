"""Recurring tasks: schedules, and the sweep that turns each due occurrence into exactly
one task (migrations/0011_orchestration.sql says how duplicates are made impossible).

Cron expressions are parsed and evaluated by cronsim (5 fields, or 6 with seconds
first), in the schedule's time zone."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from cronsim import CronSim, CronSimError

from mcp_sessions.errors import InvalidInput, NotFound
from mcp_sessions.models import Schedule, ScheduleList, from_row
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.store import sessions, tasks

log = logging.getLogger(__name__)

SWEEP_BATCH = 100
MISSED_COUNT_CAP = 10_000  # counting missed occurrences stops here (an every-second cron down for a day)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"timezone {name!r} is not a known IANA time zone (e.g. 'UTC', 'Europe/Paris')") from None


def next_after(cron: str, zone: str, after: datetime) -> datetime:
    """The first occurrence strictly after `after`, as UTC."""
    try:
        return next(CronSim(cron, after.astimezone(_zone(zone)))).astimezone(timezone.utc)
    except CronSimError as exc:
        raise InvalidInput(
            f"cron {cron!r} is not a valid cron expression ({exc}): five fields 'minute hour day month weekday', "
            "or six with seconds first, e.g. '0 9 * * 1-5' (09:00 on weekdays)"
        ) from None
    except StopIteration:
        raise InvalidInput(f"cron {cron!r} never fires") from None


def latest_at_or_before(cron: str, zone: str, moment: datetime) -> datetime:
    """The last occurrence at or before `moment`, as UTC."""
    # cronsim in reverse counts the starting second itself only when it has microseconds.
    start = moment.astimezone(_zone(zone))
    start = start.replace(microsecond=max(start.microsecond, 1))
    return next(CronSim(cron, start, reverse=True)).astimezone(timezone.utc)


async def create(
    conn: asyncpg.Connection, session_id: str, *, cron: str, zone: str, task_type: str, title: str | None,
    agent_name: str | None, priority: int, input_data: dict[str, Any], max_attempts: int, agent: str,
) -> Schedule:
    await sessions.ensure_exists(conn, session_id)
    now = await conn.fetchval(Q["schedule_clock"])
    first = next_after(cron, zone, now)
    row = await conn.fetchrow(
        Q["insert_schedule"], session_id, cron, zone, task_type, title, agent_name, priority, input_data,
        max_attempts, first, agent,
    )
    return from_row(Schedule, row)


async def list_all(conn: asyncpg.Connection, session_id: str | None, limit: int = 1000) -> ScheduleList:
    return ScheduleList(schedules=[from_row(Schedule, r) for r in await conn.fetch(Q["list_schedules"], session_id, limit)])


async def delete(conn: asyncpg.Connection, schedule_id: str) -> Schedule:
    row = await conn.fetchrow(Q["delete_schedule"], schedule_id)
    if row is None:
        raise NotFound(f"schedule {schedule_id!r} not found: list_schedules shows the existing ones")
    return from_row(Schedule, row)


def idempotency_key(schedule_id: str, due: datetime) -> str:
    return f"schedule:{schedule_id}:{due.astimezone(timezone.utc).isoformat()}"


async def sweep(conn: asyncpg.Connection, limit: int = SWEEP_BATCH) -> int:
    """Create the task of every due schedule (one per schedule, however many occurrences
    were missed) and move each past now. Safe from any number of processes at once.
    Returns how many tasks it created."""
    created = 0
    async with conn.transaction():
        for row in await conn.fetch(Q["due_schedules"], limit):
            now = row["now"]
            try:
                due = latest_at_or_before(row["cron"], row["timezone"], now)
                following = next_after(row["cron"], row["timezone"], now)
            except (InvalidInput, StopIteration) as exc:
                # Only a psql-made row can be invalid: push it a day away rather than retry every sweep.
                log.warning("schedule %s cannot be evaluated (%s); skipped for a day", row["id"], exc)
                await conn.execute(Q["advance_schedule"], row["id"], now + timedelta(days=1), row["last_due"],
                                   row["last_task_id"])
                continue
            due = max(due, row["next_due"])
            input_data = {
                **row["input_data"], "scheduled_for": due.isoformat(), "schedule_id": row["id"],
                "missed": _missed(row["cron"], row["timezone"], row["next_due"], due),
            }
            task = await tasks.create(
                conn, row["session_id"], task_type=row["task_type"], agent_name=row["agent_name"],
                title=row["title"], input_data=input_data, priority=row["priority"], agent=row["created_by"],
                max_attempts=row["max_attempts"], idempotency_key=idempotency_key(row["id"], due),
            )
            await conn.execute(Q["advance_schedule"], row["id"], following, due, task.id)
            created += 1
    return created


def _missed(cron: str, zone: str, first: datetime, due: datetime) -> int:
    """How many earlier occurrences (first .. due, due excluded) this task stands for."""
    if first >= due:
        return 0
    count, at = 1, first
    while count < MISSED_COUNT_CAP:
        at = next_after(cron, zone, at)
        if at >= due:
            break
        count += 1
    return count

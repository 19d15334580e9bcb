"""Recurring tasks: schedule_task, list_schedules, delete_schedule. Every server's
periodic sweep turns each due occurrence into exactly one task."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_sessions.models import Schedule, ScheduleList, TaskType
from mcp_sessions.store import schedules as store
from mcp_sessions.tools._base import CREATE, DELETE, READ, app_of, tool
from mcp_sessions.validation import Identifier, JsonObject, Text

Cron = Annotated[str, Field(min_length=9, max_length=200, description="'0 9 * * 1-5'; 6 fields: seconds first.")]


def register(mcp: MCPServer) -> None:
    @tool(mcp, CREATE)
    async def schedule_task(
        session_id: Identifier,
        cron: Cron,
        task_type: TaskType,
        ctx: Context,
        title: Text(500) | None = None,
        input_data: JsonObject = {},
        agent_name: Annotated[Identifier | None, Field(description="Meant for; default any.")] = None,
        priority: Annotated[int, Field(ge=-1000, le=1000)] = 0,
        timezone: Annotated[str, Field(max_length=100, description="IANA zone the cron reads in.")] = "UTC",
        max_attempts: Annotated[int, Field(ge=1, le=100)] = 3,
    ) -> Schedule:
        """Create a task on a cron schedule: each due time becomes one task (input_data gets scheduled_for).
        Occurrences missed while no server ran become one task. Stop it with delete_schedule."""
        app = app_of(ctx)
        async with app.transaction() as conn:
            return await store.create(
                conn, session_id, cron=cron, zone=timezone, task_type=task_type, title=title, agent_name=agent_name,
                priority=priority, input_data=input_data, max_attempts=max_attempts, agent=app.agent,
            )

    @tool(mcp, READ)
    async def list_schedules(ctx: Context, session_id: Identifier | None = None) -> ScheduleList:
        """Recurring tasks, oldest first, with their next due time."""
        async with app_of(ctx).connection() as conn:
            return await store.list_all(conn, session_id)

    @tool(mcp, DELETE)
    async def delete_schedule(schedule_id: Identifier, ctx: Context) -> Schedule:
        """Stop a recurring task; tasks it already created stay."""
        async with app_of(ctx).transaction() as conn:
            return await store.delete(conn, schedule_id)

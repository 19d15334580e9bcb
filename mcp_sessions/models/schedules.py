"""Result models: recurring tasks."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, JsonValue

from mcp_sessions.models.base import TaskType


class Schedule(BaseModel):
    id: str
    session_id: str
    cron: str
    timezone: str
    task_type: TaskType
    title: str | None
    agent_name: str | None
    priority: int
    input_data: JsonValue
    max_attempts: int
    next_due: datetime = Field(description="The next occurrence; its task is created once it is due.")
    last_due: datetime | None
    last_task_id: str | None
    created_by: str
    created: datetime


class ScheduleList(BaseModel):
    schedules: list[Schedule]

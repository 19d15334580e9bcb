"""Result models: tasks."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, JsonValue

from mcp_sessions.models.base import TaskStatus, TaskType


class Task(BaseModel):
    id: str
    session_id: str
    title: str | None
    agent_name: str | None = Field(description="Agent the task is meant for; null: any agent.")
    task_type: TaskType
    status: TaskStatus
    priority: int
    input_data: JsonValue
    output_data: JsonValue | None
    error: str | None
    process_id: int | None
    attempts: int
    max_attempts: int
    run_after: datetime
    blocked_by: int = Field(description="Dependencies not completed yet; claimable at 0.")
    idempotency_key: str | None
    claimed_by: str | None
    claimed_at: datetime | None
    lease_expires_at: datetime | None
    created_by: str
    created: datetime
    updated: datetime
    finished_at: datetime | None


class TaskState(BaseModel):
    """What a lifecycle step (heartbeat, start, complete, fail, cancel) changed; get_task has the rest."""

    id: str
    status: TaskStatus
    attempts: int
    max_attempts: int
    run_after: datetime
    lease_expires_at: datetime | None
    error: str | None


class TaskEvent(BaseModel):
    at: datetime
    event: str
    agent: str | None
    attempt: int
    detail: str | None


class TaskDetail(Task):
    depends_on: list[str]
    history: list[TaskEvent]


class ClaimedTask(Task):
    claim_token: str = Field(description="Present it to heartbeat/start/complete/fail. Keep it secret.")


class CompletedTask(TaskState):
    """What complete_task changed, and with claim_next the task it claimed for you next."""

    next_task: ClaimedTask | None = Field(
        default=None, description="With claim_next: the task now claimed for you; null if none was claimable."
    )


class ClaimResult(BaseModel):
    task: ClaimedTask | None = Field(description="null when nothing is claimable for you right now.")


class TaskPage(BaseModel):
    tasks: list[Task]
    next_cursor: str | None
    omitted: dict[str, list[str]] | None = Field(
        default=None, description="Task id -> fields left out (null) to keep the page small; get_task has them."
    )

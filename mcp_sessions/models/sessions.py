"""Result models: sessions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, JsonValue

from mcp_sessions.models.base import SessionStatus


class Session(BaseModel):
    id: str
    title: str
    participants: list[str]
    status: SessionStatus
    metadata: dict[str, JsonValue]
    created_by: str
    created: datetime
    last_activity: datetime


class SessionCounts(BaseModel):
    chunks: int
    memories: int
    artifacts: int
    tasks: int
    tasks_by_status: dict[str, int] = Field(description="Only statuses with at least one task.")


class SessionSummary(Session):
    counts: SessionCounts


class SessionPage(BaseModel):
    sessions: list[SessionSummary]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last page.")

"""The event feed's results: watch."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

EventKind = Literal[
    "session.created", "session.updated",
    "chunk.added",
    "memory.set", "memory.forgotten",
    "artifact.saved",
    "task.created", "task.claimed", "task.started", "task.completed", "task.failed", "task.cancelled",
    "task.requeued", "task.lease_expired",
    "message.sent",
    "reservation.granted", "reservation.released", "reservation.expired",
]


class Event(BaseModel):
    """One change in a session. Never carries content: open it with the refs."""

    cursor: str = Field(description="This event's position; pass it as watch(after=...) to read what follows.")
    at: datetime
    agent: str | None = Field(description="Who made the change.")
    kind: EventKind
    session_id: str
    refs: dict[str, Any] = Field(
        description="The ids it refers to: chunk_id; key, version, type; name, version; task_id, attempt; "
        "message_id; reservation_id."
    )
    summary: str = Field(description="At most 200 characters, never content.")


class EventPage(BaseModel):
    events: list[Event] = Field(description="Oldest first.")
    next_after: str = Field(description="Pass back as after= to continue exactly where this page ended.")

"""Shared pieces of the result models: the enums of the data model and from_row."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

SessionStatus = Literal["active", "paused", "completed"]
ChunkFormat = Literal["dialogue", "summary", "transcript"]
MemoryType = Literal["idea", "decision", "question", "action_item", "context", "preference", "fact", "risk"]
TaskType = Literal["code", "research", "document", "analysis"]
TaskStatus = Literal["pending", "claimed", "running", "completed", "failed", "cancelled"]
ArtifactType = Literal["code", "document", "research", "prd", "report"]
AgentStatus = Literal["available", "busy", "offline", "error"]
SearchKind = Literal["chunk", "memory", "artifact", "message"]


def from_row(model: type[BaseModel], row: Any) -> Any:
    return model.model_validate(dict(row))

"""Result models: memories."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, JsonValue

from mcp_sessions.models.base import MemoryType


class Memory(BaseModel):
    session_id: str
    key: str
    type: MemoryType
    content: JsonValue
    tags: list[str]
    version: int
    created_by: str
    updated_by: str
    created: datetime
    updated: datetime


class MemoryPage(BaseModel):
    memories: list[Memory]
    next_cursor: str | None


class Forgotten(BaseModel):
    session_id: str
    key: str
    deleted: bool

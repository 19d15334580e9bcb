"""Result models: agents."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, JsonValue

from mcp_sessions.models.base import AgentStatus


class Agent(BaseModel):
    name: str
    type: str
    command: str | None
    capabilities: list[JsonValue]
    status: AgentStatus
    created: datetime
    last_seen: datetime | None
    alive: bool = False
    holds: list[str] = []


class AgentList(BaseModel):
    agents: list[Agent]
    next_cursor: str | None = None

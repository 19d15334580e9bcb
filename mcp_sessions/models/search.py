"""Result models: search."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from mcp_sessions.models.base import SearchKind


class SearchHit(BaseModel):
    kind: SearchKind
    session_id: str
    id: str = Field(description="chunk_id, memory key or artifact id.")
    title: str
    snippet: str = Field(description="Matched terms are wrapped in ** **.")
    rank: float
    created_by: str
    created: datetime


class SearchResults(BaseModel):
    hits: list[SearchHit]

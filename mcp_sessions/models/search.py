"""Result models: search."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from mcp_sessions.models.base import SearchKind


class SearchHit(BaseModel):
    kind: SearchKind
    session_id: str
    id: str = Field(description="chunk_id, memory key, artifact id or message id.")
    title: str
    snippet: str = Field(description="Matched terms in ** **.")
    rank: float = Field(description="0-1, comparable across kinds.")
    created_by: str
    created: datetime
    offset: int | None = Field(default=None, description="Character offset of the match (chunks, artifacts).")
    version: int | None = Field(default=None, description="Artifacts: the version this hit is in.")
    latest_version: int | None = Field(default=None, description="Artifacts: the newest version of that name.")


class SearchResults(BaseModel):
    hits: list[SearchHit]
    next_cursor: str | None = None
    mode: Literal["fulltext", "fuzzy"] = "fulltext"

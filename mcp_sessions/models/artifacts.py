"""Result models: artifacts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, JsonValue

from mcp_sessions.models.base import ArtifactType
from mcp_sessions.models.content import ContentSlice


class Artifact(BaseModel):
    id: str
    session_id: str
    name: str
    version: int
    type: ArtifactType
    format: str
    size: int = Field(description="Length of the content in characters.")
    metadata: dict[str, JsonValue]
    created_by: str
    created: datetime


class ArtifactContent(ContentSlice):
    artifact: Artifact


class ArtifactPage(BaseModel):
    artifacts: list[Artifact]
    next_cursor: str | None

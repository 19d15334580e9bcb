"""Result models: chunks."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, JsonValue

from mcp_sessions.models.base import ChunkFormat
from mcp_sessions.models.content import ContentSlice


class Chunk(BaseModel):
    session_id: str
    chunk_id: str
    format: ChunkFormat
    size: int = Field(description="Length of the content in characters.")
    extracted_items: JsonValue
    created_by: str
    created: datetime


class ChunkPage(BaseModel):
    chunks: list[Chunk]
    next_cursor: str | None


class ChunkContent(ContentSlice):
    session_id: str
    chunk_id: str
    format: ChunkFormat

"""Result models: content."""

from __future__ import annotations


from pydantic import BaseModel, Field



class ContentSlice(BaseModel):
    content: str
    offset: int = Field(description="Character offset of this slice.")
    total_length: int = Field(description="Length of the whole content in characters.")
    next_offset: int | None = Field(description="Offset of the next slice; null when this slice reaches the end.")

"""Full-text search over chunks, memories and artifacts, ranked, with snippets."""

from __future__ import annotations

import asyncpg

from mcp_sessions.models import SearchHit, SearchResults, from_row
from mcp_sessions.sql import QUERIES as Q

ALL_KINDS = ["chunk", "memory", "artifact"]
# websearch_to_tsquery is quadratic in the length of its input: bound it.
MAX_QUERY_CHARS = 1000


async def search(
    conn: asyncpg.Connection, *, query: str, session_id: str | None, kinds: list[str] | None, limit: int
) -> SearchResults:
    query = query[:MAX_QUERY_CHARS]
    rows = await conn.fetch(Q["search"], query, session_id, kinds or ALL_KINDS, limit)
    return SearchResults(hits=[from_row(SearchHit, r) for r in rows])

"""Search finds what is there: phrases as pasted (side by side with SQLite FTS5, see
bench/search_checks.py), and typos of words committed just before the query."""

from __future__ import annotations

import importlib.util

import pytest

from mcp_sessions.store import chunks, search, sessions
from tests.conftest import REPO

pytestmark = pytest.mark.anyio


def _checks():
    spec = importlib.util.spec_from_file_location("search_checks", REPO / "bench" / "search_checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_pasted_phrases_find_what_fts5_finds(conn):
    checks = _checks()
    queries = [q for q, _ in checks.CHECKS]
    ours = await checks.mcp_sessions(conn, checks.TEXTS, queries)
    theirs = checks.fts5(checks.TEXTS, queries)
    for query, holders in checks.CHECKS:
        assert theirs[query] == holders, query  # the reference finds exactly the holders
        if query in checks.KNOWN_MISSES:
            assert ours[query] == set(), query
        else:
            assert ours[query] == holders, (query, ours[query])


async def test_a_phrase_with_stop_words_needs_them_in_order(conn):
    await sessions.create(conn, title="S", participants=[], metadata={}, session_id="s", agent="t")
    for chunk_id, text in [("exact", "the name which it will bear"), ("reordered", "which name will it bear"),
                           ("words", "a name, it will bear")]:
        await chunks.add(conn, "s", content=text, format="transcript", chunk_id=chunk_id, extracted_items={}, agent="t")

    async def found(query):
        return sorted(h.id for h in (await search.search(conn, query=query, mode="fulltext")).hits)

    assert await found('"the name which it will"') == ["exact"]
    assert await found('"name it will bear"') == ["words"]  # punctuation between words is not a word
    assert await found("name bear") == ["exact", "reordered", "words"]  # words alone: stop words don't matter
    assert await found('"The NAME which IT will"') == ["exact"]  # case doesn't matter
    # A negated phrase or one of OR-ed alternatives keeps its plain tsquery.
    assert await found('bear -"the name which it will"') == []
    assert await found('"the name which it will" OR zebra') == ["exact", "reordered", "words"]


async def test_a_typo_of_the_last_word_of_a_12_mb_chunk_is_found_at_once(conn):
    """The vocabulary is written with the content: the first fuzzy query after the write
    finds a one-letter typo of its very last word (before, it took many queries)."""
    await sessions.create(conn, title="S", participants=[], metadata={}, session_id="s", agent="t")
    words = [f"w{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676 % 26)}x" for i in range(4000)]
    line = " ".join(words) + "\n"
    text = line * (12 * 1024 * 1024 // len(line)) + "the very last word is quetzalcoatl"
    await chunks.add(conn, "s", content=text, format="transcript", chunk_id="big", extracted_items={}, agent="t")
    results = await search.search(conn, query="quetzalcoatk", mode="fuzzy")
    assert [h.id for h in results.hits] == ["big"]
    assert "**quetzalcoatl**" in results.hits[0].snippet


async def test_a_read_only_reader_sees_the_words_of_the_last_commit(conn, database_url):
    """Typo matching needs no write by the reader: a read-only transaction (a replica, a
    read-only role) finds a typo of a word committed by another connection."""
    from mcp_sessions.db import connect

    await sessions.create(conn, title="S", participants=[], metadata={}, session_id="s", agent="t")
    await chunks.add(conn, "s", content="notes on replication lag", format="transcript", chunk_id="c",
                     extracted_items={}, agent="t")
    reader = await connect(database_url)
    try:
        async with reader.transaction(readonly=True):
            results = await search.search(reader, query="replicaton")
        assert results.mode == "fuzzy" and [h.id for h in results.hits] == ["c"]
    finally:
        await reader.close()

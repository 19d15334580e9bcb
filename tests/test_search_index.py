"""The search index itself, on a real database: every byte of big content, identifiers,
other languages, configuration, and the index following writes."""

from __future__ import annotations

import secrets

import pytest

from mcp_sessions.errors import InvalidInput
from mcp_sessions.store import artifacts, chunks, memories, search, sessions


# Marked here, not only by conftest: otherwise anyio's plugin re-creates the items and
# drops their parametrize ids.
pytestmark = pytest.mark.anyio

async def new_session(conn, session_id="s", title="Search tests"):
    await sessions.create(conn, title=title, participants=[], metadata={}, session_id=session_id, agent="tester")
    return session_id


async def add_chunk(conn, content, session_id="s", chunk_id=None, agent="tester"):
    return await chunks.add(conn, session_id, content=content, format="transcript", chunk_id=chunk_id,
                            extracted_items={}, agent=agent)


async def ids(conn, query, **filters):
    results = await search.search(conn, query=query, **filters)
    return [h.id for h in results.hits]


@pytest.mark.slow
async def test_last_word_and_last_phrase_of_a_30_mb_chunk(conn):
    await new_session(conn)
    filler = "the quick brown fox jumps over the lazy dog and keeps running through words\n"
    text = filler * (30 * 1024 * 1024 // len(filler)) + "final thoughts: zymurgy quixotically"
    async with conn.transaction():
        await add_chunk(conn, text, chunk_id="big")
    for query in ("quixotically", '"zymurgy quixotically"', "zymurgy"):
        results = await search.search(conn, query=query)
        assert [h.id for h in results.hits] == ["big"], query
        hit = results.hits[0]
        # the offset opens the text right at the match (get_chunk(offset=...))
        word = query.strip('"').split()[0]
        assert text[hit.offset:hit.offset + len(word)].lower() == word
        assert "**" in hit.snippet and word in hit.snippet.lower()
    # a phrase that is not in the text is not found
    assert await ids(conn, '"quixotically zymurgy"', mode="fulltext") == []


async def test_unicode_offsets_and_phrase_across_a_segment_cut(conn):
    await new_session(conn)
    # multibyte text before the match: offsets count characters, as get_chunk does
    words = [f"ünïcødé{i}" for i in range(3000)]
    text = " ".join(words)
    await add_chunk(conn, text, chunk_id="u")
    for i in range(0, 3000, 97):
        hits = (await search.search(conn, query=f'"{words[i]} {words[i + 1] if i + 1 < 3000 else ""}"')).hits
        assert [h.id for h in hits] == ["u"], words[i]
        assert text[hits[0].offset:].startswith(words[i])


async def test_a_megabyte_of_unique_tokens(conn):
    await new_session(conn)
    tokens = [secrets.token_hex(16) for _ in range(32_000)]  # ~1 MB, each token once
    await add_chunk(conn, " ".join(tokens), chunk_id="hashes")
    for token in (tokens[0], tokens[len(tokens) // 2], tokens[-1]):
        assert await ids(conn, token) == ["hashes"]
    assert await ids(conn, f'"{tokens[-2]} {tokens[-1]}"') == ["hashes"]


IDENTIFIERS = ["claim_task", "FOR UPDATE SKIP LOCKED", "postgres_backend.py", "HTTP 503", "v2.1.0"]


@pytest.mark.parametrize("identifier", IDENTIFIERS)
async def test_identifiers_in_code_and_prose(conn, identifier):
    await new_session(conn)
    code = (
        "from mcp_sessions.storage import postgres_backend\n\n"
        "async def run(conn):\n"
        "    row = await store.claim_task(conn)  # SELECT ... FOR UPDATE SKIP LOCKED\n"
        "    if row is None:\n"
        "        raise HTTPError(503)  # HTTP 503 until v2.1.0 ships\n"
    )
    await artifacts.save(conn, "s", name="src/mcp_sessions/postgres_backend.py", type="code", content=code,
                         format="python", metadata={}, agent="tester")
    prose = (
        "We agreed that claim_task() must use FOR UPDATE SKIP LOCKED; see postgres_backend.py. "
        "The proxy answered HTTP 503 twice before v2.1.0 was deployed."
    )
    await add_chunk(conn, "lorem ipsum dolor\n" * 2000 + prose, chunk_id="prose")
    await add_chunk(conn, "We claim the task later; the backend is postgres. Version 2 is out.", chunk_id="noise")
    results = await search.search(conn, query=identifier, mode="fulltext")
    found = {h.kind for h in results.hits}
    assert found == {"artifact", "chunk"}, results
    assert "noise" not in {h.id for h in results.hits}
    prose_hit = next(h for h in results.hits if h.kind == "chunk")
    assert "**" in prose_hit.snippet


async def test_identifier_inside_a_dotted_call_is_whole(conn):
    # The parser reads store.claim_task() as 'store.claim' + 'task'; the identifier
    # index still has claim_task, and the snippet marks it.
    await new_session(conn)
    await add_chunk(conn, "x = store.claim_task() # done", chunk_id="c")
    hit = (await search.search(conn, query="claim_task")).hits[0]
    assert hit.id == "c" and "**claim_task**" in hit.snippet and hit.offset == 10


async def test_other_languages_are_found_by_their_exact_words(conn):
    await new_session(conn)
    await add_chunk(conn, "Die Häuser am Fluss wurden gestern verkauft.", chunk_id="de")
    await add_chunk(conn, "Мы решили кешировать ответы сервера.", chunk_id="ru")
    await add_chunk(conn, "Nous avons décidé de garder les écritures atomiques.", chunk_id="fr")
    assert await ids(conn, "Häuser") == ["de"]
    assert await ids(conn, "кешировать") == ["ru"]
    assert await ids(conn, "écritures") == ["fr"]
    assert await ids(conn, '"décidé de garder"') == ["fr"]


async def test_index_follows_updates_and_deletes(conn):
    await new_session(conn)
    mem = dict(type="decision", tags=["cache"], expected_version=None, agent="tester")
    await memories.remember(conn, "s", key="cache_ttl", content="expire entries after ten minutes", **mem)
    assert await ids(conn, "ten minutes") == ["cache_ttl"]
    await memories.remember(conn, "s", key="cache_ttl", content="expire entries hourly", **mem)
    assert await ids(conn, "ten minutes", mode="fulltext") == []
    assert await ids(conn, "hourly") == ["cache_ttl"]
    await memories.forget(conn, "s", "cache_ttl")
    assert await ids(conn, "hourly", mode="fulltext") == []
    await add_chunk(conn, "ephemeral words", chunk_id="gone")
    await conn.execute("DELETE FROM sessions WHERE id = 's'")
    assert await conn.fetchval("SELECT count(*) FROM search_segments") == 0


async def test_a_chunk_and_its_index_commit_together(conn):
    await new_session(conn)
    with pytest.raises(RuntimeError):
        async with conn.transaction():
            await add_chunk(conn, "rolled back words", chunk_id="r")
            assert await ids(conn, "rolled") == ["r"]  # visible inside its transaction
            raise RuntimeError
    assert await ids(conn, "rolled", mode="fulltext") == []
    assert await conn.fetchval("SELECT count(*) FROM search_segments") == 0


async def test_text_search_configuration_is_a_setting(conn):
    await new_session(conn)
    await add_chunk(conn, "The servers were running.", chunk_id="c")
    assert await ids(conn, "run") == ["c"]  # english stems running -> run
    assert await search.ensure_config(conn, "simple") is True
    assert await search.ensure_config(conn, "simple") is False
    assert await ids(conn, "run", mode="fulltext") == []  # simple keeps words as written
    assert await ids(conn, "running") == ["c"]
    assert await ids(conn, "the") == ["c"]  # and has no stop words
    await add_chunk(conn, "jumping", chunk_id="d")
    assert await ids(conn, "jumping") == ["d"]  # new content uses the new configuration
    with pytest.raises(InvalidInput, match="not a text search configuration"):
        await search.ensure_config(conn, "klingon")
    assert await search.ensure_config(conn, "english") is True
    assert await ids(conn, "run") == ["c"]


async def test_vocabulary_skips_hash_like_tokens(conn):
    await new_session(conn)
    await add_chunk(conn, "postgresql deadbeef12345678 replication", chunk_id="c")
    vocab = {r["term"] for r in await conn.fetch("SELECT term FROM search_vocab")}  # fed by the write itself
    assert {"postgresql", "replic"} <= vocab
    assert not any("12345678" in t for t in vocab)


async def test_concurrent_writers_do_not_block_on_the_index(database_url):
    # Two transactions indexing the same new words at once both commit: the typo
    # vocabulary they both add the words to has no unique index to wait on.
    from mcp_sessions.db import connect

    a, b = await connect(database_url), await connect(database_url)
    try:
        await new_session(a)
        ta, tb = a.transaction(), b.transaction()
        await ta.start()
        await tb.start()
        await add_chunk(a, "brandnewword anotherword", chunk_id="a")
        await add_chunk(b, "anotherword brandnewword", chunk_id="b")
        await ta.commit()
        await tb.commit()
        assert sorted(await ids(a, "brandnewword")) == ["a", "b"]
        assert sorted(await ids(a, "brandnewwrd", mode="fuzzy")) == ["a", "b"]
    finally:
        await a.close()
        await b.close()


async def test_search_reads_under_a_read_only_transaction(conn):
    await new_session(conn)
    await add_chunk(conn, "postgres replication", chunk_id="c")
    async with conn.transaction(readonly=True):
        results = await search.search(conn, query="postgress")  # fuzzy: reads the vocabulary only
    assert results.mode == "fuzzy" and [h.id for h in results.hits] == ["c"]


async def test_a_word_in_most_segments_is_found_by_scanning_with_the_same_results(conn):
    await new_session(conn)
    for i in range(60):
        await add_chunk(conn, f"ubiquitous word number {i} " + "padding " * (i % 7), chunk_id=f"c{i:02d}")
    await conn.execute("ANALYZE search_segments")  # the planner's statistics drive the choice
    frequency = await conn.fetchval(
        "SELECT f.freq FROM pg_stats st, unnest(st.most_common_elems::text::text[], st.most_common_elem_freqs)"
        " AS f(elem, freq) WHERE st.tablename = 'search_segments' AND st.attname = 'tsv' AND f.elem = 'ubiquit'")
    assert frequency > 0.3  # so an unfiltered search takes the scan path

    async def pages(**filters):
        seen, cursor = [], None
        while True:
            page = await search.search(conn, query="ubiquitous", limit=7, cursor=cursor, **filters)
            seen += [h.id for h in page.hits]
            cursor = page.next_cursor
            if cursor is None:
                return seen

    scanned = await pages()
    by_index = await pages(created_by="tester")  # a filter: always the index
    assert scanned == by_index and len(scanned) == 60 and len(set(scanned)) == 60

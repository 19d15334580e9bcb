"""The search tool end to end: query language, filters, ranking, snippets, cursor, fuzzy."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mcp_sessions.store.search import MAX_TERMS, ident_of, parse
from tests.conftest import call, call_error


# Marked here, not only by conftest: otherwise anyio's plugin re-creates the items and
# drops their parametrize ids.
pytestmark = pytest.mark.anyio

@pytest.fixture
async def corpus(client):
    """Two sessions with chunks, memories of several types and tags, and artifacts."""
    a = (await call(client, "create_session", title="Cache redesign", session_id="a"))["id"]
    b = (await call(client, "create_session", title="Queue work", session_id="b"))["id"]
    long_talk = "we discussed many unrelated topics at length today\n" * 400
    await call(client, "add_chunk", session_id=a, chunk_id="talk",
               content=long_talk + "someone mentioned eviction in passing", format="transcript")
    await call(client, "add_chunk", session_id=b, chunk_id="standup", content="the worker uses claim_task with retries")
    await call(client, "remember", session_id=a, key="eviction", type="decision",
               content="Evict least recently used entries first", tags=["cache", "perf"])
    await call(client, "remember", session_id=a, key="eviction_risk", type="risk",
               content="eviction storms under load", tags=["cache"])
    await call(client, "remember", session_id=b, key="retry_policy", type="decision",
               content={"text": "retry eviction of stuck tasks", "max": 3}, tags=["queue"])
    await call(client, "save_artifact", session_id=a, name="eviction.md", type="document",
               content="# Eviction\nLRU eviction with a TTL.")
    await call(client, "save_artifact", session_id=b, name="worker.py", type="code",
               content="def evict_stale(conn):\n    # eviction of stale claims\n    pass\n")
    return client


async def search(client, **args):
    return await call(client, "search", **args)


def keys(result):
    return [h["id"] for h in result["hits"]]


async def test_hit_fields_and_ranking_across_kinds(corpus):
    result = await search(corpus, query="eviction")
    assert result["mode"] == "fulltext"
    hits = result["hits"]
    assert len(hits) == 6
    # memories titled by the query outrank a passing mention deep in a transcript
    assert {h["id"] for h in hits[:2]} == {"eviction", "eviction_risk"}
    assert hits[-1]["id"] == "talk"
    ranks = [h["rank"] for h in hits]
    assert ranks == sorted(ranks, reverse=True) and all(0 < r < 1 for r in ranks)
    talk = hits[-1]
    assert talk["title"] == "Cache redesign / talk" and talk["session_id"] == "a"
    assert talk["created_by"] == "tester" and datetime.fromisoformat(talk["created"])
    assert "**eviction**" in talk["snippet"]
    # the offset opens get_chunk right at the match
    opened = await call(corpus, "get_chunk", session_id="a", chunk_id="talk", offset=talk["offset"], length=8)
    assert opened["content"] == "eviction"
    artifact = next(h for h in hits if h["kind"] == "artifact" and h["session_id"] == "a")
    assert artifact["title"] == "eviction.md v1" and artifact["offset"] is not None
    memory = next(h for h in hits if h["id"] == "retry_policy")
    assert "**eviction**" in memory["snippet"] and memory["offset"] is None


@pytest.mark.parametrize(
    "query, expected",
    [
        ('"eviction storms"', {"eviction_risk"}),
        ('"storms eviction"', set()),
        ("eviction -storms", {"talk", "eviction", "retry_policy", "eviction.md", "worker.py"}),
        ("storms OR retries", {"eviction_risk", "standup", "retry_policy"}),
        ("lru ttl", None),  # checked below: the artifact
        ("claim_task", {"standup"}),
    ],
)
async def test_query_language(corpus, query, expected):
    result = await search(corpus, query=query, mode="fulltext")
    found = {h["id"] if h["kind"] != "artifact" else h["title"].rsplit(" v", 1)[0] for h in result["hits"]}
    if expected is None:
        assert found == {"eviction.md"}
    else:
        assert found == expected


ODD_QUERIES = [
    '"unbalanced quote eviction',
    "the of and",
    "!!! ??? ...",
    "evict:*",
    "eviction <-> storms",
    "& | ! ( ) <2> :A",
    "'eviction'",
    "-",
    '""',
    "OR OR OR",
    "-eviction",
    "\\ \\\\ '' ''' ",
    "x" * 10_000,
    " ".join(["eviction"] * 5000),  # 45 KB
    "évïctïön 日本語 🚀",
]


async def test_odd_queries_never_error(corpus):
    for query in ODD_QUERIES:
        for mode in ("auto", "fulltext", "fuzzy"):
            result = await corpus.call_tool("search", {"query": query, "mode": mode})
            assert not result.is_error, (query[:50], mode, result.content[0].text)
            assert isinstance(result.structured_content["hits"], list)


async def test_odd_queries_still_mean_what_they_can(corpus):
    assert "eviction_risk" in keys(await search(corpus, query='"eviction storms'))  # quote runs to the end
    assert keys(await search(corpus, query="the of and")) == []  # only stop words
    assert keys(await search(corpus, query="-eviction")) == []  # nothing positive to match
    assert "eviction" in keys(await search(corpus, query="evict:*"))


def test_parse_is_bounded_and_linear():
    groups = parse("word " * 100_000)
    assert sum(len(g) for g in groups) == MAX_TERMS
    assert [[a.text for a in g] for g in parse('a OR b "c d" -e -"f g" OR h')] == [["a", "b"], ["c d"], ["e"], ["f g", "h"]]
    assert [a.negated for g in parse('a -"f g" -e') for a in g] == [False, True, True]
    assert ident_of("store.claim_task()") == "store.claim_task"
    assert ident_of("(src/postgres_backend.py).") == "src/postgres_backend.py"
    assert ident_of("V2.1.0") == "v2.1.0" and ident_of("HTTP") is None and ident_of("x" * 1000) is None


async def test_filters(corpus):
    q = "eviction"
    in_b = (await search(corpus, query=q, session_id="b"))["hits"]
    assert {(h["kind"], h["title"]) for h in in_b} == {("memory", "retry_policy"), ("artifact", "worker.py v1")}
    assert set(keys(await search(corpus, query=q, kinds=["memory"]))) == {"eviction", "eviction_risk", "retry_policy"}
    assert keys(await search(corpus, query=q, kinds=["chunk"])) == ["talk"]
    assert set(keys(await search(corpus, query=q, memory_types=["decision"]))) == {"eviction", "retry_policy"}
    assert set(keys(await search(corpus, query=q, tags=["perf", "queue"]))) == {"eviction", "retry_policy"}
    assert keys(await search(corpus, query=q, tags=["cache", "perf"], tags_match="all")) == ["eviction"]
    code = (await search(corpus, query=q, artifact_types=["code"]))["hits"]
    assert [h["title"] for h in code] == ["worker.py v1"]
    assert keys(await search(corpus, query=q, created_by="someone-else")) == []
    assert len(keys(await search(corpus, query=q, created_by="tester"))) == 6
    now = datetime.now(timezone.utc)
    assert keys(await search(corpus, query=q, created_after=(now + timedelta(minutes=5)).isoformat())) == []
    assert keys(await search(corpus, query=q, created_before=(now - timedelta(minutes=5)).isoformat())) == []
    window = await search(corpus, query=q, created_after=(now - timedelta(minutes=5)).isoformat(),
                          created_before=(now + timedelta(minutes=5)).isoformat())
    assert len(window["hits"]) == 6
    # kinds and a kind's own filter combine: memories of that type, and all chunks
    mixed = await search(corpus, query=q, kinds=["memory", "chunk"], memory_types=["risk"])
    assert set(keys(mixed)) == {"eviction_risk", "talk"}


async def test_cursor_pages_have_no_gaps_or_repeats(client):
    await call(client, "create_session", title="Paging", session_id="p")
    for i in range(23):
        # equal ranks on purpose for some: the cursor must still split them exactly
        text = "paging " * (1 + i % 4) + f"filler number {i}"
        await call(client, "add_chunk", session_id="p", chunk_id=f"c{i:02d}", content=text)
    await call(client, "remember", session_id="p", key="paging", type="fact", content="paging memory")
    everything = keys(await search(client, query="paging", limit=100))
    assert len(everything) == 24 and len(set(everything)) == 24
    seen, cursor = [], None
    while True:
        page = await search(client, query="paging", limit=5, **({"cursor": cursor} if cursor else {}))
        assert len(page["hits"]) <= 5
        seen += keys(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything
    message = await call_error(client, "search", query="paging", cursor="not-a-cursor")
    assert "cursor" in message


async def test_fuzzy_matches_typos_and_fragments(client):
    await call(client, "create_session", title="Fuzzy", session_id="f")
    await call(client, "add_chunk", session_id="f", chunk_id="db",
               content="We run PostgreSQL: postgres handles claims with FOR UPDATE SKIP LOCKED.")
    await call(client, "save_artifact", session_id="f", name="q.py", type="code",
               content="def claim(conn):\n    return conn.fetch(SKIP_LOCKED_QUERY)\n")
    auto = await search(client, query="postgress")
    assert auto["mode"] == "fuzzy" and keys(auto) == ["db"]
    assert "**" in auto["hits"][0]["snippet"]
    fuzzy = await search(client, query="skip_lock", mode="fuzzy")
    assert fuzzy["mode"] == "fuzzy"
    assert {h["kind"] for h in fuzzy["hits"]} == {"chunk", "artifact"}
    assert keys(await search(client, query="postgress", mode="fulltext")) == []
    assert keys(await search(client, query="qwxzv", mode="fuzzy")) == []


async def test_bad_filter_values_are_clear_errors(client):
    message = await call_error(client, "search", query="x", kinds=["task"])
    assert "kinds" in message
    message = await call_error(client, "search", query="x", limit=0)
    assert "limit" in message


async def test_artifact_versions_give_one_hit(client):
    await call(client, "create_session", title="Versions", session_id="v")
    for text in ("sharding notes alpha", "sharding notes bravo", "sharding notes delta"):
        await call(client, "save_artifact", session_id="v", name="plan.md", type="prd", content=text)
    hits = (await search(client, query="sharding"))["hits"]
    assert [(h["title"], h["version"], h["latest_version"]) for h in hits] == [("plan.md v3", 3, 3)]


async def test_search_finds_the_latest_artifact_version_and_history_on_request(client):
    await call(client, "create_session", title="Design", session_id="d")
    await call(client, "save_artifact", session_id="d", name="design.md", type="document",
               content="The design keeps sessions in redis.")
    await call(client, "save_artifact", session_id="d", name="design.md", type="document",
               content="The design keeps sessions in postgres.")
    hits = (await search(client, query="design"))["hits"]
    assert [(h["title"], h["version"], h["latest_version"]) for h in hits] == [("design.md v2", 2, 2)]
    assert "postgres" in hits[0]["snippet"]
    # What only the old version says is not found (not even by the fuzzy fallback) ...
    assert (await search(client, query="redis"))["hits"] == []
    # ... unless history is asked for: then each version is a hit of its own.
    old = (await search(client, query="redis", history=True))["hits"]
    assert [(h["title"], h["version"], h["latest_version"]) for h in old] == [("design.md v1", 1, 2)]
    both = (await search(client, query="design", history=True))["hits"]
    assert sorted((h["version"], h["latest_version"]) for h in both) == [(1, 2), (2, 2)]
    chunk_hit = await call(client, "add_chunk", session_id="d", chunk_id="c", content="design review")
    assert chunk_hit
    by_kind = {h["kind"]: h for h in (await search(client, query="design"))["hits"]}
    assert by_kind["chunk"]["version"] is None and by_kind["chunk"]["latest_version"] is None


async def test_latest_version_holds_whatever_order_versions_arrive_in(conn):
    """An import may insert versions out of order, and a deleted latest version hands
    "latest" back to the one before it."""
    from mcp_sessions.store import search as store

    await conn.execute("INSERT INTO sessions (id, title, created_by) VALUES ('s', 'S', 'me')")
    for version in (3, 1, 2):
        await conn.execute(
            "INSERT INTO artifacts (id, session_id, name, version, type, format, content, size, content_sha256,"
            " created_by) VALUES ($1, 's', 'doc', $2, 'document', 'markdown', $3, 1, '\\x00', 'me')",
            f"a{version}", version, f"common words, version{version}")

    async def found(query, history=False):
        return sorted(h.id for h in (await store.search(conn, query=query, mode="fulltext", history=history)).hits)

    assert await found("common") == ["a3"]
    assert await found("version1") == [] and await found("version1", history=True) == ["a1"]
    await conn.execute("DELETE FROM artifacts WHERE id = 'a3'")
    assert await found("common") == ["a2"]
    await conn.execute("DELETE FROM sessions WHERE id = 's'")  # cascades without re-marking
    assert await conn.fetchval("SELECT count(*) FROM search_segments") == 0


async def test_search_through_a_real_server_process_with_another_configuration(database_url):
    from tests.conftest import stdio_client

    async with stdio_client(database_url, MCP_SESSIONS_SEARCH_CONFIG="simple") as c:
        await call(c, "create_session", title="Stdio", session_id="io")
        await call(c, "add_chunk", session_id="io", chunk_id="x", content="the servers were running claim_task")
        assert keys(await search(c, query="running")) == ["x"]
        assert keys(await search(c, query="run", mode="fulltext")) == []  # simple: no stemming
        assert keys(await search(c, query="claim_task")) == ["x"]
    async with stdio_client(database_url) as c:  # back to english: reindexed at start
        assert keys(await search(c, query="run")) == ["x"]

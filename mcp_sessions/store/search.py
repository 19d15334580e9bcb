"""Search over chunks, memories and artifacts: ranked full text in segments, identifiers
kept whole, typo matching through a trigram vocabulary, snippets with the match marked.

The query language is websearch-like (words, "phrases", -excluded, OR) but parsed here,
in linear time, so no input can make it error or run long; each word or phrase is then
read by the configured text search configuration in PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from mcp_sessions import pagination
from mcp_sessions.errors import InvalidInput
from mcp_sessions.models import SearchHit, SearchResults
from mcp_sessions.sql import QUERIES as Q

ALL_KINDS = ["chunk", "memory", "artifact", "message"]
# What of a query is read: parsing is linear, but phraseto_tsquery and the match are not
# free, and nobody types more than this.
MAX_QUERY_CHARS = 1000
MAX_TERMS = 32
MAX_FUZZY_WORDS = 8
# Matching segments ranked per kind, at most (see search_candidates in the migration).
CANDIDATES_PER_KIND = 200
# For a phrase with stop words: segments per kind holding its other words that are
# tested against its pattern (bounds a rare phrase of common words to ~0.1 s).
PATTERN_CANDIDATES_PER_KIND = 2000
MAX_SNIPPET_CHARS = 400

Mode = Literal["auto", "fulltext", "fuzzy"]

# Same shape as search_idents() in the migration: a token with an underscore, a
# letter-digit mix, or inner . : / -.
_IDENT = re.compile(r"\w*(?:_|[^\W\d_]\d|\d[^\W\d_]|\w[.:/-]\w)[\w.:/-]*")
_WORD = re.compile(r"\w[\w.:/-]*")
_MARK = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)


@dataclass
class Atom:
    text: str
    negated: bool
    phrase: bool


def parse(query: str) -> list[list[Atom]]:
    """Websearch syntax -> groups of atoms (atoms OR-ed within a group, groups AND-ed).
    Never fails: an unbalanced quote runs to the end, unknown punctuation is text."""
    query = query[:MAX_QUERY_CHARS]
    groups: list[list[Atom]] = []
    pending_or = False
    negate_next = False
    count = 0

    def add(atom: Atom) -> None:
        nonlocal pending_or, count
        if count >= MAX_TERMS:
            return
        count += 1
        if pending_or and groups:
            groups[-1].append(atom)
        else:
            groups.append([atom])
        pending_or = False

    for match in re.finditer(r'"([^"]*)"?|(\S+?)(?="|\s|$)', query):
        if match.group(1) is not None:
            if match.group(1).strip():
                add(Atom(match.group(1), negate_next, True))
            negate_next = False
            continue
        word = match.group(2)
        if word.lower() == "or":
            pending_or = bool(groups)
            continue
        negated = negate_next
        negate_next = False
        if word.startswith("-"):
            word = word.lstrip("-")
            negated = True
            if not word:
                negate_next = True  # -"a phrase"
                continue
        add(Atom(word, negated, False))
    return groups


def ident_of(word: str) -> str | None:
    """The identifier a query word names, as search_idents() stores it."""
    # Pieces over 200 characters can't be identifiers; skipping them keeps the regex linear.
    pieces = [p for p in _WORD.findall(word) if len(p) <= 200]
    best = max((m.group(0) for p in pieces for m in _IDENT.finditer(p)), key=len, default=None)
    if best is None:
        return None
    best = best.lower().rstrip(".:/-")
    return best if 2 <= len(best) <= 200 else None


def quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


async def fulltext_query(conn: asyncpg.Connection, groups: list[list[Atom]]) -> tuple[str | None, list[str]]:
    """The tsquery for parsed groups, or None when nothing positive is left to match
    (only stop words, only exclusions: GIN can't find "everything without x"), and the
    patterns the matching text must have: a phrase with stop words ("the name which it
    will") must have them, in order, where its tsquery alone would ask only for 'name'.
    Only a phrase that must match (not negated, not one of OR-ed alternatives) adds one."""
    atoms = [a for g in groups for a in g]
    if not atoms:
        return None, []
    rendered = await conn.fetch(Q["search_render_terms"], [a.text for a in atoms])
    parts: list[str] = []
    patterns: list[str] = []
    positive = False
    i = 0
    for group in groups:
        alternatives = []
        for atom in group:
            rendition, pattern = rendered[i]["rendition"], rendered[i]["pattern"]
            i += 1
            ident = None if atom.phrase else ident_of(atom.text)
            options = [o for o in (quote(ident) if ident else "", rendition) if o]
            if not options:
                continue
            expr = "(" + " | ".join(f"({o})" for o in options) + ")"
            alternatives.append("!" + expr if atom.negated else expr)
            positive = positive or not atom.negated
            if pattern and atom.phrase and not atom.negated and len(group) == 1:
                patterns.append(pattern)
        if alternatives:
            parts.append("(" + " | ".join(alternatives) + ")")
    if not positive:
        return None, []
    return " & ".join(parts), patterns


async def fuzzy_query(conn: asyncpg.Connection, groups: list[list[Atom]]) -> str | None:
    """A tsquery of vocabulary terms that look like the query's words (typos, fragments).
    Writers add their terms to the vocabulary in their own transaction, so it holds
    every word committed before this query."""
    words: list[str] = []
    for atom in (a for g in groups for a in g if not a.negated):
        for w in _WORD.findall(atom.text):
            w = w.lower().rstrip(".:/-")
            if 3 <= len(w) <= 60 and w not in words:
                words.append(w)
    words = words[:MAX_FUZZY_WORDS]
    if not words:
        return None
    by_word: dict[int, list[str]] = {}
    for row in await conn.fetch(Q["search_fuzzy_terms"], words):
        by_word.setdefault(row["n"], []).append(quote(row["term"]))
    if not by_word:
        return None
    return " & ".join("(" + " | ".join(terms) + ")" for _, terms in sorted(by_word.items()))


def match_offset(body: str, snippet: str, needles: list[str]) -> tuple[int, int] | None:
    """Where in body the snippet's first marked term is, and its length; failing that,
    the first query word or identifier found in body (ts_headline can't mark an
    identifier its parser splits, like store.claim_task)."""
    first = _MARK.search(snippet)
    if first:
        term = first.group(1)
        plain_before = _MARK.sub(r"\1", snippet[: first.start()])
        at = body.find(plain_before + term) if plain_before else -1
        if at >= 0:
            return at + len(plain_before), len(term)
        at = body.find(term)
        if at >= 0:
            return at, len(term)
    lowered = body.lower()
    found = [(i, len(n)) for i, n in ((lowered.find(n.lower()), n) for n in needles if n) if i >= 0]
    return min(found) if found else None


def excerpt(body: str, at: int, length: int, width: int = 120) -> str:
    """A snippet around body[at:at+length], the match marked, cut at spaces."""
    start, end = max(0, at - width), min(len(body), at + length + width)
    if start > 0:
        start = body.find(" ", start, at) + 1 or start
    if end < len(body):
        space = body.rfind(" ", at + length, end)
        end = space if space > at + length else end
    return f"{body[start:at]}**{body[at:at + length]}**{body[at + length:end]}".strip()


async def search(
    conn: asyncpg.Connection,
    *,
    query: str,
    session_id: str | None = None,
    kinds: list[str] | None = None,
    limit: int = 20,
    memory_types: list[str] | None = None,
    tags: list[str] | None = None,
    tags_match: Literal["any", "all"] = "any",
    created_by: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    artifact_types: list[str] | None = None,
    mode: Mode = "auto",
    cursor: str | None = None,
    viewer: str | None = None,
    history: bool = False,
) -> SearchResults:
    """Best first; `next_cursor` continues the same ranking (keyset on rank, segment).
    viewer: the authenticated agent (HTTP), who finds only its own direct messages.
    Artifacts: the latest version of each name, or with `history` every version."""
    after = pagination.decode(cursor, str, float, int)
    if after is not None:
        if after[0] not in ("fulltext", "fuzzy"):
            raise InvalidInput("cursor is malformed: pass next_cursor back exactly as a previous page returned it")
        mode = after[0]
    if kinds is None:
        # A filter on a kind's own attribute keeps only the kinds that have it.
        scoped = (["memory"] if memory_types or tags else []) + (["artifact"] if artifact_types else [])
        kinds = scoped or ALL_KINDS
    groups = parse(query)
    used: Literal["fulltext", "fuzzy"] = "fuzzy" if mode == "fuzzy" else "fulltext"
    patterns: list[str] = []
    if used == "fulltext":
        tsquery, patterns = await fulltext_query(conn, groups)
    else:
        tsquery = await fuzzy_query(conn, groups)
    filters = (
        list(dict.fromkeys(kinds)), session_id, memory_types or None,
        (tags or None) if tags_match == "any" else None, (tags or None) if tags_match == "all" else None,
        created_by, created_after, created_before, artifact_types or None,
        float(after[1]) if after else None, after[2] if after else None, limit + 1,
    )
    # Only an unfiltered one-word query may take the scan path (see the search query).
    unfiltered = not any(filters[1:9])
    rows = await _run(conn, tsquery, filters, unfiltered, viewer, history, patterns)
    if not rows and mode == "auto" and after is None:
        used = "fuzzy"
        tsquery = await fuzzy_query(conn, groups)
        rows = await _run(conn, tsquery, filters, unfiltered, viewer, history, [])
    more = len(rows) > limit
    rows = rows[:limit]
    positive = [a for g in groups for a in g if not a.negated]
    idents = [i for i in (None if a.phrase else ident_of(a.text) for a in positive) if i]
    hits = [_hit(r, idents, [a.text for a in positive]) for r in rows]
    # A page stops at the byte budget like every listing (100 hits with long titles and
    # multi-byte snippets would not); the cursor continues after the last hit kept.
    hits, cut = pagination.fit(hits, lambda h: 100 + len(h.model_dump_json()))
    rows, more = rows[: len(hits)], more or cut
    next_cursor = pagination.encode(used, rows[-1]["rank"], rows[-1]["segment_id"]) if more else None
    return SearchResults(hits=hits, next_cursor=next_cursor, mode=used)


_ONE_LEXEME = re.compile(r"^\(*'((?:[^']|'')+)'\)*$")


async def _run(
    conn: asyncpg.Connection, tsquery: str | None, filters: tuple, unfiltered: bool, viewer: str | None,
    history: bool, patterns: list[str],
) -> list[asyncpg.Record]:
    if tsquery is None:
        return []
    # A pattern is checked on the bitmap path only (the scan path reads in table order
    # until it has enough rows, which a rare pattern would make a full scan).
    one = _ONE_LEXEME.match(tsquery) if unfiltered and not patterns else None
    lexeme = one.group(1).replace("''", "'").replace("\\\\", "\\") if one else None
    cap = PATTERN_CANDIDATES_PER_KIND if patterns else CANDIDATES_PER_KIND
    return await conn.fetch(Q["search"], tsquery, cap, *filters, lexeme, viewer, history, patterns or None)


def _hit(row: asyncpg.Record, idents: list[str], words: list[str]) -> SearchHit:
    snippet = row["snippet"]
    offset = None
    if row["kind"] != "memory":
        body = row["body"]
        # An identifier the parser splits (store.claim_task) is marked whole by hand.
        lowered = body.lower()
        whole = [(lowered.find(i), len(i)) for i in idents if f"**{i}**" not in snippet.lower()]
        found = min((w for w in whole if w[0] >= 0), default=None)
        if found:
            snippet = excerpt(body, *found)
        else:
            found = match_offset(body, snippet, idents + words)
            if found and "**" not in snippet:
                snippet = excerpt(body, *found)
        offset = row["start_char"] + (found[0] if found else 0)
    if len(snippet) > MAX_SNIPPET_CHARS:
        snippet = snippet[:MAX_SNIPPET_CHARS] + "…"
    return SearchHit(
        kind=row["kind"], session_id=row["session_id"], id=row["id"], title=row["title"] or row["id"],
        snippet=snippet, rank=row["rank"], created_by=row["created_by"], created=row["created"], offset=offset,
        version=row["version"], latest_version=row["latest_version"],
    )


async def ensure_config(conn: asyncpg.Connection, config: str) -> bool:
    """Make `config` the text search configuration, reindexing everything if it changes
    (slow on a big database: done once, when a server starts with a new setting).
    Returns whether it changed."""
    try:
        same = await conn.fetchval(Q["search_config_is"], config)
    except asyncpg.UndefinedObjectError:
        raise InvalidInput(
            f"MCP_SESSIONS_SEARCH_CONFIG={config!r} is not a text search configuration of this "
            "PostgreSQL (see \\dF in psql: english, simple, german, ...)"
        ) from None
    if same:
        return False
    async with conn.transaction():
        await conn.execute(Q["search_set_config"], config)
    return True

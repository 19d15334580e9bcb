"""Search benchmark: mcp-sessions (PostgreSQL) vs the old JSON-file scan vs SQLite FTS5.

    python bench/search_bench.py --scale small     # about a minute
    python bench/search_bench.py --scale full      # 200k chunks, 50 chunks of 5-30 MB, 100k memories, 10k artifacts

It generates one corpus (in the old JSON-file layout: a folder per session), loads it
into a fresh PostgreSQL database through the store (so the search triggers index it)
and into SQLite FTS5, then runs a fixed query mix on all three and prints p50/p95/p99
latency per query kind, ingest rate and index size. Text is drawn from a Zipf
distribution over English function words and a generated vocabulary, with planted
rare words, phrases, identifiers and typo targets. Generated data lives under --dir
(default /tmp/mcp-search-bench), never in the repository.

PostgreSQL: MCP_SESSIONS_BENCH_DSN (default postgresql://postgres@127.0.0.1:5432/postgres);
the benchmark creates and keeps a database named search_bench_<scale> there."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SCALES = {
    #          sessions, chunks, big chunks (MB range), memories, artifacts
    "small": dict(sessions=40, chunks=4_000, big=2, big_mb=(5, 8), memories=2_000, artifacts=200),
    "medium": dict(sessions=400, chunks=40_000, big=10, big_mb=(5, 30), memories=20_000, artifacts=2_000),
    "full": dict(sessions=2_000, chunks=200_000, big=50, big_mb=(5, 30), memories=100_000, artifacts=10_000),
}
FUNCTION_WORDS = (
    "the of and to a in is that it for was on are as with be at by this have from or an but not they we "
    "you which one all were there their been has if more when will would who so no can could our what do"
).split()
COMMON = ["system", "data", "change", "agent", "session"]      # planted at high frequency
RARE = ["zyxomatic", "quillbrook", "ravensthorpe", "obsidianite", "marrowgate"]
PHRASES = [("eviction", "storm"), ("lease", "expiry"), ("retry", "budget"), ("cold", "start"), ("write", "skew")]
IDENTS = ["claim_task", "postgres_backend.py", "v2.1.0", "HTTP 503", "FOR UPDATE SKIP LOCKED"]
TYPOS = {"postgress": "postgres", "replicaton": "replication", "migraton": "migration",
         "deadlok": "deadlock", "skip_lock": "skip_locked"}
MEMORY_TYPES = ["idea", "decision", "question", "action_item", "context", "preference", "fact", "risk"]
TAGS = [f"tag{i}" for i in range(20)]
POOL_WORDS = 3_000_000


def vocabulary(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sa", "do", "gri", "bel", "tor", "van",
                 "quo", "ex", "in", "al", "or", "um", "ric", "ent", "ost", "ad"]
    words = set()
    while len(words) < 40_000:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    generated = sorted(words)
    rng.shuffle(generated)
    # Function words first (most frequent), then the common words of the query mix; the
    # words of the phrases and the typo targets get middling ranks (300-1500), like the
    # terms people search for.
    middling = [w for p in PHRASES for w in p] + list(TYPOS.values())
    for i, word in enumerate(middling):
        generated.insert(300 + i * 80, word)
    return FUNCTION_WORDS + COMMON + generated


class TextMaker:
    """Documents cut from a pool of Zipf-distributed words (cheap, same word statistics)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.rng = rng
        vocab = vocabulary(rng)
        weights = list(itertools.accumulate(1 / (r + 1) ** 1.07 for r in range(len(vocab))))
        self.pool = rng.choices(vocab, cum_weights=weights, k=POOL_WORDS)

    def words(self, n: int) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            take = min(n - len(out), self.rng.randint(50, 400))
            at = self.rng.randrange(0, POOL_WORDS - take)
            out.extend(self.pool[at:at + take])
        return out

    def text(self, approx_bytes: int, plant: list[str] = ()) -> str:
        words = self.words(max(1, approx_bytes // 7))
        for token in plant:
            words.insert(self.rng.randrange(len(words) + 1), token)
        for i in range(12, len(words), 13):
            words[i] += "." if i % 3 else ".\n"
        return " ".join(words)


_MAKERS: dict[int, TextMaker] = {}


def _maker() -> TextMaker:
    """One word pool per process (building it takes seconds; sessions only reseed it)."""
    if not _MAKERS:
        _MAKERS[0] = TextMaker(1)
    return _MAKERS[0]


def planted(rng: random.Random, rate: float) -> list[str]:
    """Rare words, phrases and identifiers, each with its own small chance."""
    out = []
    if rng.random() < rate:
        out.append(rng.choice(RARE))
    if rng.random() < rate * 20:
        out.append(" ".join(rng.choice(PHRASES)))
    if rng.random() < rate * 20:
        out.append(rng.choice(IDENTS))
    return out


def generate_session(args: tuple) -> int:
    """Write one session folder; returns its content bytes."""
    root, index, seed, n_chunks, bigs, n_memories, n_artifacts = args
    rng = random.Random(seed)
    maker = _maker()
    maker.rng = random.Random(seed)
    folder = root / f"s{index:05d}"
    (folder / "conversations").mkdir(parents=True)
    (folder / "artifacts").mkdir()
    total = 0
    session = {"id": folder.name, "title": f"Session {index} " + " ".join(maker.words(3)), "participants": ["codex"],
               "status": "active", "created": "2026-11-01T00:00:00+00:00", "last_activity": "2026-11-01T00:00:00+00:00"}
    (folder / "session.json").write_text(json.dumps(session))
    for c in range(n_chunks):
        content = maker.text(rng.randint(1_000, 5_000), planted(rng, 0.0005))
        total += len(content)
        (folder / "conversations" / f"c{c:05d}.json").write_text(
            json.dumps({"content": content, "format": "dialogue", "extracted_items": {}}))
    for b, megabytes in enumerate(bigs):
        # A rare word and a planted phrase as the very last words of every big chunk.
        content = maker.text(int(megabytes * 1024 * 1024), planted(rng, 0.5)) + " final " + RARE[b % len(RARE)]
        total += len(content)
        (folder / "conversations" / f"big{b}.json").write_text(
            json.dumps({"content": content, "format": "transcript", "extracted_items": {}}))
    memories = []
    for m in range(n_memories):
        content = maker.text(rng.randint(80, 600), planted(rng, 0.002))
        total += len(content)
        memories.append({"type": rng.choice(MEMORY_TYPES), "key": "_".join(maker.words(2)) + f"_{m}",
                         "content": content, "tags": rng.sample(TAGS, rng.randint(0, 3))})
    (folder / "memories.json").write_text(json.dumps(memories))
    for a in range(n_artifacts):
        code = rng.random() < 0.4
        body = maker.text(rng.randint(1_000, 20_000), planted(rng, 0.01) + (["claim_task"] if code and a % 5 == 0 else []))
        if code:
            body = "def " + "_".join(maker.words(2)) + "(conn):\n    " + body.replace(". ", "\n    ")
        total += len(body)
        (folder / "artifacts" / f"{folder.name}-a{a}.json").write_text(json.dumps(
            {"type": "code" if code else "document", "name": f"{'_'.join(maker.words(2))}{'.py' if code else '.md'}",
             "content": body, "format": "python" if code else "markdown", "metadata": {}}))
    return total


def spread(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def generate(root: Path, scale: dict, seed: int = 7) -> None:
    marker = root / "COMPLETE"
    if marker.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    rng = random.Random(seed)
    n = scale["sessions"]
    bigs: list[list[float]] = [[] for _ in range(n)]
    for b in range(scale["big"]):
        bigs[rng.randrange(n)].append(rng.uniform(*scale["big_mb"]))
    jobs = [(root, i, seed * 100_003 + i, c, bigs[i], m, a) for i, (c, m, a) in
            enumerate(zip(spread(scale["chunks"], n), spread(scale["memories"], n), spread(scale["artifacts"], n)))]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        total = sum(pool.map(generate_session, jobs, chunksize=4))
    marker.write_text(json.dumps({"chars": total}))
    log(f"generated {total / 1e6:,.0f} M characters in {time.perf_counter() - started:.0f} s")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def corpus(root: Path):
    """Every session folder as (session, chunks, memories, artifacts), read lazily."""
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        session = json.loads((folder / "session.json").read_text())
        chunks = [(p.stem, json.loads(p.read_text())) for p in sorted((folder / "conversations").iterdir())]
        memories = json.loads((folder / "memories.json").read_text())
        artifacts = [(p.stem, json.loads(p.read_text())) for p in sorted((folder / "artifacts").iterdir())]
        yield session, chunks, memories, artifacts


# ---------------------------------------------------------------- query mix

def query_mix(sessions: list[str]) -> dict[str, list[dict]]:
    rng = random.Random(11)
    return {
        "common word": [{"query": w} for w in COMMON],
        "rare word": [{"query": w} for w in RARE],
        "phrase": [{"query": f'"{a} {b}"'} for a, b in PHRASES],
        "identifier": [{"query": i} for i in IDENTS],
        "typo": [{"query": t} for t in TYPOS],
        "filtered": [{"query": w, "session_id": rng.choice(sessions), "kinds": ["memory"],
                      "memory_types": ["decision", "risk"]} for w in COMMON],
    }


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]

    return at(0.50), at(0.95), at(0.99)


# ---------------------------------------------------------------- PostgreSQL

async def pg_load(dsn: str, root: Path, workers: int) -> tuple[float, int]:
    import asyncpg

    from mcp_sessions import migrations
    from mcp_sessions.db import connect
    from mcp_sessions.store import artifacts, chunks, memories, sessions

    admin = await asyncpg.connect(dsn)
    name = f"search_bench_{root.parent.name}"
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    db_dsn = dsn.rsplit("/", 1)[0] + "/" + name
    conn = await connect(db_dsn)
    await migrations.migrate(conn)
    await conn.close()

    folders = iter(corpus(root))
    lock = asyncio.Lock()

    cpu: list[float] = []

    async def worker() -> None:
        c = await connect(db_dsn)
        pid = await c.fetchval("SELECT pg_backend_pid()")
        cpu_before = backend_cpu(pid)
        try:
            while True:
                async with lock:
                    item = await asyncio.to_thread(next, folders, None)
                if item is None:
                    return
                session, chunk_list, memory_list, artifact_list = item
                sid = session["id"]
                # One transaction per session, as an import does (a commit per chunk would
                # measure fsync, not indexing).
                async with c.transaction():
                    await sessions.create(c, title=session["title"], participants=session["participants"],
                                          metadata={}, session_id=sid, agent="bench")
                    for chunk_id, chunk in chunk_list:
                        await chunks.add(c, sid, content=chunk["content"], format=chunk["format"],
                                         chunk_id=chunk_id, extracted_items={}, agent="bench")
                    for m in memory_list:
                        await memories.remember(c, sid, key=m["key"], type=m["type"], content=m["content"],
                                                tags=m["tags"], expected_version=None, agent="bench")
                    for _, a in artifact_list:
                        await artifacts.save(c, sid, name=a["name"], type=a["type"], content=a["content"],
                                             format=a["format"], metadata={}, agent="bench")
        finally:
            if cpu_before is not None:
                cpu.append(backend_cpu(pid) - cpu_before)
            await c.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started  # the typo vocabulary is written with the content
    if len(cpu) == workers:
        # CPU, unlike wall time, holds still on a machine shared with other jobs.
        log(f"PostgreSQL backends used {sum(cpu):.1f} s of CPU for the load ({chars_loaded(root) / 1e6 / sum(cpu):.1f} MB/s)")
    conn = await connect(db_dsn)
    await conn.execute("VACUUM ANALYZE")
    await conn.close()
    return elapsed, await pg_index_size(dsn, root.parent.name)


def backend_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a PostgreSQL backend, when it runs on this machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def chars_loaded(root: Path) -> int:
    return json.loads((root / "COMPLETE").read_text())["chars"]


async def pg_index_size(dsn: str, scale: str) -> int:
    from mcp_sessions.db import connect

    conn = await connect(dsn.rsplit("/", 1)[0] + f"/search_bench_{scale}")
    try:
        return await conn.fetchval(
            "SELECT pg_total_relation_size('search_segments') + pg_total_relation_size('search_vocab')")
    finally:
        await conn.close()


async def pg_queries(dsn: str, root: Path, mix: dict, reps: int) -> dict:
    from mcp_sessions.db import connect
    from mcp_sessions.store import search

    conn = await connect(dsn.rsplit("/", 1)[0] + f"/search_bench_{root.parent.name}")
    out = {}
    try:
        for kind, queries in mix.items():
            samples, hits = [], []
            for _ in range(reps):
                for q in queries:
                    started = time.perf_counter()
                    result = await search.search(conn, limit=20, **q)
                    samples.append(time.perf_counter() - started)
                    hits.append(len(result.hits))
            out[kind] = (samples, hits)
    finally:
        await conn.close()
    return out


# ---------------------------------------------------------------- SQLite FTS5

def sqlite_load(path: Path, root: Path) -> tuple[float, int]:
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body, kind UNINDEXED, session_id UNINDEXED, "
               "doc_id UNINDEXED, memory_type UNINDEXED, tokenize='porter unicode61')")
    started = time.perf_counter()
    for session, chunk_list, memory_list, artifact_list in corpus(root):
        sid = session["id"]
        rows = [(None, c["content"], "chunk", sid, cid, None) for cid, c in chunk_list]
        rows += [(m["key"].replace("_", " "), m["content"], "memory", sid, m["key"], m["type"]) for m in memory_list]
        rows += [(a["name"], a["content"], "artifact", sid, aid, None) for aid, a in artifact_list]
        with db:
            db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?)", rows)
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed, path.stat().st_size


def fts5_query(text: str) -> str:
    """The same words as a safe FTS5 query: each word or phrase quoted."""
    if text.startswith('"'):
        return text
    return " ".join('"' + w.replace('"', '""') + '"' for w in text.split())


def sqlite_queries(path: Path, mix: dict, reps: int) -> dict:
    db = sqlite3.connect(path)
    out = {}
    for kind, queries in mix.items():
        samples, hits = [], []
        for _ in range(reps):
            for q in queries:
                sql = ("SELECT kind, session_id, doc_id, snippet(docs, 1, '**', '**', '...', 20), bm25(docs) "
                       "FROM docs WHERE docs MATCH ?")
                params: list = [fts5_query(q["query"])]
                if "session_id" in q:
                    sql += " AND session_id = ? AND kind = 'memory' AND memory_type IN ('decision', 'risk')"
                    params.append(q["session_id"])
                sql += " ORDER BY bm25(docs) LIMIT 20"
                started = time.perf_counter()
                rows = db.execute(sql, params).fetchall()
                samples.append(time.perf_counter() - started)
                hits.append(len(rows))
        out[kind] = (samples, hits)
    db.close()
    return out


# ---------------------------------------------------------------- JSON files

def json_search(root: Path, q: dict) -> int:
    """What the old store could do: read every file, scan for the words."""
    text = q["query"]
    needles = [text.strip('"').lower()] if text.startswith('"') or " " in text else [text.lower()]
    found: list[tuple[int, str]] = []

    def check(doc_id: str, content: str) -> None:
        lowered = content.lower()
        count = sum(lowered.count(n) for n in needles)
        if count and all(n in lowered for n in needles):
            found.append((count, doc_id))

    folders = [root / q["session_id"]] if "session_id" in q else sorted(p for p in root.iterdir() if p.is_dir())
    for folder in folders:
        if "session_id" not in q:
            for p in (folder / "conversations").iterdir():
                check(p.stem, json.loads(p.read_text())["content"])
            for p in (folder / "artifacts").iterdir():
                a = json.loads(p.read_text())
                check(p.stem, a["name"] + "\n" + a["content"])
        for m in json.loads((folder / "memories.json").read_text()):
            if "memory_types" in q and m["type"] not in q["memory_types"]:
                continue
            check(m["key"], m["key"] + "\n" + m["content"])
    found.sort(reverse=True)
    return len(found[:20])


def json_queries(root: Path, mix: dict, reps: int) -> dict:
    out = {}
    for kind, queries in mix.items():
        samples, hits = [], []
        for r in range(reps):
            q = queries[r % len(queries)]
            started = time.perf_counter()
            hits.append(json_search(root, q))
            samples.append(time.perf_counter() - started)
        out[kind] = (samples, hits)
    return out


# ---------------------------------------------------------------- report

def report(scale_name: str, scale: dict, chars: int, results: dict, loads: dict) -> str:
    mb = chars / 1e6
    lines = [
        f"### Search benchmark, scale `{scale_name}`",
        "",
        f"Corpus: {scale['chunks']:,} chunks of 1-5 KB, {scale['big']} chunks of "
        f"{scale['big_mb'][0]}-{scale['big_mb'][1]} MB, {scale['memories']:,} memories, "
        f"{scale['artifacts']:,} artifacts; {mb:,.0f} MB of text. Machine: {os.cpu_count()} cores.",
        "",
        "| query kind | " + " | ".join(f"{e} p50 / p95 / p99 ms (hits)" for e in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    kinds = next(iter(results.values())).keys()
    for kind in kinds:
        cells = []
        for engine in results:
            samples, hits = results[engine][kind]
            p50, p95, p99 = (s * 1000 for s in percentiles(samples))
            cells.append(f"{p50:,.1f} / {p95:,.1f} / {p99:,.1f} ({statistics.mean(hits):.0f}; n={len(samples)})")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines += ["", "| engine | ingest s | ingest MB/s | index size MB |", "|---|---|---|---|"]
    for engine, (seconds, size) in loads.items():
        rate = f"{mb / seconds:,.1f}" if seconds else "-"
        lines.append(f"| {engine} | {seconds:,.0f} | {rate} | {size / 1e6:,.0f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mcp-search-bench"))
    parser.add_argument("--dsn", default=os.environ.get("MCP_SESSIONS_BENCH_DSN",
                                                       "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--workers", type=int, default=2, help="PostgreSQL loading connections")
    parser.add_argument("--reps", type=int, default=20, help="runs of each query (PostgreSQL, SQLite)")
    parser.add_argument("--json-reps", type=int, default=5, help="runs per query kind of the JSON scan")
    parser.add_argument("--skip-load", action="store_true", help="reuse the loaded databases")
    parser.add_argument("--generate-only", action="store_true", help="only write the corpus")
    args = parser.parse_args()

    scale = SCALES[args.scale]
    root = args.dir / args.scale / "json"
    generate(root, scale)
    chars = json.loads((root / "COMPLETE").read_text())["chars"]
    if args.generate_only:
        return 0
    sqlite_path = args.dir / args.scale / "fts5.db"
    loads: dict = {}
    if not args.skip_load:
        log("loading PostgreSQL")
        loads["mcp-sessions (PostgreSQL)"] = asyncio.run(pg_load(args.dsn, root, args.workers))
        log(f"PostgreSQL loaded in {loads['mcp-sessions (PostgreSQL)'][0]:.0f} s")
        loads["SQLite FTS5"] = sqlite_load(sqlite_path, root)
        log(f"SQLite loaded in {loads['SQLite FTS5'][0]:.0f} s")
        json_size = sum(p.stat().st_size for p in root.rglob("*.json"))
        loads["JSON files"] = (0, json_size)
        (args.dir / args.scale / "loads.json").write_text(json.dumps(loads))
    else:
        loads = json.loads((args.dir / args.scale / "loads.json").read_text())
    # Sizes as they are now (a --skip-load run may follow a VACUUM FULL).
    loads["mcp-sessions (PostgreSQL)"] = (loads["mcp-sessions (PostgreSQL)"][0],
                                          asyncio.run(pg_index_size(args.dsn, args.scale)))
    loads["SQLite FTS5"] = (loads["SQLite FTS5"][0], sqlite_path.stat().st_size)
    mix = query_mix(sorted(p.name for p in root.iterdir() if p.is_dir()))
    results = {}
    log("querying PostgreSQL")
    asyncio.run(pg_queries(args.dsn, root, mix, 1))  # warm the cache
    results["mcp-sessions"] = asyncio.run(pg_queries(args.dsn, root, mix, args.reps))
    log("querying SQLite")
    results["SQLite FTS5"] = sqlite_queries(sqlite_path, mix, args.reps)
    log("querying JSON files")
    results["JSON scan"] = json_queries(root, mix, args.json_reps)
    text = report(args.scale, scale, chars, results, loads)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"search-{args.scale}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

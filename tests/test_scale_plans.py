"""Every listing reads its page off an index range scan, even under a generic plan.

After five executions PostgreSQL may run a prepared statement (asyncpg prepares them
all) with a generic plan, made without the parameters' values. A query written with
`$n IS NULL OR ...` filters then scans a whole session, or every session. These tests
force generic plans on a database large enough that the planner has a choice, and check
each listing, built as the store builds it, walks an index in the page's order."""

from __future__ import annotations

from datetime import datetime, timezone

import asyncpg
import pytest

from mcp_sessions.sql import build

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture
async def big(conn: asyncpg.Connection) -> asyncpg.Connection:
    # 20,000 sessions; one big session of 5,000 memories, tasks, chunks and artifacts among
    # small ones; then ANALYZE, so the plans are the ones a real database gets.
    await conn.execute("""
        INSERT INTO sessions (id, title, participants, status, created_by, last_activity)
        SELECT 's' || i, 'session ' || i, jsonb_build_array('agent' || (i % 10)),
               (ARRAY['active', 'paused', 'completed'])[1 + i % 3], 'x', now() - i * interval '1 second'
        FROM generate_series(1, 20000) i;
        SET session_replication_role = replica;  -- no triggers: activity, search, wake-ups
        INSERT INTO memories (session_id, key, type, content, tags, created_by, updated_by)
        SELECT CASE WHEN i <= 5000 THEN 's1' ELSE 's' || i END, 'k' || i,
               (ARRAY['idea', 'fact', 'risk', 'decision'])[1 + i % 4], '1', ARRAY['t' || (i % 7)], 'x', 'x'
        FROM generate_series(1, 25000) i;
        INSERT INTO tasks (session_id, task_type, status, agent_name, created_by, finished_at)
        SELECT CASE WHEN i <= 5000 THEN 's1' ELSE 's' || i END, 'code',
               CASE WHEN i % 10 = 0 THEN 'pending' ELSE 'completed' END,
               CASE WHEN i % 3 = 0 THEN 'agent' || (i % 10) END, 'x',
               CASE WHEN i % 10 = 0 THEN NULL ELSE now() END
        FROM generate_series(1, 25000) i;
        INSERT INTO conversation_chunks (session_id, chunk_id, content, size, content_sha256, format, created_by)
        SELECT CASE WHEN i <= 5000 THEN 's1' ELSE 's' || i END, 'c' || i, 'x', 1, '\\x00', 'dialogue', 'x'
        FROM generate_series(1, 25000) i;
        INSERT INTO artifacts (session_id, name, version, type, format, content, size, content_sha256, created_by)
        SELECT CASE WHEN i <= 5000 THEN 's1' ELSE 's' || i END, 'a' || (i / 5), i % 5, 'code', 'python', 'x', 1,
               '\\x00', 'x'
        FROM generate_series(1, 25000) i;
        SET session_replication_role = DEFAULT;
        ANALYZE;
    """)
    return conn


async def generic_plan(conn: asyncpg.Connection, query: str, args: list[object]) -> str:
    """The generic plan of the query (EXPLAIN of a statement prepared with no values)."""
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    await conn.execute(f"PREPARE listing AS {query}")
    literals = []
    for value in args:
        text = value
        if isinstance(value, list):
            text = "{" + ",".join(value) + "}"
        elif isinstance(value, datetime):
            text = value.isoformat()
        literals.append("NULL" if text is None else "'" + str(text).replace("'", "''") + "'")
    rows = await conn.fetch(f"EXPLAIN (COSTS OFF) EXECUTE listing({', '.join(literals)})")
    await conn.execute("DEALLOCATE listing")
    await conn.execute("RESET plan_cache_mode")
    return "\n".join(r[0] for r in rows)


def assert_walks(plan: str, indexes: str) -> None:
    # The page's own scan is the plan's first index scan (the counts' subplans follow it).
    first = next(line for line in plan.splitlines() if " using " in line)
    assert first.split(" using ")[1].split(" ")[0] in indexes.split("|"), plan
    # No scan of a whole table, and no bitmap of every match sorted afterwards.
    assert "Seq Scan" not in plan and "Bitmap" not in plan, plan


LISTINGS = [
    # (query, parameters as the store passes them, the index its page walks: either of
    # two when both hold the page's order and the planner weighs them)
    ("session_summaries", {"limit": 51}, "sessions_activity"),
    ("session_summaries", {"limit": 51, "after_at": NOW, "after_id": "s5"}, "sessions_activity"),
    ("session_summaries", {"limit": 51, "status": "paused"}, "sessions_status_activity"),
    ("session_summaries", {"limit": 51, "status": "paused", "after_at": NOW, "after_id": "s5"},
     "sessions_status_activity|sessions_activity"),
    ("session_summaries", {"limit": 51, "participant": "agent3"}, "sessions_activity"),
    ("session_summaries", {"limit": 51, "participant": "agent3", "status": "active", "after_at": NOW,
                           "after_id": "s5"}, "sessions_status_activity|sessions_activity"),
    ("session_summaries", {"limit": 1, "id": "s1"}, "sessions_pkey"),
    ("list_memories", {"session_id": "s1", "limit": 51}, "memories_session_created"),
    ("list_memories", {"session_id": "s1", "limit": 51, "after_at": NOW, "after_key": "k9"},
     "memories_session_created"),
    ("list_memories", {"session_id": "s1", "type": "risk", "limit": 51}, "memories_session_type_created"),
    ("list_memories", {"session_id": "s1", "type": "risk", "after_at": NOW, "after_key": "k9", "limit": 51},
     "memories_session_type_created"),
    ("list_memories", {"session_id": "s1", "tags": ["t3"], "limit": 51}, "memories_session_created"),
    ("list_memories", {"session_id": "s1", "type": "fact", "tags": ["t3"], "limit": 51},
     "memories_session_type_created"),
    ("list_tasks", {"limit": 51}, "tasks_created"),
    ("list_tasks", {"limit": 51, "after_at": NOW, "after_id": "x"}, "tasks_created"),
    ("list_tasks", {"session_id": "s1", "limit": 51}, "tasks_session_created"),
    ("list_tasks", {"session_id": "s1", "status": "completed", "after_at": NOW, "after_id": "x", "limit": 51},
     "tasks_session_created"),
    ("list_tasks", {"status": "pending", "unfinished": True, "limit": 51}, "tasks_unfinished_created"),
    ("list_tasks", {"agent_name": "agent3", "limit": 51}, "tasks_agent_created"),
    ("list_tasks", {"agent_name": "agent3", "status": "completed", "after_at": NOW, "after_id": "x", "limit": 51},
     "tasks_agent_created"),
    ("list_chunks", {"session_id": "s1", "limit": 51}, "conversation_chunks_session_seq"),
    ("list_chunks", {"session_id": "s1", "after_seq": 100, "limit": 51}, "conversation_chunks_session_seq"),
    ("list_artifacts", {"session_id": "s1", "limit": 51}, "artifacts_session_name_latest"),
    ("list_artifacts", {"session_id": "s1", "type": "code", "after_name": "a7", "limit": 51},
     "artifacts_session_name_latest"),
    ("list_artifact_versions", {"session_id": "s1", "name": "a7", "after_version": 1, "limit": 51},
     "artifacts_session_id_name_version_key|artifacts_session_name_latest"),
]


async def test_every_listing_walks_an_index_under_a_generic_plan(big):
    for name, params, index in LISTINGS:
        query, args = build(name, **params)
        plan = await generic_plan(big, query, args)
        try:
            assert_walks(plan, index)
        except AssertionError:
            raise AssertionError(f"{name} {sorted(params)}:\n{plan}") from None


async def test_the_counts_of_a_page_are_read_per_row_in_the_same_query(big):
    query, args = build("session_summaries", limit=51)
    plan = await generic_plan(big, query, args)
    # One statement: the counts are subplans over each session's own index range.
    assert plan.count("SubPlan") == 4 and plan.count("Index Cond: (session_id = s.id)") == 4, plan
    assert "Seq Scan" not in plan, plan

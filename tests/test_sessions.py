"""Session tools through the SDK's client."""

from __future__ import annotations

from tests.conftest import call, call_error


async def test_create_get_and_counts(client):
    created = await call(client, "create_session", title="Cache redesign", participants=["codex", "claude_code", "codex"])
    assert created["participants"] == ["codex", "claude_code"]
    assert created["counts"]["chunks"] == 0
    sid = created["id"]
    await call(client, "add_chunk", session_id=sid, content="hello")
    await call(client, "remember", session_id=sid, key="k", type="fact", content="x")
    await call(client, "create_task", session_id=sid, task_type="code")
    await call(client, "save_artifact", session_id=sid, name="a.md", type="document", content="doc")
    got = await call(client, "get_session", session_id=sid)
    assert got["counts"] == {"chunks": 1, "memories": 1, "artifacts": 1, "tasks": 1, "tasks_by_status": {"pending": 1}}
    # Kept to the second (tests/test_activity.py shows writes advancing it).
    assert got["last_activity"] >= created["last_activity"]


async def test_own_session_id_and_duplicate(client):
    await call(client, "create_session", title="t", session_id="team-2026.q4")
    message = await call_error(client, "create_session", title="t", session_id="team-2026.q4")
    assert "already exists" in message


async def test_update_session(client):
    sid = (await call(client, "create_session", title="t", participants=["a"], metadata={"x": 1, "y": 2}))["id"]
    updated = await call(
        client, "update_session", session_id=sid, title="t2", status="paused",
        add_participants=["b", "a", "b"], metadata={"y": None, "z": 3},
    )
    assert updated["title"] == "t2" and updated["status"] == "paused"
    assert updated["participants"] == ["a", "b"]
    assert updated["metadata"] == {"x": 1, "z": 3}


async def test_list_sessions_pages_without_gaps(client):
    ids = {(await call(client, "create_session", title=f"s{i}", participants=["p"] if i % 2 else []))["id"] for i in range(7)}
    seen, cursor = [], None
    while True:
        page = await call(client, "list_sessions", limit=3, cursor=cursor)
        seen += [s["id"] for s in page["sessions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    only_p = await call(client, "list_sessions", participant="p")
    assert len(only_p["sessions"]) == 3

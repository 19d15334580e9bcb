"""catch_up: the late joiner of issue 15 gets the picture that took 11 calls and ~60 KB in
one call of at most 8 KB, and continues with watch from the cursor it returns."""

from __future__ import annotations

import json

from mcp import Client

from mcp_sessions.server import create_server
from tests.conftest import call, call_error, make_settings, stdio_client

TRANSCRIPT = "\n".join(f"{'lead' if i % 2 else 'dev1'}: step {i} of the payment retry design, " + "details " * 12
                       for i in range(120))


def size(result: dict) -> int:
    """What a client reads: the compact JSON the server returns as the call's text."""
    return len(json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode())


async def build_session(database_url: str) -> str:
    """A session a team worked in for a while: transcripts, memories of every type, tasks
    in every state (one claimed, one blocked), versioned artifacts, messages, reservations."""
    lead = Client(create_server(make_settings(database_url, agent="lead")))
    dev1 = Client(create_server(make_settings(database_url, agent="dev1")))
    async with lead, dev1:
        sid = (await call(lead, "create_session", title="Payment retries", participants=["lead", "dev1", "dev2"]))["id"]
        for i, fmt in enumerate(["transcript", "dialogue", "transcript", "summary"]):
            await call(lead, "add_chunk", session_id=sid, chunk_id=f"day-{i}", format=fmt,
                       content=f"Day {i}: retry design discussion\n" + TRANSCRIPT)
        kinds = ["decision", "action_item", "risk", "question", "context", "fact", "idea", "preference"]
        for i in range(14):
            await call(lead, "remember", session_id=sid, key=f"m{i:02d}-{kinds[i % 8]}", type=kinds[i % 8],
                       content={"text": f"point {i}: " + "we agreed on exponential backoff with jitter " * 8})
        ids = []
        for i in range(8):
            ids.append((await call(lead, "create_task", session_id=sid, task_type="code", title=f"retry step {i}",
                                   input_data={"spec": "x" * 2000}))["id"])
        blocked = await call(lead, "create_task", session_id=sid, task_type="analysis", title="review the retries",
                             depends_on=ids[6:])
        for _ in range(3):
            claim = (await call(dev1, "claim_task", session_id=sid))["task"]
            await call(dev1, "complete_task", task_id=claim["id"], claim_token=claim["claim_token"],
                       output_data={"log": "y" * 3000})
        await call(dev1, "claim_task", session_id=sid)  # held by dev1
        for name, versions in [("design.md", 3), ("api.py", 2), ("runbook.md", 1)]:
            for v in range(versions):
                await call(lead, "save_artifact", session_id=sid, name=name, type="document",
                           content=f"# {name} v{v}\n" + "spec text " * 600)
        await call(lead, "send_message", session_id=sid, subject="welcome dev2", to=["dev2"], body="start with catch_up")
        await call(lead, "send_message", session_id=sid, subject="freeze on Friday", body="no merges after 5pm",
                   importance="high")
        await call(dev1, "reserve", session_id=sid, paths=["src/payments/**"], reason="retry loop")
        assert blocked["blocked_by"] == 2
    return sid


async def test_the_late_joiner_gets_the_session_in_one_call_under_8_kb(database_url):
    sid = await build_session(database_url)
    async with stdio_client(database_url, agent="dev2") as dev2:
        # Before: the calls a late joiner needed to piece the session together.
        first = await call(dev2, "list_tasks", session_id=sid)
        before = [
            await call(dev2, "list_sessions"), await call(dev2, "get_session", session_id=sid),
            await call(dev2, "list_memories", session_id=sid), first,
            await call(dev2, "list_artifacts", session_id=sid),
            await call(dev2, "get_artifact", session_id=sid, name="design.md"),
            await call(dev2, "list_chunks", session_id=sid),
            await call(dev2, "get_chunk", session_id=sid, chunk_id="day-3"),
            await call(dev2, "get_chunk", session_id=sid, chunk_id="day-2"),
            await call(dev2, "get_task", task_id=first["tasks"][-1]["id"]),
            await call(dev2, "list_agents"),
        ]
        old_bytes = sum(size(r) for r in before)

        digest = await call(dev2, "catch_up", session_id=sid)
        new_bytes = size(digest)
        print(f"\nlate joiner: 11 calls, {old_bytes:,} bytes before; catch_up: 1 call, {new_bytes:,} bytes")
        assert new_bytes <= 8 * 1024 < old_bytes

        assert digest["session"]["title"] == "Payment retries"
        people = {p["name"]: p for p in digest["participants"]["items"]}
        assert {"lead", "dev1", "dev2"} <= set(people) and people["dev1"]["alive"]
        tasks = digest["tasks"]
        assert tasks["counts"] == {"completed": 3, "claimed": 1, "pending": 5}
        assert tasks["open"][0]["status"] == "claimed" and tasks["open"][0]["holder"] == "dev1"
        assert any(t["title"] == "review the retries" and t["blocked_by"] == 2 for t in tasks["open"])
        assert len(tasks["open"]) + tasks["more"] == 6 and "list_tasks" in tasks["rest"]
        memories = digest["memories"]
        order = [m["type"] for m in memories["items"]]
        assert order[:4] == ["decision", "decision", "action_item", "action_item"]
        assert set(order[:8]) == {"decision", "action_item", "risk", "question"}
        assert all(len(m["preview"]) <= 200 for m in memories["items"])
        assert len(memories["items"]) + memories["more"] == 14 and "list_memories" in memories["rest"]
        latest = {a["name"]: a["version"] for a in digest["artifacts"]["items"]}
        assert latest == {"design.md": 3, "api.py": 2, "runbook.md": 1}
        chunks = digest["chunks"]
        assert [c["chunk_id"] for c in chunks["items"]] == ["day-3", "day-2", "day-1", "day-0"]
        assert chunks["items"][0]["first_line"] == "Day 3: retry design discussion"
        assert digest["inbox"]["unread"] == 2
        assert [m["subject"] for m in digest["inbox"]["latest"]] == ["freeze on Friday", "welcome dev2"]
        (held,) = digest["reservations"]["items"]
        assert held["agent"] == "dev1" and held["paths"] == ["src/payments/**"] and held["reason"] == "retry loop"

        # catch_up reads: the messages stay unread; and watch continues from its cursor.
        assert len((await call(dev2, "read_inbox", session_id=sid))["messages"]) == 2
        await call(dev2, "remember", session_id=sid, key="joined", type="fact", content="dev2 is here")
        page = await call(dev2, "watch", session_id=sid, after=digest["cursor"])
        assert [e["kind"] for e in page["events"] if e["agent"] == "dev2"][-1:] == ["memory.set"]
        assert "[not_found]" in await call_error(dev2, "catch_up", session_id="nope")


async def test_a_huge_session_still_fits(client):
    """Long titles, keys, paths and many rows of each kind: the lists shrink, the counts say how many more."""
    sid = (await call(client, "create_session", title="t" * 500))["id"]
    for i in range(30):
        await call(client, "create_task", session_id=sid, task_type="code", title=f"{i}" + "x" * 490)
        await call(client, "remember", session_id=sid, key=f"k{i}-" + "y" * 190, type="decision", content="z" * 900)
        await call(client, "save_artifact", session_id=sid, name=f"a{i}-" + "n" * 190, type="code", content="c")
    await call(client, "reserve", session_id=sid, paths=[f"dir{i}/" + "p" * 400 for i in range(100)], reason="r" * 500)
    digest = await call(client, "catch_up", session_id=sid)
    assert size(digest) <= 8 * 1024
    assert len(digest["tasks"]["open"]) + digest["tasks"]["more"] == 30
    assert len(digest["memories"]["items"]) + digest["memories"]["more"] == 30
    assert len(digest["artifacts"]["items"]) + digest["artifacts"]["more"] == 30
    assert digest["reservations"]["items"][0]["paths"][-1] == "… 95 more"

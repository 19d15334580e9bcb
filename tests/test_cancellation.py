"""A client's notifications/cancelled stops a waiting call at once and frees what it
holds; large writes report progress when the client asks for it."""

from __future__ import annotations

import anyio

from tests.conftest import call, stdio_client


async def test_a_cancelled_claim_stops_waiting_and_takes_its_registration_back(database_url, conn):
    async with stdio_client(database_url, agent="worker") as client:
        sid = (await call(client, "create_session", title="cancel"))["id"]
        with anyio.move_on_after(1.0):  # the client gives up: it sends notifications/cancelled
            await client.call_tool("claim_task", {"session_id": sid, "wait_seconds": 120})
        with anyio.fail_after(3):  # long before the 120 s wait (or the 5 s poll) would end
            while await conn.fetchval("SELECT count(*) FROM task_waiters"):
                await anyio.sleep(0.02)
        # A task created now is not handed to the claimer that left: it waits for the next one.
        await call(client, "create_task", session_id=sid, task_type="code")
        assert (await call(client, "list_tasks", session_id=sid, status="pending"))["tasks"]
        with anyio.move_on_after(1.0):
            await client.call_tool("watch", {"session_id": sid, "wait_seconds": 120})
        assert (await call(client, "get_session", session_id=sid))["id"] == sid  # the server serves on


async def test_large_writes_report_progress_when_asked(database_url):
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    async with stdio_client(database_url) as client:
        sid = (await call(client, "create_session", title="progress"))["id"]
        content = "word " * 200_000
        result = await client.call_tool("add_chunk", {"session_id": sid, "content": content},
                                        progress_callback=progress)
        assert not result.is_error
        with anyio.fail_after(5):
            while len(seen) < 2:
                await anyio.sleep(0.02)
        assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1] == len(content)
        assert "1,000,000 characters" in seen[0][2]

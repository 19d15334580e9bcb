"""Messages: send, read (newest first, marked read), threads, acknowledgements; a
waiting read_inbox woken across processes; a direct message invisible to a third agent
over HTTP (read_inbox, watch, search); messages in archives and search."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager

import anyio
from mcp import Client

from mcp_sessions.server import create_server
from mcp_sessions.store import tokens
from tests.conftest import call, call_error, make_settings, stdio_client
from tests.http_support import http_client, http_server

POLL = 5.0  # the listener's fallback poll: a wait that returns sooner was woken by NOTIFY


@asynccontextmanager
async def agents(database_url: str, *names: str):
    """In-memory clients, one per agent name, on this test's database."""
    clients = []
    try:
        for name in names:
            c = Client(create_server(make_settings(database_url, agent=name)))
            clients.append(await c.__aenter__())
        yield clients
    finally:
        for c in reversed(clients):
            await c.__aexit__(None, None, None)


async def test_direct_and_broadcast_messages_threads_and_acks(database_url):
    async with agents(database_url, "lead", "dev", "qa") as (lead, dev, qa):
        sid = (await call(lead, "create_session", title="team", participants=["lead", "dev", "qa"]))["id"]
        hello = await call(lead, "send_message", session_id=sid, body="standup at 10", subject="standup")
        assert hello["to"] is None and hello["thread_id"] == hello["id"] and hello["sender"] == "lead"
        direct = await call(lead, "send_message", session_id=sid, to=["dev"], subject="queue bug",
                            body="please look at the claim path", importance="high", ack_required=True)
        assert direct["awaiting_ack"] == ["dev"] and direct["acked_by"] == []

        inbox = await call(dev, "read_inbox", session_id=sid)
        assert [m["subject"] for m in inbox["messages"]] == ["queue bug", "standup"]  # newest first
        assert all(m["read_at"] is None for m in inbox["messages"])  # as they were before this read
        assert (await call(dev, "read_inbox", session_id=sid))["messages"] == []  # now read
        # qa gets the broadcast only; the sender never gets its own message as unread.
        assert [m["subject"] for m in (await call(qa, "read_inbox"))["messages"]] == ["standup"]
        assert (await call(lead, "read_inbox", session_id=sid))["messages"] == []

        # A reply continues the thread; naming any message of the thread works.
        reply = await call(dev, "send_message", session_id=sid, to=["lead"], thread_id=direct["id"], body="on it")
        assert reply["thread_id"] == direct["thread_id"] == direct["id"]
        # Acknowledgement: the sender sees who has and who has not.
        acked = await call(dev, "ack_message", message_id=direct["id"])
        assert acked["acked_at"] is not None and [a["agent"] for a in acked["acked_by"]] == ["dev"]
        assert acked["awaiting_ack"] == []
        mine = await call(lead, "read_inbox", session_id=sid, unread_only=False)
        sent = next(m for m in mine["messages"] if m["id"] == direct["id"])
        assert [a["agent"] for a in sent["acked_by"]] == ["dev"] and sent["awaiting_ack"] == []
        assert [m["body"] for m in mine["messages"]][:1] == ["on it"]
        ask_all = await call(lead, "send_message", session_id=sid, body="ack please", ack_required=True)
        assert ask_all["awaiting_ack"] == ["dev", "qa"]
        await call(qa, "ack_message", message_id=ask_all["id"])
        (again,) = [m for m in (await call(lead, "read_inbox", unread_only=False, limit=1))["messages"]]
        assert again["id"] == ask_all["id"] and again["awaiting_ack"] == ["dev"]

        # Clear errors.
        assert "[invalid_input]" in await call_error(lead, "ack_message", message_id=ask_all["id"])  # its sender
        assert "asks for no acknowledgement" in await call_error(dev, "ack_message", message_id=hello["id"])
        assert "[not_found]" in await call_error(qa, "ack_message", message_id=direct["id"])  # not for qa
        assert "[not_found]" in await call_error(dev, "send_message", session_id=sid, body="x", thread_id="nope")
        assert "[not_found]" in await call_error(dev, "send_message", session_id="nope", body="x")
        too_big = await call_error(dev, "send_message", session_id=sid, body="é" * 40_000)
        assert "[invalid_input]" in too_big and "64 KiB" in too_big
        assert "[invalid_input]" in await call_error(dev, "send_message", session_id=sid, body="x", importance="meh")


async def test_inbox_pages_with_a_cursor(database_url):
    async with agents(database_url, "lead", "dev") as (lead, dev):
        sid = (await call(lead, "create_session", title="paging"))["id"]
        for i in range(5):
            await call(lead, "send_message", session_id=sid, to=["dev"], body=f"m{i}")
        first = await call(dev, "read_inbox", session_id=sid, unread_only=False, limit=2)
        second = await call(dev, "read_inbox", session_id=sid, unread_only=False, limit=2, cursor=first["next_cursor"])
        third = await call(dev, "read_inbox", session_id=sid, unread_only=False, limit=2, cursor=second["next_cursor"])
        bodies = [m["body"] for page in (first, second, third) for m in page["messages"]]
        assert bodies == ["m4", "m3", "m2", "m1", "m0"] and third["next_cursor"] is None
        assert "cursor is malformed" in await call_error(dev, "read_inbox", cursor="xx")


async def test_a_message_is_an_event_and_searchable(database_url):
    async with agents(database_url, "lead", "dev") as (lead, dev):
        sid = (await call(lead, "create_session", title="events"))["id"]
        start = (await call(dev, "watch", session_id=sid))["next_after"]
        sent = await call(lead, "send_message", session_id=sid, to=["dev"], subject="flaky test",
                          body="the zanzibar fixture leaks connections")
        (event,) = (await call(dev, "watch", session_id=sid, after=start))["events"]
        assert event["kind"] == "message.sent" and event["refs"]["message_id"] == sent["id"]
        assert "zanzibar" not in event["summary"] and "flaky test" in event["summary"]
        hits = (await call(dev, "search", query="zanzibar"))["hits"]
        assert [(h["kind"], h["id"]) for h in hits] == [("message", sent["id"])]
        assert (await call(dev, "search", query="zanzibar", kinds=["chunk"]))["hits"] == []


async def test_read_inbox_is_woken_across_processes(database_url):
    """A read_inbox waiting in one server process returns when another process sends it a
    message, well before the fallback poll; a message for someone else doesn't wake it with a result."""
    async with stdio_client(database_url, agent="lead") as lead, stdio_client(database_url, agent="dev") as dev:
        sid = (await call(lead, "create_session", title="wake"))["id"]
        got = {}

        async def waiter():
            started = time.monotonic()
            got["inbox"] = await call(dev, "read_inbox", session_id=sid, wait_seconds=30)
            got["seconds"] = time.monotonic() - started

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.sleep(0.8)
            await call(lead, "send_message", session_id=sid, to=["qa"], body="not for dev")
            await anyio.sleep(0.3)
            assert "inbox" not in got
            await call(lead, "send_message", session_id=sid, to=["dev"], body="for dev")
        assert [m["body"] for m in got["inbox"]["messages"]] == ["for dev"]
        assert got["seconds"] < POLL


async def test_a_direct_message_is_invisible_to_a_third_agent_over_http(database_url, conn):
    _, alice = await tokens.create(conn, "alice")
    _, bob = await tokens.create(conn, "bob")
    _, eve = await tokens.create(conn, "eve")
    async with http_server(database_url) as server:
        async with http_client(server.url, alice) as a, http_client(server.url, bob) as b, \
                http_client(server.url, eve) as e:
            sid = (await call(a, "create_session", title="private", participants=["alice", "bob", "eve"]))["id"]
            start = (await call(e, "watch", session_id=sid))["next_after"]
            secret = await call(a, "send_message", session_id=sid, to=["bob"], subject="salary review",
                                body="the quokka budget is private")
            public = await call(a, "send_message", session_id=sid, subject="lunch", body="quokka pizza for all")
            # bob (recipient) and alice (sender) see it; eve sees only the broadcast.
            assert [m["id"] for m in (await call(b, "read_inbox", session_id=sid))["messages"]] == [
                public["id"], secret["id"]]
            assert [m["id"] for m in (await call(e, "read_inbox", session_id=sid, unread_only=False))["messages"]] == [
                public["id"]]
            assert secret["id"] in [m["id"] for m in (await call(a, "read_inbox", unread_only=False))["messages"]]
            # watch: eve gets the broadcast's event only.
            seen = (await call(e, "watch", session_id=sid, after=start))["events"]
            assert [ev["refs"]["message_id"] for ev in seen] == [public["id"]]
            assert not any("salary" in ev["summary"] for ev in seen)
            assert len((await call(b, "watch", session_id=sid, after=start))["events"]) == 2
            # search: eve can't find it, bob can.
            assert [h["id"] for h in (await call(e, "search", query="quokka"))["hits"]] == [public["id"]]
            assert {h["id"] for h in (await call(b, "search", query="quokka"))["hits"]} == {public["id"], secret["id"]}
            # nor reply into its thread, nor acknowledge it
            assert "[not_found]" in await call_error(e, "send_message", session_id=sid, body="x", thread_id=secret["id"])


async def test_messages_stay_searchable_after_the_search_configuration_changes(client, conn):
    sid = (await call(client, "create_session", title="reindex"))["id"]
    sent = await call(client, "send_message", session_id=sid, to=["dev"], body="the wombat migration runs tonight")
    async with conn.transaction():
        await conn.execute("SELECT search_set_config('simple')")  # deletes every segment, rebuilds them
    assert await conn.fetchval("SELECT count(*) FROM search_segments WHERE kind = 'message'") == 1
    assert await conn.fetchval(
        "SELECT visible_to FROM search_segments WHERE kind = 'message' AND doc_id = $1", sent["id"]) == ["tester", "dev"]
    assert [h["id"] for h in (await call(client, "search", query="wombat"))["hits"]] == [sent["id"]]

"""MCP resources, live subscriptions and prompts: templates under mcp-sessions://, recent
sessions as resources/list, resource-updated notifications fed by the event feed for
both ways of subscribing (subscriptions/listen, resources/subscribe), across processes
and from psql."""

from __future__ import annotations

import json

import anyio
import mcp.types as types
import pytest
from mcp import Client

from mcp_sessions.resources import uris
from tests.conftest import call, server_params, stdio_client

WITHIN = 10.0  # generous: a notification that comes at all came from the feed (no polling)


async def text(client: Client, uri: str) -> str:
    result = await client.read_resource(uri)
    return result.contents[0].text


async def test_templates_read_and_list(client):
    templates = {t.uri_template: t for t in (await client.list_resource_templates()).resource_templates}
    assert set(templates) == {uris.SESSION, uris.MEMORY, uris.ARTIFACT, uris.ARTIFACT_VERSION, uris.CHUNK, uris.TASK}
    assert all(t.title and t.mime_type for t in templates.values())

    sid = (await call(client, "create_session", title="resources"))["id"]
    await call(client, "remember", session_id=sid, key="db/choice", type="decision", content={"pick": "pg"})
    await call(client, "save_artifact", session_id=sid, name="docs/plan.md", type="document", content="v1")
    await call(client, "save_artifact", session_id=sid, name="docs/plan.md", type="document", content="v2")
    await call(client, "add_chunk", session_id=sid, chunk_id="c1", content="x" * 100_000 + "END", format="transcript")
    task = await call(client, "create_task", session_id=sid, task_type="code", title="build")

    digest = json.loads(await text(client, uris.session(sid)))
    assert digest["session"]["id"] == sid and digest["cursor"]
    assert json.loads(await text(client, uris.memory(sid, "db/choice")))["content"] == {"pick": "pg"}
    assert await text(client, uris.artifact(sid, "docs/plan.md")) == "v2"
    assert await text(client, uris.artifact(sid, "docs/plan.md", 1)) == "v1"
    big = await text(client, uris.chunk(sid, "c1"))
    assert "END" not in big and "read the rest with get_chunk" in big and len(big) < 100_000
    assert json.loads(await text(client, uris.task(sid, task["id"])))["title"] == "build"

    listed = (await client.list_resources()).resources
    assert uris.session(sid) in [str(r.uri) for r in listed]
    assert [r.title for r in listed if str(r.uri) == uris.session(sid)] == ["resources"]


async def test_tool_results_link_to_their_resources(client):
    sid = (await call(client, "create_session", title="links"))["id"]
    saved = await client.call_tool("save_artifact", {"session_id": sid, "name": "a.md", "type": "document",
                                                     "content": "findable words"})
    links = [c for c in saved.content if c.type == "resource_link"]
    assert [str(link.uri) for link in links] == [uris.artifact(sid, "a.md", 1)]
    assert await text(client, str(links[0].uri)) == "findable words"
    found = await client.call_tool("search", {"query": "findable", "session_id": sid})
    assert uris.artifact(sid, "a.md", 1) in [str(c.uri) for c in found.content if c.type == "resource_link"]


async def test_reading_what_is_not_there_is_a_clear_error(client):
    sid = (await call(client, "create_session", title="missing"))["id"]
    with pytest.raises(Exception) as exc:
        await client.read_resource(uris.memory(sid, "nope"))
    assert "nope" in str(exc.value) and "Traceback" not in str(exc.value)


async def test_resources_list_pages(client):
    for i in range(55):
        await call(client, "create_session", title=f"s{i}")
    first = await client.list_resources()
    assert len(first.resources) == 50 and first.next_cursor
    second = await client.list_resources(cursor=first.next_cursor)
    assert len(second.resources) == 5 and not {r.uri for r in first.resources} & {r.uri for r in second.resources}


async def test_prompts_are_filled_with_real_data(client):
    sid = (await call(client, "create_session", title="prompted"))["id"]
    await call(client, "create_task", session_id=sid, task_type="research", title="survey")
    prompts = {p.name for p in (await client.list_prompts()).prompts}
    assert prompts == {"join_session", "handoff", "work_queue"}
    join = (await client.get_prompt("join_session", {"session_id": sid})).messages[0].content.text
    assert "prompted" in join and "survey" in join and f'after="' in join
    hand = (await client.get_prompt("handoff", {"session_id": sid, "to_agent": "codex"})).messages[0].content.text
    assert 'to=["codex"]' in hand and sid in hand
    queue = (await client.get_prompt("work_queue", {"task_types": "research"})).messages[0].content.text
    assert "1 research" in queue and "claim_task(wait_seconds=60, task_types=['research'])" in queue


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_legacy_subscription_is_notified_of_a_write_in_another_process(database_url):
    """resources/subscribe over stdio (initialize handshake); the write goes through a
    second server process, then through psql."""
    got: list[str] = []

    async def on_message(message) -> None:
        note = getattr(message, "root", message)
        if isinstance(note, types.ResourceUpdatedNotification):
            got.append(str(note.params.uri))

    async with Client(server_params(database_url, agent="reader"), mode="legacy", message_handler=on_message) as reader, \
            stdio_client(database_url, agent="writer") as writer:
        sid = (await call(writer, "create_session", title="live"))["id"]
        await reader.session.subscribe_resource(uris.memory(sid, "k"))
        await reader.session.subscribe_resource(uris.session(sid))
        await call(writer, "remember", session_id=sid, key="k", type="fact", content=1)
        with anyio.fail_after(WITHIN):
            while not {uris.memory(sid, "k"), uris.session(sid)} <= set(got):
                await anyio.sleep(0.01)
        # A memory nobody subscribed to changes the digest only.
        got.clear()
        await call(writer, "remember", session_id=sid, key="other", type="fact", content=1)
        with anyio.fail_after(WITHIN):
            while uris.session(sid) not in got:
                await anyio.sleep(0.01)
        assert uris.memory(sid, "other") not in got


async def test_listen_subscription_is_notified_from_psql(database_url, conn):
    """subscriptions/listen (2026-07-28) over stdio; the change is made in psql."""
    async with stdio_client(database_url, agent="reader") as reader:
        sid = (await call(reader, "create_session", title="listen"))["id"]
        uri = uris.memory(sid, "from-psql")
        async with reader.listen(resource_subscriptions=[uri, uris.session(sid)]) as sub:
            await conn.execute(
                "INSERT INTO memories (session_id, key, type, content, created_by, updated_by) "
                "VALUES ($1, 'from-psql', 'fact', '1', 'dba', 'dba')", sid)
            seen = set()
            with anyio.fail_after(WITHIN):
                async for event in sub:
                    seen.add(getattr(event, "uri", None))
                    if {uri, uris.session(sid)} <= seen:
                        break


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_subscribe_over_http_points_at_listen(database_url):
    from tests.http_support import http_client, http_server

    async with http_server(database_url, MCP_SESSIONS_HTTP_AUTH="none") as server:
        async with http_client(server.url, None, mode="legacy") as client:
            with pytest.raises(Exception) as exc:
                await client.session.subscribe_resource("mcp-sessions://sessions/x")
            assert "subscriptions/listen" in str(exc.value)


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_subscriptions_survive_the_listen_connection_dropping(database_url, conn):
    """The process's LISTEN connection is killed: it comes back (a new backend LISTENs on
    the same channel) and a change made in psql still reaches the subscriber; a session
    created in psql is a resources list change."""
    updated: list[str] = []
    list_changed: list[bool] = []

    async def on_message(message) -> None:
        note = getattr(message, "root", message)
        if isinstance(note, types.ResourceUpdatedNotification):
            updated.append(str(note.params.uri))
        elif isinstance(note, types.ResourceListChangedNotification):
            list_changed.append(True)

    async def listen_pid(channel: str) -> int | None:
        return await conn.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()", f'LISTEN "{channel}"')

    async with Client(server_params(database_url, agent="reader"), mode="legacy", message_handler=on_message) as reader:
        sid = (await call(reader, "create_session", title="drop"))["id"]
        await reader.session.subscribe_resource(uris.session(sid))
        with anyio.fail_after(WITHIN):
            while (channel := await conn.fetchval(
                    "SELECT channel FROM event_listeners WHERE session_id = '*'")) is None:
                await anyio.sleep(0.02)
        old = await listen_pid(channel)
        assert old is not None and await conn.fetchval("SELECT pg_terminate_backend($1)", old)
        with anyio.fail_after(WITHIN):
            while (new := await listen_pid(channel)) in (None, old):
                await anyio.sleep(0.05)
        updated.clear()
        await conn.execute("INSERT INTO memories (session_id, key, type, content, created_by, updated_by) "
                           "VALUES ($1, 'after-drop', 'fact', '1', 'dba', 'dba')", sid)
        with anyio.fail_after(WITHIN):
            while uris.session(sid) not in updated:
                await anyio.sleep(0.01)
        await conn.execute("INSERT INTO sessions (id, title, created_by) VALUES ('made-in-psql', 't', 'dba')")
        with anyio.fail_after(WITHIN):
            while not list_changed:
                await anyio.sleep(0.01)
    assert new != old

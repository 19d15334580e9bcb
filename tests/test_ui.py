"""The dashboard (/ui/) over real HTTP against a real server: operator sign-in, CSRF on
every action, actions recorded with who did them, every page rendering, and live
updates pushed by the event feed (server-sent events). Browser tests: test_ui_browser.py."""

from __future__ import annotations

import re
import time

import anyio
import httpx2
import pytest

from mcp_sessions.store import tokens
from tests.conftest import call
from tests.http_support import http_client, http_server, raw_post

pytestmark = pytest.mark.anyio

WITHIN = 10.0  # generous: a `changed` that comes at all came from the feed (nothing polls)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def seed(url: str, token: str) -> dict[str, str]:
    async with http_client(url, token) as client:
        s = (await call(client, "create_session", title="Dashboard demo", participants=["codex"]))["id"]
        task = (await call(client, "create_task", session_id=s, task_type="code", title="Write the ledger"))["id"]
        await call(client, "remember", session_id=s, key="db", type="decision", content="PostgreSQL")
        await call(client, "save_artifact", session_id=s, name="plan.md", type="document", format="markdown",
                   content="# Plan\none\ntwo\n")
        await call(client, "save_artifact", session_id=s, name="plan.md", type="document", format="markdown",
                   content="# Plan\none\ntwo, better\nthree\n")
        await call(client, "add_chunk", session_id=s, content="We chose the ledger table for idempotency keys.")
        await call(client, "send_message", session_id=s, body="starting on the ledger", subject="hello")
    return {"session": s, "task": task}


async def test_operator_sign_in_csrf_and_actions(database_url, conn):
    _, agent_token = await tokens.create(conn, "codex")
    _, operator_token = await tokens.create(conn, "alice", operator=True)
    async with http_server(database_url) as server:
        ids = await seed(server.url, agent_token)
        ui = server.base + "/ui"
        async with httpx2.AsyncClient(base_url=server.base) as http:
            # Signed out: every page leads to the sign-in page, fragments and actions are refused.
            r = await http.get("/ui/")
            assert r.status_code == 303 and r.headers["location"] == "/ui/signin"
            assert (await http.get(f"/ui/s/{ids['session']}/board", headers={"HX-Request": "true"})).status_code == 401
            page = await http.get("/ui/signin")
            assert page.status_code == 200 and "operator token" in page.text
            csrf = CSRF.search(page.text)[1]
            cookie = page.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
            # An agent's token does not sign in; an operator's does (HttpOnly, SameSite=Strict).
            r = await http.post("/ui/signin", data={"token": agent_token, "csrf": csrf})
            assert r.status_code == 401 and "agent" in r.text
            r = await http.post("/ui/signin", data={"token": operator_token, "csrf": csrf})
            assert r.status_code == 303
            set_cookie = r.headers["set-cookie"]
            assert "mcps_operator=" in set_cookie and "HttpOnly" in set_cookie
            assert "samesite=strict" in set_cookie.lower()
            page = await http.get("/ui/")
            assert page.status_code == 200 and "Dashboard demo" in page.text and "alice" in page.text
            # An action without its CSRF token is refused and changes nothing.
            action = f"/ui/s/{ids['session']}/tasks/{ids['task']}/cancel"
            r = await http.post(action, data={})
            assert r.status_code == 403
            r = await http.post(action, data={"csrf": "forged" * 8})
            assert r.status_code == 403
            # With it, the task is cancelled, and the event names the operator.
            r = await http.post(action, data={"csrf": csrf})
            assert r.status_code == 303
            status = await http.post(f"/ui/s/{ids['session']}/status", data={"csrf": csrf, "status": "paused"})
            assert status.status_code == 303
            sent = await http.post(f"/ui/s/{ids['session']}/message", data={"csrf": csrf, "body": "please stop"})
            assert sent.status_code == 303
            page = await http.get(f"/ui/s/{ids['session']}")
            assert "please stop" in page.text and "operator:alice" in page.text
        # The operator's token is not an agent's: /mcp refuses it.
        r = await raw_post(server.url, f"Bearer {operator_token}", {"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert r.status_code == 401
        async with http_client(server.url, agent_token) as client:
            task = await call(client, "get_task", task_id=ids["task"])
            assert task["status"] == "cancelled"
            assert "operator:alice" in str(task)
            session = await call(client, "get_session", session_id=ids["session"])
            assert session["status"] == "paused"
        assert ui


async def test_every_page_renders_and_the_board_is_pushed_live(database_url, conn):
    _, agent_token = await tokens.create(conn, "codex")
    async with http_server(database_url, MCP_SESSIONS_HTTP_AUTH="none") as server:
        ids = await seed(server.url, None)
        s = ids["session"]
        async with httpx2.AsyncClient(base_url=server.base) as http:
            pages = {
                "/ui/": "Dashboard demo",
                "/ui/?q=ledger": "<mark>",
                f"/ui/s/{s}": "Write the ledger",
                f"/ui/s/{s}/chunks?hit=": "idempotency",
                f"/ui/s/{s}/artifacts/plan.md?a=1&b=2": '<table class="diff"',
                f"/ui/s/{s}/events": "session.created",
                f"/ui/s/{s}/events?before=99999999999-1": "task.created",
                "/ui/agents": "Agents",
                "/ui/queue": "Oldest waiting",
                "/ui/queue/data": '"series"',
            }
            for path, expected in pages.items():
                r = await http.get(path)
                assert r.status_code == 200, (path, r.text[:300])
                assert expected in r.text, path
            # A search hit in a chunk opens the chunk's page with the match marked.
            r = await http.get("/ui/?q=idempotency")
            link = re.search(r'href="(/ui/s/[^"]+/chunks\?[^"]+)"', r.text)[1].replace("&amp;", "&")
            r = await http.get(link)
            assert '<mark id="hit">idempotency' in r.text.replace("Idempotency", "idempotency")
            # Live: the session's stream says `changed` within a second of a write by an agent.
            async with http.stream("GET", f"/ui/s/{s}/live") as stream:
                lines = stream.aiter_lines()
                first = [await lines.__anext__() for _ in range(3)]
                assert "event: changed" in first
                async with http_client(server.url, None) as client:
                    started = time.monotonic()
                    await call(client, "create_task", session_id=s, task_type="code", title="Pushed live")
                with anyio.fail_after(1.0):
                    async for line in lines:
                        if line.startswith("event: changed"):
                            break
                latency = time.monotonic() - started
            assert latency < 1.0
            board = await http.get(f"/ui/s/{s}/board", headers={"HX-Request": "true"})
            assert "Pushed live" in board.text
            # The sessions list reloads its table from the feed of every session: a session
            # an agent creates says `changed` on /ui/live and is in the table reloaded then.
            listing = await http.get("/ui/?status=active")
            assert 'sse-connect="/ui/live"' in listing.text and 'hx-get="/ui/sessions?status=active"' in listing.text
            async with http.stream("GET", "/ui/live") as stream:
                lines = stream.aiter_lines()
                assert "event: changed" in [await lines.__anext__() for _ in range(3)]
                async with http_client(server.url, None) as client:
                    await call(client, "create_session", title="Appeared live")
                with anyio.fail_after(WITHIN):
                    async for line in lines:
                        if line.startswith("event: changed"):
                            break
            table = await http.get("/ui/sessions?status=active", headers={"HX-Request": "true"})
            assert table.status_code == 200 and "Appeared live" in table.text and "<html" not in table.text
            assert "Appeared live" not in (await http.get("/ui/sessions?status=paused")).text
            # The queue's numbers: open tasks exact, finished ones in the last hour (through the feed).
            async with http_client(server.url, None) as client:
                held = (await call(client, "claim_task", session_id=s))["task"]
                await call(client, "complete_task", task_id=held["id"], claim_token=held["claim_token"])
                await call(client, "register_agent", name="server", type="test")
            data = (await http.get("/ui/queue/data")).json()
            assert data["now"]["last_completed"] == 1 and data["now"]["pending"] >= 1
            assert sum(data["series"]["completed"]) == 1 and data["series"]["waiting"][-1] == data["now"]["pending"]
            agents = (await http.get("/ui/agents")).text
            assert re.search(r"<b>server</b>.*?<td>1</td><td>0</td></tr>", agents, re.S)


async def test_operator_tokens_are_not_agents_tokens(database_url, conn):
    """`tokens create --operator NAME`: it signs a person in to the dashboard only; an
    agent's token is not an operator's; `tokens list` tells them apart."""
    from tests.cli_support import ok

    made = await ok(database_url, "tokens", "create", "--operator", "alice")
    operator_token = made.out.strip()
    assert "operator 'alice'" in made.err
    _, agent_token = await tokens.create(conn, "codex")
    assert await tokens.verify(conn, operator_token) is None
    assert await tokens.verify(conn, operator_token, operator=True) == "alice"
    assert await tokens.verify(conn, agent_token, operator=True) is None
    assert await tokens.verify(conn, agent_token) == "codex"
    listed = (await ok(database_url, "tokens", "list")).out
    assert any("alice" in line and "(operator)" in line for line in listed.splitlines())
    assert any("codex" in line and "(operator)" not in line for line in listed.splitlines())


async def test_the_sign_in_cookie_is_secure_behind_a_tls_proxy(database_url):
    """A TLS proxy in front says so in X-Forwarded-Proto: the cookie then carries Secure,
    but only from a proxy address the server trusts (FORWARDED_ALLOW_IPS, default loopback):
    anyone else's header is ignored."""
    async def cookie(base: str, **headers: str) -> str:
        async with httpx2.AsyncClient(base_url=base) as http:  # a new browser: no cookie yet
            return (await http.get("/ui/signin", headers=headers)).headers["set-cookie"].lower()

    async with http_server(database_url) as server:
        assert "secure" not in await cookie(server.base)
        behind = await cookie(server.base, **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        assert "; secure" in behind
    async with http_server(database_url, FORWARDED_ALLOW_IPS="192.0.2.1") as server:
        assert "secure" not in await cookie(server.base, **{"X-Forwarded-Proto": "https"})

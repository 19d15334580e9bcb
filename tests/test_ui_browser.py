"""The dashboard in a real browser: Debian's chromium driven by playwright against a
running `serve --transport http` (token auth on). Skipped only where /usr/bin/chromium is
absent (.ci/run installs it). Screenshots of every page go to tests/screenshots/."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from mcp_sessions.store import tokens
from tests.conftest import REPO, call
from tests.http_support import http_client, http_server
from tests.test_ui import seed

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "tests" / "screenshots"
# Root in a container: no sandbox; a small /dev/shm: use /tmp.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"),
]


async def test_the_dashboard_in_chromium(database_url, conn):
    from playwright.async_api import async_playwright

    SHOTS.mkdir(exist_ok=True)
    _, agent_token = await tokens.create(conn, "codex")
    _, operator_token = await tokens.create(conn, "alice", operator=True)
    async with http_server(database_url) as server:
        ids = await seed(server.url, agent_token)
        s = ids["session"]
        base = server.base
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1300, "height": 850})
                errors: list[str] = []
                page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

                # A signed-out visitor sees only the sign-in page, whatever they open.
                for path in ("/ui/", f"/ui/s/{s}", "/ui/agents", "/ui/queue"):
                    await page.goto(base + path)
                    assert page.url == base + "/ui/signin", path
                    assert await page.locator("h1").inner_text() == "Sign in"
                    assert await page.locator("header nav").count() == 0
                    assert s not in await page.content()
                await page.screenshot(path=str(SHOTS / "signin.png"))

                # An agent's token does not sign in; an operator's does.
                await page.fill("input[name=token]", agent_token)
                await page.click("form button")
                assert await page.locator(".error").count() == 1
                await page.fill("input[name=token]", operator_token)
                await page.click("form button")
                await page.wait_for_url(base + "/ui/")
                errors.clear()  # the refused sign-in answered 401, which chromium logs

                # Every page loads without console errors.
                pages = {
                    "sessions": "/ui/", "search": "/ui/?q=ledger", "session": f"/ui/s/{s}",
                    "chunks": f"/ui/s/{s}/chunks", "events": f"/ui/s/{s}/events", "artifact": f"/ui/s/{s}/artifacts/plan.md?a=1&b=2",
                    "agents": "/ui/agents", "queue": "/ui/queue",
                }
                for name, path in pages.items():
                    response = await page.goto(base + path)
                    assert response is not None and response.status == 200, path
                    await page.wait_for_timeout(300)
                    if name == "queue":
                        await page.wait_for_selector("#depth-chart canvas", timeout=5000)
                    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
                    assert errors == [], (name, errors)

                # A task created through the MCP tools appears on the open board within a second.
                await page.goto(base + f"/ui/s/{s}")
                await page.wait_for_timeout(500)  # the event stream is open
                async with http_client(server.url, agent_token) as client:
                    task = await call(client, "create_task", session_id=s, task_type="research", title="Appears live")
                    started = time.monotonic()
                    await page.wait_for_selector(f"#task-{task['id']}", timeout=1000)
                    latency = time.monotonic() - started
                    print(f"board latency: {latency * 1000:.0f} ms")
                    assert latency < 1.0

                    # Cancelling from the page shows in get_task.
                    await page.click(f"#task-{task['id']} button[data-action=cancel]")
                    await page.wait_for_selector(".note")
                    assert "cancelled" in await page.locator(".note").inner_text()
                    got = await call(client, "get_task", task_id=task["id"])
                    assert got["status"] == "cancelled"
                    await page.screenshot(path=str(SHOTS / "session-after-cancel.png"))
                    assert errors == []

                    # An action without its CSRF token is refused (and changes nothing).
                    status = await page.evaluate(
                        """async (url) => (await fetch(url, {method: "POST", body: new URLSearchParams({}),
                                                          credentials: "same-origin"})).status""",
                        base + f"/ui/s/{s}/tasks/{ids['task']}/cancel",
                    )
                    assert status == 403
                    assert (await call(client, "get_task", task_id=ids["task"]))["status"] == "pending"
            finally:
                await browser.close()


async def test_the_standalone_dashboard_without_auth(database_url, conn):
    """`mcp-sessions ui` on loopback with auth off: no sign-in, the pages render, the sessions list is live."""
    import os
    import re
    import sys

    from playwright.async_api import async_playwright

    env = {**os.environ, "DATABASE_URL": database_url, "MCP_SESSIONS_HTTP_AUTH": "none", "MCP_SESSIONS_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "mcp_sessions", "ui", "--port", "0"]
    async with await anyio.open_process(command, env=env, cwd=REPO) as process:
        try:
            url = None
            buffer = b""
            with anyio.fail_after(30):
                async for chunk in process.stderr:
                    buffer += chunk
                    if match := re.search(rb"(http://\S+/ui/)", buffer):
                        url = match[1].decode()
                        break
            assert url
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                try:
                    page = await browser.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda e: errors.append(str(e)))
                    await page.goto(url)
                    assert (await page.locator("h1").inner_text()).startswith("Sessions")
                    assert "auth off" in await page.locator("header").inner_text()
                    # The list is live: a session made in psql shows up without a reload.
                    await page.wait_for_timeout(300)  # let the page's event stream open
                    await conn.execute("INSERT INTO sessions (id, title, created_by) "
                                       "VALUES ('from-psql', 'Made in psql', 'dba')")
                    await page.get_by_text("Made in psql").wait_for(timeout=10_000)
                    assert errors == []
                finally:
                    await browser.close()
        finally:
            process.terminate()
            with anyio.move_on_after(10):
                await process.wait()

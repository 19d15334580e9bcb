"""`mcp-sessions ui`: the dashboard alone (no /mcp), with its own pool and LISTEN
connection, behind the same Host/Origin checks and body limit as the HTTP transport."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from mcp_sessions.config import Settings
from mcp_sessions.db import open_pool
from mcp_sessions.http.guard import BodyLimit, HostGuard
from mcp_sessions.store import search as search_store
from mcp_sessions.store.event_waiter import listening
from mcp_sessions.tools._base import App
from mcp_sessions.ui.app import PREFIX, create_dashboard


def create_ui_app(settings: Settings, *, host: str = "127.0.0.1") -> ASGIApp:
    holder: dict[str, App] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with open_pool(settings) as pool:
            async with pool.acquire() as conn:
                await search_store.ensure_config(conn, settings.search_config)

            async with listening(pool, settings) as (waiter, events):
                holder["app"] = App(pool=pool, settings=settings, waiter=waiter, events=events)
                try:
                    yield
                finally:
                    holder.pop("app", None)

    root = Starlette(routes=[Route("/", lambda r: RedirectResponse(f"{PREFIX}/", 307))], lifespan=lifespan)
    asgi = create_dashboard(settings, lambda: holder.get("app")).mount(root)
    return HostGuard(BodyLimit(asgi, settings), settings, host)

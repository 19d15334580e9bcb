"""Live resources: resource-updated notifications fed by the event feed.

One LiveResources per server process. While any client subscribes (the 2026-07-28
`subscriptions/listen` stream, or the older `resources/subscribe` on a connection that
keeps a stream open: stdio), it follows the feed of every session through the
process's one LISTEN connection (store/event_waiter.py). Each wake-up reads the new
events once, however many subscribers there are, maps each to the resources it changes
(resources/uris.py: the session's digest and the item itself), and publishes them:
to the SDK's subscription bus, which filters by each listen stream's URIs, and to each
legacy subscriber whose URIs match. A new session is a resources list change. Nothing
polls, and an idle subscriber costs nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Callable

from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourcesListChanged, ResourceUpdated, ServerEvent

from mcp_sessions.resources import uris
from mcp_sessions.store import events

log = logging.getLogger(__name__)

START_BACK_SECONDS = 5.0


class CountingBus(InMemorySubscriptionBus):
    """The SDK's in-process bus, telling us when listen streams come and go."""

    def __init__(self) -> None:
        super().__init__()
        self.on_change: Callable[[], None] = lambda: None

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        unsubscribe = super().subscribe(listener)
        self.on_change()

        def done() -> None:
            unsubscribe()
            self.on_change()

        return done


class LiveResources:
    def __init__(self, app: Any, bus: CountingBus) -> None:
        self._app = app
        self._bus = bus
        self._legacy: dict[ServerSession, set[str]] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        bus.on_change = self._update

    # Legacy resources/subscribe ----------------------------------------------------

    def subscribe(self, session: ServerSession, uri: str) -> None:
        self._legacy.setdefault(session, set()).add(uri)
        self._update()

    def unsubscribe(self, session: ServerSession, uri: str) -> None:
        subs = self._legacy.get(session)
        if subs is not None:
            subs.discard(uri)
            if not subs:
                del self._legacy[session]
        self._update()

    # Following the feed while anyone subscribes ----------------------------------------

    @property
    def active(self) -> bool:
        return bool(self._legacy) or self._bus.listeners > 0

    def _update(self) -> None:
        if self.active and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._follow())
        elif not self.active and self._task is not None:
            self._task.cancel()
            self._task = None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        app = self._app
        async with app.connection() as conn:
            # A client that subscribed and then wrote at once may have written before this
            # task started: begin a little earlier (an extra notification is harmless).
            position = await events.since(conn, START_BACK_SECONDS)
        async with app.events.subscribed("*", lambda _session: self._wake.set()):
            while True:
                try:
                    async with app.connection() as conn:
                        read = await events.read(conn, position, limit=500,
                                                 retention_days=app.settings.event_retention_days)
                except Exception as exc:  # noqa: BLE001 - the database is away: try again soon
                    log.warning("live resources: cannot read the event feed (%s)", exc)
                    await asyncio.sleep(1.0)
                    continue
                for event in read.page.events:
                    await self._publish(event)
                position = events.parse_cursor(read.page.next_after)
                if read.page.events and len(read.page.events) == 500:
                    continue
                timeout = 0.02 if read.held else app.waiter.poll_seconds
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()

    async def _publish(self, event: Any) -> None:
        changed = uris.of_event(event.session_id, event.kind, event.refs)
        if event.kind == "session.created":
            await self._bus.publish(ResourcesListChanged())
            for session in tuple(self._legacy):
                await self._send(session, lambda s: s.send_resource_list_changed())
        for uri in changed:
            await self._bus.publish(ResourceUpdated(uri=uri))
            for session, subs in tuple(self._legacy.items()):
                if uri in subs:
                    await self._send(session, lambda s, u=uri: s.send_resource_updated(u))

    async def _send(self, session: ServerSession, send: Callable[[ServerSession], Any]) -> None:
        try:
            await send(session)
        except Exception:  # noqa: BLE001 - the client went away: forget it
            self._legacy.pop(session, None)

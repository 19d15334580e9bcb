"""The dashboard's routes, all under /ui/: server-rendered pages (Jinja2), fragments that
htmx swaps in when the event feed says something changed (server-sent events fed by
EventWaiter, never by polling the tables), and the operator actions (POST, CSRF token)."""

from __future__ import annotations

import asyncio
import difflib
import html
import json
import logging
import re
import time
from collections import OrderedDict
from datetime import datetime, timezone
from importlib import resources
from typing import Any, AsyncIterator, Callable
from urllib.parse import quote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_sessions.config import Settings
from mcp_sessions.errors import SessionsError
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.store import agents as agents_store
from mcp_sessions.store import messages as messages_store
from mcp_sessions.store import reservations as reservations_store
from mcp_sessions.store import search as search_store
from mcp_sessions.store import sessions as sessions_store
from mcp_sessions.store import tasks as tasks_store
from mcp_sessions.store.events import set_actor
from mcp_sessions.tools._base import App
from mcp_sessions.ui.access import (
    CSRF_COOKIE, CSRF_FIELD, SESSION_COOKIE, Access, actor, csrf_ok, csrf_token,
)

log = logging.getLogger("mcp_sessions.ui")

PREFIX = "/ui"
STATUSES = ["pending", "claimed", "running", "completed", "failed", "cancelled"]
CARDS_PER_COLUMN = 50
TIMELINE = 50
EVENTS_PER_PAGE = 100
CHUNKS_PER_PAGE = 20
SESSIONS_PER_PAGE = 25
LIVE_PING_SECONDS = 15.0
# The queue's charts and the agents' finished counts cover this much recent time: read
# through the event feed, so that a table of millions of finished tasks is never scanned.
RECENT_MINUTES = 60
LIVE_COALESCE_SECONDS = 0.1  # a burst of events in a session is one refresh
# Every session's feed (the sessions list, the queue page) at most once a second: with many
# agents at work, a refresh per event would be a query per event per open page. The last
# change of a burst is never dropped: it is sent when the second is up.
LIVE_ALL_COALESCE_SECONDS = 1.0
DIFF_MAX_LINES = 5000
_STATIC = {
    "htmx.min.js": "text/javascript", "htmx-sse.min.js": "text/javascript", "uplot.min.js": "text/javascript",
    "uplot.min.css": "text/css", "ui.css": "text/css", "ui.js": "text/javascript", "queue.js": "text/javascript",
}


def _ago(at: datetime | None) -> str:
    if at is None:
        return "never"
    seconds = int((datetime.now(timezone.utc) - at).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mcp_sessions.ui", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["ago"] = _ago
    env.filters["when"] = lambda at: at.strftime("%Y-%m-%d %H:%M:%S") if at else "-"
    env.filters["urlq"] = lambda s: quote(str(s), safe="")
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)
    return env


class Dashboard:
    def __init__(self, settings: Settings, get_app: Callable[[], App | None]) -> None:
        self.settings = settings
        self.get_app = get_app
        self.access = Access(settings, get_app)
        self.env = _env()
        self.static = {name: resources.files(__package__).joinpath("static", name).read_bytes() for name in _STATIC}
        p = PREFIX
        self.asgi = Starlette(routes=[
            Route(f"{p}/", self.sessions_page),
            Route(f"{p}", lambda r: RedirectResponse(f"{p}/", 308)),
            Route(f"{p}/static/{{name}}", self.static_file),
            Route(f"{p}/sessions", self.sessions_fragment),
            Route(f"{p}/signin", self.signin_page, methods=["GET", "POST"]),
            Route(f"{p}/signout", self.signout, methods=["POST"]),
            Route(f"{p}/agents", self.agents_page),
            Route(f"{p}/queue", self.queue_page),
            Route(f"{p}/queue/data", self.queue_data),
            Route(f"{p}/queue/oldest", self.queue_oldest),
            Route(f"{p}/live", self.live_all),
            Route(f"{p}/s/{{sid}}", self.session_page),
            Route(f"{p}/s/{{sid}}/board", self.board_fragment),
            Route(f"{p}/s/{{sid}}/timeline", self.timeline_fragment),
            Route(f"{p}/s/{{sid}}/events", self.events_page),
            Route(f"{p}/s/{{sid}}/live", self.live_session),
            Route(f"{p}/s/{{sid}}/chunks", self.chunks_page),
            Route(f"{p}/s/{{sid}}/artifacts/{{name:path}}", self.artifact_page),
            Route(f"{p}/s/{{sid}}/tasks/{{tid}}/{{verb}}", self.task_action, methods=["POST"]),
            Route(f"{p}/s/{{sid}}/message", self.post_message, methods=["POST"]),
            Route(f"{p}/s/{{sid}}/status", self.set_status, methods=["POST"]),
        ])

    # Plumbing -----------------------------------------------------------------------

    def mount(self, rest: ASGIApp) -> ASGIApp:
        """rest, with /ui and everything under it answered by the dashboard."""
        ui = self.asgi

        async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
            path = scope.get("path", "") if scope["type"] in ("http", "websocket") else ""
            if path == PREFIX or path.startswith(PREFIX + "/"):
                await ui(scope, receive, send)
            else:
                await rest(scope, receive, send)

        return dispatch

    def _app(self) -> App:
        app = self.get_app()
        if app is None:
            raise _Starting()
        return app

    def render(self, request: Request, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
        csrf, new = csrf_token(request)
        context.setdefault("operator", getattr(request.state, "operator", None))
        html = self.env.get_template(template).render(
            p=PREFIX, csrf=csrf, auth=self.access.required, request=request, **context,
        )
        response = HTMLResponse(html, status_code=http_status)
        if new:
            self._cookie(request, response, CSRF_COOKIE, csrf)
        return response

    def _cookie(self, request: Request, response: Response, name: str, value: str) -> None:
        response.set_cookie(
            name, value, path=f"{PREFIX}/", httponly=True, samesite="strict", secure=request.url.scheme == "https",
        )

    async def _guard(self, request: Request, *, action: bool = False, form: Any = None) -> Response | None:
        """None when the request may go on; else the response that refuses it."""
        if self.get_app() is None:
            return PlainStarting()
        operator = await self.access.operator(request)
        if operator is None:
            if request.headers.get("hx-request") or action or request.url.path.endswith("/live"):
                return Response("sign in first", status_code=401)
            return RedirectResponse(f"{PREFIX}/signin", status_code=303)
        request.state.operator = operator
        if action and not csrf_ok(request, form.get(CSRF_FIELD) if form is not None else None):
            return self.render(request, "error.html", http_status=403, title="Refused",
                               message="This action came without its CSRF token (or with a wrong one): reload the "
                                       "page and try again.")
        return None

    async def static_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.static:
            return Response("not found", status_code=404)
        return Response(self.static[name], media_type=_STATIC[name], headers={"cache-control": "max-age=3600"})

    # Sign-in ------------------------------------------------------------------------

    async def signin_page(self, request: Request) -> Response:
        if not self.access.required:
            return RedirectResponse(f"{PREFIX}/", status_code=303)
        if request.method == "GET":
            return self.render(request, "signin.html", error=None)
        form = await request.form()
        if not csrf_ok(request, form.get(CSRF_FIELD)):
            return self.render(request, "signin.html", http_status=403, error="The form expired: try again.")
        if self.get_app() is None:
            return PlainStarting()
        token = str(form.get("token") or "").strip()
        name = await self.access.verify(token) if token else None
        if name is None:
            return self.render(request, "signin.html", http_status=401,
                               error="That is not a live operator token (an agent's token does not sign in here).")
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        self._cookie(request, response, SESSION_COOKIE, token)
        return response

    async def signout(self, request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form.get(CSRF_FIELD)):
            return Response("refused: no CSRF token", status_code=403)
        response = RedirectResponse(f"{PREFIX}/signin" if self.access.required else f"{PREFIX}/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=f"{PREFIX}/")
        return response

    # Sessions -----------------------------------------------------------------------

    async def sessions_page(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        q = (request.query_params.get("q") or "").strip()
        hits, search_error = [], None
        try:
            listing = await self._sessions(request)
            if q:
                async with self._app().connection() as conn:
                    try:
                        hits = (await search_store.search(conn, query=q, limit=20)).hits
                    except SessionsError as exc:
                        search_error = exc.message
        except SessionsError as exc:
            return self.render(request, "error.html", http_status=400, title="Sessions", message=exc.message)
        return self.render(request, "sessions.html", q=q, hits=hits, search_error=search_error, hit_url=_hit_url,
                           **listing)

    async def sessions_fragment(self, request: Request) -> Response:
        """The sessions table alone: what the list page reloads when the feed says something changed."""
        if (refused := await self._guard(request)) is not None:
            return refused
        try:
            listing = await self._sessions(request)
        except SessionsError as exc:
            return HTMLResponse(f'<p class="error">{html.escape(exc.message)}</p>', status_code=400)
        return self.render(request, "_sessions.html", **listing)

    async def _sessions(self, request: Request) -> dict[str, Any]:
        status = request.query_params.get("status") or None
        participant = request.query_params.get("participant") or None
        cursor = request.query_params.get("cursor") or None
        if status not in (None, "active", "paused", "completed"):
            status = None
        async with self._app().connection() as conn:
            page = await sessions_store.list_page(
                conn, status=status, participant=participant, limit=SESSIONS_PER_PAGE, cursor=cursor,
            )
        params = {k: v for k, v in (("status", status), ("participant", participant)) if v}
        next_url = None
        if page.next_cursor:
            next_url = f"{PREFIX}/?" + urlencode({**params, "cursor": page.next_cursor})
        return {
            "sessions": page.sessions, "status": status or "", "participant": participant or "",
            "next_url": next_url, "first": cursor is None,
            "query": urlencode({**params, **({"cursor": cursor} if cursor else {})}),
        }

    async def session_page(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        sid = request.path_params["sid"]
        app = self._app()
        async with app.connection() as conn:
            session = await conn.fetchrow(Q["ui_session"], sid)
            if session is None:
                return self.render(request, "error.html", http_status=404, title="No such session",
                                   message=f"There is no session {sid!r}.")
            board = await self._board(conn, sid)
            timeline = await self._timeline(conn, sid)
            memories: OrderedDict[str, list[Any]] = OrderedDict()
            for m in await conn.fetch(Q["ui_memories"], sid, 500):
                memories.setdefault(m["type"], []).append(m)
            artifacts = await conn.fetch(Q["ui_artifacts"], sid, 200)
            chunk_count = await conn.fetchval(Q["ui_chunk_count"], sid)
            threads: OrderedDict[str, list[Any]] = OrderedDict()
            for m in await conn.fetch(Q["ui_messages"], sid, 200):
                threads.setdefault(m["thread"], []).append(m)
            for thread in threads.values():
                thread.reverse()  # oldest first inside a thread; threads by newest message
            reservations = await reservations_store.active(conn, sid)
        return self.render(
            request, "session.html", s=session, board=board, timeline=timeline, memories=memories,
            artifacts=artifacts, chunk_count=chunk_count, threads=threads, reservations=reservations,
            participants=json.loads(session["participants"]) if isinstance(session["participants"], str)
            else session["participants"],
        )

    async def _board(self, conn: Any, sid: str) -> dict[str, Any]:
        counts = {r["status"]: r["n"] for r in await conn.fetch(Q["ui_task_counts"], sid)}
        columns: dict[str, list[Any]] = {s: [] for s in STATUSES}
        for row in await conn.fetch(Q["ui_board"], sid, CARDS_PER_COLUMN):
            columns[row["status"]].append(row)
        return {"counts": counts, "columns": columns, "shown": CARDS_PER_COLUMN}

    async def _timeline(
        self, conn: Any, sid: str, before: tuple[int, int] | None = None, limit: int = TIMELINE,
    ) -> list[dict[str, Any]]:
        if before is None:
            rows = await conn.fetch(Q["ui_timeline"], sid, limit)
        else:
            rows = await conn.fetch(Q["ui_timeline_before"], sid, *before, limit)
        out = []
        for r in rows:
            e = json.loads(r["e"]) if isinstance(r["e"], str) else r["e"]
            e["at"] = datetime.fromisoformat(e["at"])
            out.append(e)
        return out

    async def board_fragment(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        sid = request.path_params["sid"]
        async with self._app().connection() as conn:
            board = await self._board(conn, sid)
        return self.render(request, "_board.html", board=board, sid=sid)

    async def timeline_fragment(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        sid = request.path_params["sid"]
        async with self._app().connection() as conn:
            timeline = await self._timeline(conn, sid)
        return self.render(request, "_timeline.html", timeline=timeline, sid=sid)

    async def events_page(self, request: Request) -> Response:
        """The session's events, newest first, 100 a page, older pages by the last one's position."""
        if (refused := await self._guard(request)) is not None:
            return refused
        sid = request.path_params["sid"]
        before = None
        if match := re.fullmatch(r"(\d{1,18})-(\d{1,18})", request.query_params.get("before", "")):
            before = (int(match[1]), int(match[2]))
        async with self._app().connection() as conn:
            session = await conn.fetchrow(Q["ui_session"], sid)
            if session is None:
                return self.render(request, "error.html", http_status=404, title="No such session",
                                   message=f"There is no session {sid!r}.")
            timeline = await self._timeline(conn, sid, before, EVENTS_PER_PAGE)
        older = f"{timeline[-1]['xid']}-{timeline[-1]['id']}" if len(timeline) == EVENTS_PER_PAGE else None
        return self.render(request, "events.html", s=session, timeline=timeline, older=older, sid=sid)

    async def chunks_page(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        sid = request.path_params["sid"]
        hit = request.query_params.get("hit")
        try:
            at = int(request.query_params.get("at", "-1"))
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            at, page = -1, 1
        q = request.query_params.get("q", "")
        async with self._app().connection() as conn:
            session = await conn.fetchrow(Q["ui_session"], sid)
            if session is None:
                return self.render(request, "error.html", http_status=404, title="No such session",
                                   message=f"There is no session {sid!r}.")
            total = await conn.fetchval(Q["ui_chunk_count"], sid)
            if hit and "page" not in request.query_params:
                position = await conn.fetchval(Q["ui_chunk_position"], sid, hit)
                if position is not None:
                    page = position // CHUNKS_PER_PAGE + 1
            pages = max(1, -(-total // CHUNKS_PER_PAGE))
            page = min(page, pages)
            chunks = await conn.fetch(Q["ui_chunks"], sid, (page - 1) * CHUNKS_PER_PAGE, CHUNKS_PER_PAGE)
        shown = []
        for c in chunks:
            content = c["content"]
            if c["chunk_id"] == hit and 0 <= at < len(content):
                end = _match_end(content, at, q)
                shown.append((c, content[:at], content[at:end], content[end:]))
            else:
                shown.append((c, content, None, None))
        return self.render(request, "chunks.html", s=session, chunks=shown, page=page, pages=pages, total=total,
                           hit=hit)

    async def artifact_page(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        sid, name = request.path_params["sid"], request.path_params["name"]
        async with self._app().connection() as conn:
            versions = await conn.fetch(Q["ui_artifact_versions"], sid, name)
            if not versions:
                return self.render(request, "error.html", http_status=404, title="No such artifact",
                                   message=f"Session {sid!r} has no artifact {name!r}.")
            numbers = [v["version"] for v in versions]

            def pick(key: str, default: int) -> int:
                try:
                    value = int(request.query_params.get(key, default))
                except ValueError:
                    return default
                return value if value in numbers else default

            shown = pick("v", numbers[0])
            a = pick("a", numbers[1] if len(numbers) > 1 else numbers[0])
            b = pick("b", numbers[0])
            current = await conn.fetchrow(Q["ui_artifact_version"], sid, name, shown)
            diff = None
            if "a" in request.query_params and a != b:
                old = await conn.fetchrow(Q["ui_artifact_version"], sid, name, a)
                new = await conn.fetchrow(Q["ui_artifact_version"], sid, name, b)
                diff = difflib.HtmlDiff(wrapcolumn=90).make_table(
                    old["content"].splitlines()[:DIFF_MAX_LINES], new["content"].splitlines()[:DIFF_MAX_LINES],
                    f"version {a}", f"version {b}", context=True, numlines=3,
                )
        return self.render(request, "artifact.html", sid=sid, name=name, versions=versions, current=current,
                           a=a, b=b, diff=diff)

    # Agents and queue ---------------------------------------------------------------

    async def agents_page(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        async with self._app().connection() as conn:
            found = (await agents_store.list_page(conn, status=None, limit=500, cursor=None)).agents
            counts = {r["agent"]: r for r in await conn.fetch(Q["ui_agent_counts"], [a.name for a in found],
                                                                RECENT_MINUTES)}
        return self.render(request, "agents.html", agents=found, counts=counts)

    async def queue_page(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        async with self._app().connection() as conn:
            oldest = await conn.fetch(Q["ui_oldest_waiting"], 20)
        return self.render(request, "queue.html", oldest=oldest)

    async def queue_oldest(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        async with self._app().connection() as conn:
            oldest = await conn.fetch(Q["ui_oldest_waiting"], 20)
        return self.render(request, "_oldest.html", oldest=oldest)

    async def queue_data(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        async with self._app().connection() as conn:
            now = {r["status"]: r["n"] for r in await conn.fetch(Q["ui_queue_now"])}
            rows = await conn.fetch(Q["ui_queue_history"], RECENT_MINUTES)
        # What finished lately: the history's minutes summed (one read of the event feed, not two).
        now.update({f"last_{k}": sum(r[k] for r in rows) for k in ("completed", "failed", "cancelled")})
        series = {k: [r[k] for r in rows] for k in ("t", "waiting", "held", "completed", "failed")}
        return JSONResponse({"now": now, "series": series})

    # Live ---------------------------------------------------------------------------

    async def live_session(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        return self._live(request.path_params["sid"])

    async def live_all(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        return self._live("*", LIVE_ALL_COALESCE_SECONDS)

    def _live(self, scope: str, coalesce: float = LIVE_COALESCE_SECONDS) -> Response:
        """Server-sent events: `changed` whenever an event of the scope commits (any process,
        woken by the event feed's LISTEN), at most every `coalesce` seconds; a comment
        line every LIVE_PING_SECONDS keeps proxies from closing the stream."""
        waiter = self._app().events

        async def stream() -> AsyncIterator[str]:
            changed = asyncio.Event()
            if waiter is None:
                yield "retry: 5000\n\n"
                return
            async with waiter.subscribed(scope, lambda _session: changed.set()):
                # Whatever committed between the page's render and this subscription shows now.
                yield "retry: 1000\nevent: changed\ndata: open\n\n"
                while True:
                    try:
                        await asyncio.wait_for(changed.wait(), LIVE_PING_SECONDS)
                    except asyncio.TimeoutError:
                        yield ": ping\n\n"
                        continue
                    changed.clear()
                    yield f"event: changed\ndata: {time.time():.3f}\n\n"
                    await asyncio.sleep(coalesce)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", "x-accel-buffering": "no"})

    # Operator actions ---------------------------------------------------------------

    async def task_action(self, request: Request) -> Response:
        form = await request.form()
        if (refused := await self._guard(request, action=True, form=form)) is not None:
            return refused
        sid, tid, verb = request.path_params["sid"], request.path_params["tid"], request.path_params["verb"]
        who = actor(request.state.operator)
        if verb not in ("cancel", "requeue"):
            return Response("unknown action", status_code=404)
        try:
            async with self._app().transaction() as conn:
                task = await tasks_store.get_row(conn, tid)
                if task.session_id != sid:
                    return Response("that task is not in this session", status_code=404)
                if verb == "cancel":
                    reason = str(form.get("reason") or "").strip() or f"cancelled from the dashboard by {who}"
                    await tasks_store.cancel(conn, tid, reason[:500], who)
                else:
                    await tasks_store.requeue(conn, tid, who)
        except SessionsError as exc:
            return self._back(request, sid, f"{verb} refused: {exc.message}")
        log.info("%s %s task %s", who, verb, tid, extra={"outcome": f"ui_{verb}"})
        return self._back(request, sid, f"task {tid} {verb}{'l' if verb == 'cancel' else ''}ed by {who}")

    async def post_message(self, request: Request) -> Response:
        form = await request.form()
        if (refused := await self._guard(request, action=True, form=form)) is not None:
            return refused
        sid = request.path_params["sid"]
        who = actor(request.state.operator)
        body = str(form.get("body") or "").strip()
        if not body:
            return self._back(request, sid, "the message is empty")
        to = [t.strip() for t in str(form.get("to") or "").split(",") if t.strip()] or None
        importance = str(form.get("importance") or "normal")
        if importance not in ("low", "normal", "high", "urgent"):
            importance = "normal"
        try:
            async with self._app().transaction() as conn:
                await messages_store.send(
                    conn, sid, sender=who, body=body, to=to, subject=str(form.get("subject") or "").strip() or None,
                    thread_id=str(form.get("thread_id") or "").strip() or None, importance=importance,
                    ack_required=False, viewer=None,
                )
        except SessionsError as exc:
            return self._back(request, sid, f"message refused: {exc.message}")
        return self._back(request, sid, f"message sent as {who}")

    async def set_status(self, request: Request) -> Response:
        form = await request.form()
        if (refused := await self._guard(request, action=True, form=form)) is not None:
            return refused
        sid = request.path_params["sid"]
        who = actor(request.state.operator)
        status = str(form.get("status") or "")
        if status not in ("active", "paused", "completed"):
            return self._back(request, sid, f"unknown status {status!r}")
        try:
            async with self._app().transaction() as conn:
                await set_actor(conn, who)  # the session.updated event names who changed it
                await sessions_store.update(conn, sid, title=None, status=status, add_participants=[], metadata=None)
        except SessionsError as exc:
            return self._back(request, sid, f"status refused: {exc.message}")
        return self._back(request, sid, f"session set to {status} by {who}")

    def _back(self, request: Request, sid: str, note: str) -> Response:
        return RedirectResponse(f"{PREFIX}/s/{quote(sid, safe='')}?" + urlencode({"note": note}), status_code=303)


class _Starting(Exception):
    pass


def PlainStarting() -> Response:  # noqa: N802 - reads as a constant response
    return Response("the server is starting; reload in a moment", status_code=503, headers={"retry-after": "1"})


def _match_end(content: str, at: int, q: str) -> int:
    """Where the highlighted match ends: the query's first word if it is there, else the word at `at`."""
    for word in q.split():
        word = word.strip('"()*').lower()
        if word and content[at:at + len(word)].lower() == word:
            return at + len(word)
    end = at
    while end < len(content) and (content[end].isalnum() or content[end] in "_-") and end - at < 80:
        end += 1
    return max(end, at + 1)


def _hit_url(hit: Any, q: str = "") -> str:
    sid = quote(hit.session_id, safe="")
    if hit.kind == "chunk":
        params = {"hit": hit.id, "q": q}
        if hit.offset is not None:
            params["at"] = str(hit.offset)
        return f"{PREFIX}/s/{sid}/chunks?" + urlencode(params)
    if hit.kind == "artifact":
        name = hit.title.rsplit(" v", 1)[0]  # "name vN"
        return f"{PREFIX}/s/{sid}/artifacts/{quote(name, safe='')}?v={hit.version or ''}"
    if hit.kind == "memory":
        return f"{PREFIX}/s/{sid}#memory-{quote(hit.id, safe='')}"
    if hit.kind == "message":
        return f"{PREFIX}/s/{sid}#message-{quote(hit.id, safe='')}"
    return f"{PREFIX}/s/{sid}"


def create_dashboard(settings: Settings, get_app: Callable[[], App | None]) -> Dashboard:
    return Dashboard(settings, get_app)

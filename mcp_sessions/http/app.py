"""The HTTP application: the MCP server at /mcp behind bearer-token auth, plus
/healthz (unauthenticated) and /metrics (a token if MCP_SESSIONS_METRICS_AUTH=token),
and, when MCP_SESSIONS_HOOKS names a file, the webhook relay at /hooks/NAME
(authenticated by each hook's signature instead of a token: mcp_sessions/hooks), and
the dashboard at /ui/ (its own operator sign-in and CSRF tokens: mcp_sessions/ui);
in front of all of them, Host/Origin checks and the request body limit (guard.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp

from mcp_sessions import migrations
from mcp_sessions.config import Settings
from mcp_sessions.errors import SessionsError
from mcp.server.transport_security import TransportSecuritySettings

from mcp_sessions.hooks import load as load_hooks
from mcp_sessions.hooks.relay import PATH as RELAY_PATH
from mcp_sessions.hooks.relay import Relay
from mcp_sessions.http.auth import TokenAuth
from mcp_sessions.http.guard import BodyLimit, HostGuard, is_loopback, max_body_bytes
from mcp_sessions.http.metrics import Metrics
from mcp_sessions.server import create_server
from mcp_sessions.tools._base import App
from mcp_sessions.ui import create_dashboard

MCP_PATH = "/mcp"
METRICS_PATH = "/metrics"
PUBLIC_PATHS = frozenset({"/healthz", METRICS_PATH})
HOOKS_PREFIX = "/hooks/"  # signed by their senders: no bearer token


class BindRefused(ValueError):
    pass


def check_bind(host: str, settings: Settings) -> None:
    """Anything but loopback is reachable by others: refuse it without authentication."""
    if settings.http_auth != "token" and not is_loopback(host):
        raise BindRefused(
            f"refusing to serve {host} without authentication: MCP_SESSIONS_HTTP_AUTH=none is for loopback "
            "only; use token auth (the default) and give each agent a token (`mcp-sessions tokens create`)"
        )


class _Runtime:
    """What the routes share; App appears once the server's lifespan has opened the pool."""

    def __init__(self, settings: Settings) -> None:
        self.app: App | None = None
        self.metrics = Metrics(refresh_seconds=settings.metrics_refresh_seconds)

    def started(self, app: App) -> None:
        app.on_call = self.metrics.record
        self.app = app


def create_http_app(settings: Settings, *, host: str = "127.0.0.1") -> ASGIApp:
    runtime = _Runtime(settings)
    # A bad hooks file stops the server before it starts (HooksConfigError, one line).
    hooks = load_hooks(settings.hooks) if settings.hooks is not None else {}
    mcp = create_server(settings, on_start=runtime.started)
    if hooks:
        mcp.custom_route(RELAY_PATH, methods=["POST"])(Relay(hooks, lambda: runtime.app).handle)

    @mcp.custom_route("/healthz", methods=["GET"])
    async def healthz(request: Request) -> Response:
        """200 when the database answers and its schema is the one this server expects."""
        app = runtime.app
        if app is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        try:
            async with app.connection() as conn:
                status = await migrations.status(conn)
        except SessionsError as exc:
            return JSONResponse({"status": "unavailable", "error": exc.message}, status_code=503)
        if status.pending:
            pending = [f"{m.version:04d}_{m.name}" for m in status.pending]
            return JSONResponse({"status": "schema_outdated", "pending": pending}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok", "schema_version": status.current_version})

    @mcp.custom_route("/metrics", methods=["GET"])
    async def metrics(request: Request) -> Response:
        return PlainTextResponse(await runtime.metrics.render(runtime.app), media_type="text/plain; version=0.0.4")

    # Stateless with JSON responses: no MCP session lives in a process, so any process
    # (of `--workers N`, or behind a load balancer) answers any request, from clients of
    # the 2026-07-28 per-request protocol and of the initialize handshake alike.
    asgi = mcp.streamable_http_app(
        streamable_http_path=MCP_PATH, host=host, stateless_http=True, json_response=True,
        # Ours decide, for every path and every bind address (guard.py); the SDK's would
        # answer a bare 413 first, and check Host only on 127.0.0.1, localhost and ::1.
        max_request_body_size=max_body_bytes(settings) + 1,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    refused = runtime.metrics.refused
    public = PUBLIC_PATHS if settings.metrics_auth == "none" else PUBLIC_PATHS - {METRICS_PATH}
    if settings.http_auth == "token":
        asgi = TokenAuth(asgi, lambda: runtime.app, public=public, public_prefixes=(HOOKS_PREFIX,), on_refusal=refused)
    elif settings.metrics_auth == "token":
        asgi = TokenAuth(asgi, lambda: runtime.app, only=frozenset({METRICS_PATH}), on_refusal=refused)
    # /ui/ is for people: an operator's sign-in cookie, not an agent's bearer token.
    asgi = create_dashboard(settings, lambda: runtime.app).mount(asgi)
    asgi = BodyLimit(asgi, settings, on_refusal=refused)
    return HostGuard(asgi, settings, host, on_refusal=refused)


def app_from_environment() -> ASGIApp:
    """The app of one `serve --workers N` worker: a spawned process that reads its settings
    (and the bind address the parent chose, MCP_SESSIONS_HTTP_HOST) from the environment."""
    from mcp_sessions.cli.common import load_settings, setup_logging

    settings = load_settings()
    setup_logging(settings)
    return create_http_app(settings, host=settings.http_host)

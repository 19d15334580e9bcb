"""`mcp-sessions serve`: the MCP server on stdio (one per agent) or streamable HTTP (one for many)."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import socket
import sys
from typing import Any

from mcp_sessions.cli.common import load_settings, setup_logging
from mcp_sessions.config import Settings

log = logging.getLogger("mcp_sessions.serve")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the MCP server on stdio (what MCP clients start) or HTTP")
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="default: stdio")
    p.add_argument("--host", help="HTTP: address to bind (default 127.0.0.1, MCP_SESSIONS_HTTP_HOST)")
    p.add_argument("--port", type=int, help="HTTP: port (default 8765, MCP_SESSIONS_HTTP_PORT; 0 picks a free one)")
    p.add_argument(
        "--workers", type=int, metavar="N",
        help="HTTP: server processes sharing the port (default 1, MCP_SESSIONS_HTTP_WORKERS); any of them answers any request",
    )
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    setup_logging(settings)
    if not settings.database_url:
        log.info("DATABASE_URL is not set: using the embedded PostgreSQL in %s", settings.data_dir)
    if args.transport == "http":
        workers = settings.http_workers if args.workers is None else args.workers
        if not 1 <= workers <= 64:
            print("mcp-sessions: --workers must be 1-64", file=sys.stderr)
            return 2
        port = settings.http_port if args.port is None else args.port
        return _serve_http(settings, args.host or settings.http_host, port, workers)
    from mcp_sessions import db
    from mcp_sessions.server import create_server

    if sys.stdin.isatty():
        # A person ran it by hand: say what it is waiting for (print: shown at any log level).
        print(TTY_NOTICE, file=sys.stderr, flush=True)
    db.stop_on_termination(uvicorn=False)
    try:
        create_server(settings).run("stdio")
    except BaseException as exc:  # noqa: BLE001 - a failed start is reported in one line below
        code = _report_start_failure(exc, settings)
        return 128 + db.terminated_by if db.terminated_by else code
    return 0


TTY_NOTICE = (
    "mcp-sessions: waiting for an MCP client on stdin (Ctrl-C stops). Clients start this command "
    "themselves: add it to one, e.g. `claude mcp add mcp-sessions -e MCP_SESSIONS_AGENT=me -- "
    'mcp-sessions serve`; others in README, "Adding it to an MCP client"'
)


def _report_start_failure(exc: BaseException, settings: Settings) -> int:
    """A server that can't start (database unreachable, schema from a newer release, ...)
    says why in one line on stderr, not as a traceback an MCP client shows as noise."""
    import asyncpg

    from mcp_sessions.errors import SessionsError

    cause = exc
    while isinstance(cause, BaseExceptionGroup) and cause.exceptions:
        cause = cause.exceptions[0]
    if isinstance(cause, (KeyboardInterrupt, SystemExit)):
        return 130 if isinstance(cause, KeyboardInterrupt) else int(cause.code or 0)
    if isinstance(cause, SessionsError):
        reason = cause.message
    elif isinstance(cause, (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)):
        # The driver's text names host and port but never the password.
        hint = (
            "check DATABASE_URL and that PostgreSQL is running" if settings.database_url
            else f"the embedded PostgreSQL lives in MCP_SESSIONS_DATA_DIR={settings.data_dir}: check that it is "
            "writable, or set DATABASE_URL"
        )
        reason = f"cannot use the database ({type(cause).__name__}: {cause}); {hint}"
    else:
        raise exc
    print(f"mcp-sessions: cannot start: {reason}", file=sys.stderr)
    return 1


def _http_server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """Ctrl-C is a person who wants the server gone: requests in flight (a claim
        waiting for work) are cancelled at once, quietly. SIGTERM still lets them finish,
        up to timeout_graceful_shutdown."""

        interrupted = False

        def handle_exit(self, sig: int, frame: Any) -> None:
            if sig == signal.SIGINT and not self.interrupted:
                self.interrupted = True
                self.config.timeout_graceful_shutdown = 0
                logging.getLogger("uvicorn.error").addFilter(_quiet_cancellations)
            super().handle_exit(sig, frame)

    return Server


def _quiet_cancellations(record: logging.LogRecord) -> bool:
    """After Ctrl-C, uvicorn logs each request it cancels as an error with a traceback
    ("Exception in ASGI application", CancelledError), then one error line for them all:
    keep that line, at INFO, and drop the tracebacks."""
    import asyncio

    if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
        return False
    if record.levelno >= logging.ERROR and "graceful shutdown" in str(record.msg):
        if record.args and record.args[0] == 0:  # type: ignore[index]
            return False  # "Cancel 0 running task(s)"
        record.levelno, record.levelname = logging.INFO, "INFO"
    return True


def _serve_http(settings: Settings, host: str, port: int, workers: int) -> int:
    from mcp_sessions.http import create_http_app

    return serve_http_app(settings, host, port, create_http_app, workers=workers)


def serve_http_app(
    settings: Settings, host: str, port: int, make_app: Any, *, workers: int = 1, what: str = "MCP over HTTP",
    path: str | None = None,
) -> int:
    """Serve make_app(settings, host=...) (the MCP app, or the dashboard alone: `ui`)."""
    import uvicorn

    from mcp_sessions.http import check_bind
    from mcp_sessions.http.app import MCP_PATH, BindRefused

    path = MCP_PATH if path is None else path

    try:
        check_bind(host, settings)
    except BindRefused as exc:
        print(f"mcp-sessions: {exc}", file=sys.stderr)
        return 2
    if settings.hooks is not None:
        from mcp_sessions.hooks import HooksConfigError, load

        try:
            load(settings.hooks)  # checked here, once, before any worker starts
        except HooksConfigError as exc:
            print(f"mcp-sessions: cannot start: {exc.message}", file=sys.stderr)
            return 2
    from mcp_sessions.http.connections import raise_open_files_limit

    raise_open_files_limit()
    try:
        sock = _listen(host, port)
    except OSError as exc:
        # One line, not a traceback: the usual cause is another server on that port.
        hint = "another server is listening there; stop it or pick another --port" if exc.errno == errno.EADDRINUSE else ""
        print(f"mcp-sessions: cannot listen on {host}:{port}: {exc.strerror or exc}{'; ' + hint if hint else ''}",
              file=sys.stderr)
        return 1
    try:
        # Before any worker starts: a database that can't be used is one line here, not a
        # traceback per worker, and pending migrations run once, not raced by N workers.
        asyncio.run(_prepare_database(settings))
    except BaseException as exc:  # noqa: BLE001 - reported in one line, or re-raised
        sock.close()
        return _report_start_failure(exc, settings)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    common = dict(
        log_config=None,  # our handlers: stderr, plain or JSON
        access_log=False,  # tool calls are logged by the tool layer, with agent and outcome
        lifespan="on",
        timeout_graceful_shutdown=5,
        # Connections that keep the server waiting are closed (mcp_sessions/http/connections.py).
        http="mcp_sessions.http.connections:IdleTimeoutProtocol",
    )
    # At WARNING so the address shows even with MCP_SESSIONS_LOG_LEVEL=WARNING.
    log.warning(
        "serving %s at http://%s:%d%s (auth: %s, %d %s)", what, shown, bound_port, path, settings.http_auth,
        workers, "process" if workers == 1 else "processes",
    )
    if workers == 1:
        from mcp_sessions import db

        db.stop_on_termination(uvicorn=True)
        server = _http_server_class()(uvicorn.Config(make_app(settings, host=host), **common))
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C (and SIGTERM, SIGHUP: see db) once it has shut down
            return 128 + db.terminated_by if db.terminated_by else 130
        return 0 if server.started else 1
    return _serve_workers(uvicorn, host, sock, workers, common)


async def _prepare_database(settings: Settings) -> None:
    import asyncpg

    from mcp_sessions import migrations
    from mcp_sessions.db import resolve_dsn

    dsn = await resolve_dsn(settings)
    conn = await asyncpg.connect(dsn, statement_cache_size=settings.statement_cache_size, timeout=settings.connect_timeout)
    try:
        if applied := await migrations.migrate(conn):
            log.info("applied migrations: %s", ", ".join(f"{m.version:04d}_{m.name}" for m in applied))
    finally:
        await conn.close()


def _listen(host: str, port: int) -> socket.socket:
    """Bind here, before any worker starts, so the address printed is the real one (port 0
    picks a free port) and every worker accepts from this one socket."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    # SO_REUSEADDR only skips TIME_WAIT; a second server on a port in use still fails.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.listen(2048)  # clients that connect while the pools open wait in the backlog
    return sock


def _serve_workers(uvicorn, host: str, sock: socket.socket, workers: int, common: dict) -> int:  # noqa: ANN001
    """N worker processes accepting from one socket (uvicorn's supervisor restarts a worker
    that dies). Each worker has its own pool and LISTEN connection; since the HTTP transport
    is stateless, any worker answers any request."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    # Workers are spawned, not forked: they build the app from the environment.
    os.environ["MCP_SESSIONS_HTTP_HOST"] = host
    config = uvicorn.Config(
        "mcp_sessions.http.app:app_from_environment", factory=True, workers=workers,
        # A busy worker answers the supervisor's ping late; only a hung one should be replaced.
        timeout_worker_healthcheck=30, **common,
    )
    supervisor = Multiprocess(config, sockets=[sock])
    try:
        supervisor.run()
    except KeyboardInterrupt:
        return 130
    # A worker that could not start (database, schema) stops them all; its log says why.
    return 1 if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes) else 0

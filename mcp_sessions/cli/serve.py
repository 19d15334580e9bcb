"""`mcp-sessions serve`: the MCP server on stdio (one per agent) or streamable HTTP (one for many)."""

from __future__ import annotations

import argparse
import logging
import socket
import sys

from mcp_sessions.cli.common import load_settings, setup_logging
from mcp_sessions.config import Settings

log = logging.getLogger("mcp_sessions.serve")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the MCP server on stdio (what MCP clients start) or HTTP")
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio", help="default: stdio")
    p.add_argument("--host", help="HTTP: address to bind (default 127.0.0.1, MCP_SESSIONS_HTTP_HOST)")
    p.add_argument("--port", type=int, help="HTTP: port (default 8765, MCP_SESSIONS_HTTP_PORT; 0 picks a free one)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    setup_logging(settings)
    if args.transport == "http":
        return _serve_http(settings, args.host or settings.http_host, settings.http_port if args.port is None else args.port)
    from mcp_sessions.server import create_server

    create_server(settings).run("stdio")
    return 0


def _serve_http(settings: Settings, host: str, port: int) -> int:
    import uvicorn

    from mcp_sessions.http import check_bind, create_http_app
    from mcp_sessions.http.app import MCP_PATH, BindRefused

    try:
        check_bind(host, settings)
    except BindRefused as exc:
        print(f"mcp-sessions: {exc}", file=sys.stderr)
        return 2
    # Bind first so the address printed is the real one (port 0 picks a free port).
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(2048)  # clients that connect while the pool opens wait in the backlog
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    config = uvicorn.Config(
        create_http_app(settings, host=host),
        log_config=None,  # our handlers: stderr, plain or JSON
        access_log=False,  # tool calls are logged by the tool layer, with agent and outcome
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    # At WARNING so the address shows even with MCP_SESSIONS_LOG_LEVEL=WARNING.
    log.warning("serving MCP over HTTP at http://%s:%d%s (auth: %s)", shown, bound_port, MCP_PATH, settings.http_auth)
    server.run(sockets=[sock])
    return 0

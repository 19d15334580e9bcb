"""What every HTTP request passes before anything else runs: Host and Origin checks
(DNS rebinding), and the request body limit.

DNS rebinding: a web page an agent's user visits can make the browser send requests to
the server under the page's own host name. The Host header gives it away. On a loopback
address (127.0.0.0/8, ::1, localhost) only loopback names are accepted, plus
MCP_SESSIONS_HTTP_ALLOWED_HOSTS; on any other address only the allowed hosts, when they
are set (behind a load balancer the public name is whatever it is: tokens protect it).
A browser's cross-origin request carries Origin: it must be the server's own origin, a
loopback origin on a loopback address, or in MCP_SESSIONS_HTTP_ALLOWED_ORIGINS. This
replaces the SDK's own check, which covers /mcp only and only when bound to 127.0.0.1,
localhost or ::1 (so 127.0.0.2 answered any Host).

Body limit: a request may carry a chunk or an artifact of MCP_SESSIONS_MAX_CONTENT_BYTES
as JSON (escapes make it longer than the content: BODY_FACTOR times, plus room for the
rest of the call). A larger body is refused with a JSON-RPC error naming the limit."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_sessions.config import MIB, Settings

BODY_FACTOR = 2
BODY_ROOM = 1 * MIB
# Public paths a load balancer probes by address, whatever Host it sends.
UNGUARDED = frozenset({"/healthz"})


def max_body_bytes(settings: Settings) -> int:
    return BODY_FACTOR * settings.max_content_bytes + BODY_ROOM


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # any other host name may resolve to a public address


def split_host(value: str) -> tuple[str, str | None]:
    """'Host: name:port' -> (name, port); IPv6 literals keep their brackets off."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else None
    name, sep, port = value.rpartition(":")
    return (name, port) if sep and port.isdigit() else (value, None)


def _listed(setting: str) -> list[str]:
    return [item.strip().lower().rstrip("/") for item in setting.split(",") if item.strip()]


async def refuse(
    send: Send, status: int, code: int, message: str, headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Answer with a JSON-RPC error, which MCP clients show to the caller as is (the
    refusals here, and the token checks of auth.py)."""
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or []),
    ]})
    await send({"type": "http.response.body", "body": body})


class HostGuard:
    """ASGI middleware: refuse a Host or Origin this server does not answer to."""

    def __init__(self, app: ASGIApp, settings: Settings, bind_host: str,
                 on_refusal: Callable[[str], None] = lambda reason: None) -> None:
        self.app = app
        self.loopback = is_loopback(bind_host)
        self.hosts = _listed(settings.http_allowed_hosts)
        self.origins = _listed(settings.http_allowed_origins)
        self.on_refusal = on_refusal

    def host_ok(self, host: str | None) -> bool:
        if "*" in self.hosts or (not self.loopback and not self.hosts):
            return True
        if not host:
            return False
        name, port = split_host(host)
        if self.loopback and is_loopback(name):
            return True
        return any(allowed in (name, f"{name}:{port}") for allowed in self.hosts)

    def origin_ok(self, origin: str | None, host: str | None) -> bool:
        if origin is None or "*" in self.origins:
            return True
        origin = origin.strip().lower().rstrip("/")
        if origin in self.origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null" (a sandboxed page, a file) and anything unparseable
        if host and parts.netloc == host.strip().lower():
            return True  # the server's own origin
        return self.loopback and is_loopback(parts.hostname or "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNGUARDED:
            await self.app(scope, receive, send)
            return
        host = origin = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
        if not self.host_ok(host):
            self.on_refusal("host")
            await refuse(send, 421, -32003, f"[forbidden] this server does not answer to Host {host!r}: it accepts "
                         f"{'loopback names and ' if self.loopback else ''}the names in MCP_SESSIONS_HTTP_ALLOWED_HOSTS "
                         "(a request under another name may come from a web page: DNS rebinding)")
            return
        if not self.origin_ok(origin, host):
            self.on_refusal("origin")
            await refuse(send, 403, -32003, f"[forbidden] requests from Origin {origin!r} are not accepted: only the "
                         "server's own origin, loopback origins on a loopback address, and "
                         "MCP_SESSIONS_HTTP_ALLOWED_ORIGINS")
            return
        await self.app(scope, receive, send)


class _TooLarge(Exception):
    pass


async def _drain(receive: Receive, received: int, limit: int) -> None:
    """Read and drop the rest of a refused body (up to another `limit` bytes): a client
    reads the answer only once it has sent its request, and a connection closed under it
    loses the answer (a bare connection reset instead of the error naming the limit)."""
    more = True
    while more and received < 2 * limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        received += len(message.get("body", b""))
        more = message.get("more_body", False)


class BodyLimit:
    """ASGI middleware: refuse a request body over the limit, declared or streamed, before
    the MCP server reads it."""

    def __init__(self, app: ASGIApp, settings: Settings, on_refusal: Callable[[str], None] = lambda r: None) -> None:
        self.app = app
        self.limit = max_body_bytes(settings)
        self.content_limit = settings.max_content_bytes
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _drain(receive, 0, self.limit)
                await self._refuse(send, int(value))
                return
        received = 0
        over = False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True
                    raise _TooLarge
            return message

        async def unless_over(message: Message) -> None:
            if not over:  # once over, the inner app's answer (a 500 for our exception) is replaced by ours
                await send(message)

        try:
            await self.app(scope, counted, unless_over)
        except _TooLarge:
            pass
        if over:
            await _drain(receive, received, self.limit)
            await self._refuse(send, received, more=True)

    async def _refuse(self, send: Send, size: int, more: bool = False) -> None:
        self.on_refusal("too_large")
        await refuse(send, 413, -32600, (
            f"[invalid_input] the request body is {'over ' if more else ''}{size:,} bytes, over the HTTP limit of "
            f"{self.limit:,} bytes ({BODY_FACTOR} x MCP_SESSIONS_MAX_CONTENT_BYTES={self.content_limit:,}, plus "
            f"{BODY_ROOM // MIB} MiB): content (a chunk, an artifact) may be up to "
            f"{self.content_limit:,} bytes; split larger content into several parts"
        ), [(b"connection", b"close")])

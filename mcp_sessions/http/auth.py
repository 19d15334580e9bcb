"""Bearer-token authentication, in front of the MCP endpoint.

Every request to /mcp must carry `Authorization: Bearer <token>`; the token is checked
against the database, and the agent it belongs to becomes the caller's identity for the
whole request. A verified token is remembered for a second (verified_tokens.py: a query
and a pool round trip per request cost 18% of a get_session), so a revoked token stops
working within that. A bad, missing or revoked token gets 401 before anything reaches the MCP
server."""

from __future__ import annotations

import logging
from typing import Callable

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_sessions.errors import Unavailable
from mcp_sessions.http.guard import refuse
from mcp_sessions.verified_tokens import VerifiedTokens
from mcp_sessions.tools._base import App, authenticated_agent

log = logging.getLogger("mcp_sessions.http.auth")



class TokenAuth:
    """ASGI middleware: authenticate requests to everything except the `public` paths."""

    def __init__(
        self, app: ASGIApp, get_app: Callable[[], App | None], *, public: frozenset[str] = frozenset(),
        only: frozenset[str] | None = None, public_prefixes: tuple[str, ...] = (),
        on_refusal: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.app = app
        self.get_app = get_app
        self.public = public
        self.only = only  # when set, only these paths need a token
        self.public_prefixes = public_prefixes  # routes with their own credential (signed webhooks)
        self.on_refusal = on_refusal
        # sha256 of a token -> (its agent, until when on the monotonic clock). Refusals are
        # not remembered: a token that fails is checked again on its next request.
        self._verified = VerifiedTokens()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public or scope["path"].startswith(self.public_prefixes) or (
            self.only is not None and scope["path"] not in self.only
        ):
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        if token is None:
            await self._refuse(send, 401, "missing", "a bearer token is required: Authorization: Bearer <token>")
            return
        app = self.get_app()
        if app is None:
            await self._refuse(send, 503, "starting", "the server is starting; it is safe to retry")
            return
        try:
            agent = await self._verified.verify(app, token)
        except Unavailable as exc:
            await self._refuse(send, 503, "unavailable", exc.message)
            return
        if agent is None:
            await self._refuse(send, 401, "invalid", "the bearer token is unknown, wrong or revoked")
            return
        # The SDK binds an MCP session to the principal that opened it (another agent's
        # token can't use it); our tools read the contextvar, which the SDK carries into
        # the tool call.
        scope["user"] = AuthenticatedUser(AccessToken(token="", client_id=agent, subject=agent, scopes=[]))
        reset = authenticated_agent.set(agent)
        try:
            await self.app(scope, receive, send)
        finally:
            authenticated_agent.reset(reset)

    async def _refuse(self, send: Send, status: int, reason: str, message: str) -> None:
        self.on_refusal(reason)
        log.info("refused request: %s", reason, extra={"outcome": f"auth_{reason}"})
        code, tag = (-32001, "unauthorized") if status == 401 else (-32002, "unavailable")
        header = (b"www-authenticate", b'Bearer error="invalid_token"') if status == 401 else (b"retry-after", b"1")
        await refuse(send, status, code, f"[{tag}] {message}", [header])


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None

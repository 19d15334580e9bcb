"""Who may use the dashboard, and proof that an action came from its own pages.

With HTTP auth on (MCP_SESSIONS_HTTP_AUTH=token), a person signs in with an operator
token (`mcp-sessions tokens create --operator NAME`): the sign-in keeps the token in an
HttpOnly, SameSite=Strict cookie scoped to /ui/, and every request checks it against the
database (remembered for a second, like the agents' bearer tokens: verified_tokens.py). An agent's
token does not sign in, and an operator's token is refused at /mcp. With auth off
(loopback only) nobody signs in and actions are recorded as `operator:local`.

Every action (a POST) carries a CSRF token: a random value the server sets in a
SameSite=Strict cookie and writes into every form it renders; the POST must send it back
in the form (field `csrf`) or the X-CSRF-Token header, and it must equal the cookie. A
page on another site can neither read the cookie nor make the browser send it."""

from __future__ import annotations

import hmac
import secrets
from typing import Callable

from starlette.requests import Request

from mcp_sessions.config import Settings
from mcp_sessions.verified_tokens import VerifiedTokens
from mcp_sessions.tools._base import App

SESSION_COOKIE = "mcps_operator"
CSRF_COOKIE = "mcps_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
LOCAL_OPERATOR = "local"


class Access:
    def __init__(self, settings: Settings, get_app: Callable[[], App | None]) -> None:
        self.required = settings.http_auth == "token"
        self.get_app = get_app
        self._verified = VerifiedTokens(operator=True)

    async def operator(self, request: Request) -> str | None:
        """The signed-in operator's name, or None (sign in first)."""
        if not self.required:
            return LOCAL_OPERATOR
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        return await self.verify(token)

    async def verify(self, token: str) -> str | None:
        app = self.get_app()
        if app is None:
            return None
        return await self._verified.verify(app, token)


def actor(operator: str) -> str:
    """The name actions are recorded under: operators are told apart from agents."""
    return f"operator:{operator}"


def csrf_token(request: Request) -> tuple[str, bool]:
    """The request's CSRF token, and whether it is new (to be set as a cookie)."""
    current = request.cookies.get(CSRF_COOKIE)
    if current and len(current) >= 32:
        return current, False
    return secrets.token_urlsafe(32), True


def csrf_ok(request: Request, sent: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = sent or request.headers.get(CSRF_HEADER)
    return bool(cookie and sent) and hmac.compare_digest(cookie.encode(), sent.encode())

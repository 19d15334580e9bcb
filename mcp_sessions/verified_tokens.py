"""Tokens verified against the database, taken on trust for a second: a query and a pool
round trip per request cost 18% of a get_session. Revocation takes effect within
SECONDS. Used for agents' bearer tokens (http/auth.py) and operators' sign-in cookies
(ui/access.py)."""

from __future__ import annotations

import hashlib
import time

from mcp_sessions.store import tokens
from mcp_sessions.tools._base import App

# How long a verified token is taken on trust: revocation takes effect within this.
SECONDS = 1.0
# Past this many remembered tokens the memory starts over (it only saves queries).
MOST = 10_000


class VerifiedTokens:
    def __init__(self, *, operator: bool = False) -> None:
        self._operator = operator
        self._known: dict[bytes, tuple[str, float]] = {}

    async def verify(self, app: App, token: str) -> str | None:
        """Who the token belongs to (agent, or operator), or None."""
        key = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        known = self._known.get(key)
        if known is not None and known[1] > now:
            return known[0]
        async with app.connection() as conn:
            name = await tokens.verify(conn, token, operator=self._operator)
        if name is None:
            self._known.pop(key, None)
            return None
        if len(self._known) >= MOST:
            self._known.clear()
        self._known[key] = (name, now + SECONDS)
        return name

"""Per-agent bearer tokens for the HTTP transport: create, verify, list, revoke.

A token reads `mcps_<id>_<secret>`. The id is public (`tokens list` shows it, `tokens
revoke ID` takes it); the database keeps only SHA-256 of the whole token. Verifying is
a lookup by id and a constant-time compare of the hashes, on every request, so a
revoked token stops working at once."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from mcp_sessions.errors import InvalidInput, NotFound
from mcp_sessions.sql import QUERIES as Q

PREFIX = "mcps_"
# Matched whole (fullmatch): `$` would also accept a trailing newline.
_TOKEN = re.compile(r"mcps_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_AGENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]{0,99}")
# Compared against when the id is unknown, so that path does the same work as a wrong secret.
_DUMMY_HASH = hashlib.sha256(b"no such token").digest()


@dataclass(frozen=True)
class TokenInfo:
    id: str
    agent: str
    created: datetime
    last_used: datetime | None
    revoked_at: datetime | None
    operator: bool = False  # signs a person in to the dashboard, not an agent in to /mcp


def _info(row: Any) -> TokenInfo:
    return TokenInfo(**dict(row))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def check_agent(agent: str) -> str:
    if not _AGENT.fullmatch(agent):
        raise InvalidInput(
            f"agent name {agent!r} is not allowed: 1-100 characters of letters, digits and . _ : @ / -, "
            "starting with a letter or digit"
        )
    return agent


async def create(conn: asyncpg.Connection, agent: str, *, operator: bool = False) -> tuple[TokenInfo, str]:
    """A new token for agent (or, operator=True, for a person using the dashboard);
    returns its record and the token itself (never stored)."""
    token_id = secrets.token_hex(6)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    row = await conn.fetchrow(Q["insert_token"], token_id, check_agent(agent), _digest(token), operator)
    return _info(row), token


async def verify(conn: asyncpg.Connection, token: str, *, operator: bool = False) -> str | None:
    """The agent a live token belongs to, or None (malformed, unknown, wrong or revoked).
    operator=True: the operator a live operator token belongs to. An agent's token is
    not an operator's, nor the other way round."""
    match = _TOKEN.fullmatch(token)
    if not match:
        return None
    token_id = match[1]
    row = await conn.fetchrow(Q["token_for_id"], token_id)
    stored = row["token_sha256"] if row else _DUMMY_HASH
    # hmac.compare_digest takes the same time wherever the hashes differ.
    if not hmac.compare_digest(_digest(token), stored) or row is None or row["revoked_at"] is not None:
        return None
    if row["operator"] != operator:
        return None
    await conn.execute(Q["touch_token"], token_id)
    return row["agent"]


async def list_tokens(conn: asyncpg.Connection, *, agent: str | None = None, include_revoked: bool = False) -> list[TokenInfo]:
    return [_info(r) for r in await conn.fetch(Q["list_tokens"], agent, include_revoked)]


async def revoke(conn: asyncpg.Connection, token_id: str) -> TokenInfo:
    row = await conn.fetchrow(Q["revoke_token"], token_id)
    if row is None:
        if await conn.fetchrow(Q["token_exists"], token_id) is None:
            raise NotFound(f"no token with id {token_id!r}: `mcp-sessions tokens list` shows them")
        raise InvalidInput(f"token {token_id!r} is already revoked")
    return _info(row)


async def revoke_agent(conn: asyncpg.Connection, agent: str) -> list[TokenInfo]:
    return [_info(r) for r in await conn.fetch(Q["revoke_agent_tokens"], agent)]

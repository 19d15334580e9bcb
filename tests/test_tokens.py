"""Per-agent tokens: the CLI prints a token once, the database keeps only its hash,
verification refuses wrong, malformed and revoked tokens."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from mcp_sessions.errors import InvalidInput, NotFound
from mcp_sessions.store import tokens
from tests.conftest import REPO


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "MCP_SESSIONS_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "mcp_sessions", "tokens", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )


async def test_cli_create_list_revoke(database_url, conn):
    created = cli(database_url, "create", "--agent", "codex")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("mcps_") and "\n" not in token
    token_id = token.split("_")[1]
    assert "shown once" in created.stderr

    # Only the hash is stored: the token's text appears nowhere in the row.
    row = await conn.fetchrow("SELECT * FROM agent_tokens WHERE id = $1", token_id)
    assert row["agent"] == "codex"
    assert bytes(row["token_sha256"]) == hashlib.sha256(token.encode()).digest()
    assert all(token not in str(value) for value in row.values())
    assert await tokens.verify(conn, token) == "codex"

    listed = cli(database_url, "list")
    assert listed.returncode == 0 and token_id in listed.stdout and "codex" in listed.stdout
    assert token.split("_", 2)[2] not in listed.stdout

    revoked = cli(database_url, "revoke", token_id)
    assert revoked.returncode == 0 and token_id in revoked.stdout
    assert await tokens.verify(conn, token) is None
    assert token_id not in cli(database_url, "list").stdout
    assert "revoked" in cli(database_url, "list", "--all").stdout

    unknown = cli(database_url, "revoke", "0123456789ab")
    assert unknown.returncode == 1 and "no token with id" in unknown.stderr


async def test_revoke_all_of_an_agent(conn):
    (_, a1), (_, a2), (_, b1) = [await tokens.create(conn, name) for name in ("alice", "alice", "bob")]
    assert {await tokens.verify(conn, t) for t in (a1, a2, b1)} == {"alice", "bob"}
    revoked = await tokens.revoke_agent(conn, "alice")
    assert len(revoked) == 2
    assert await tokens.verify(conn, a1) is None and await tokens.verify(conn, a2) is None
    assert await tokens.verify(conn, b1) == "bob"
    assert [t.agent for t in await tokens.list_tokens(conn)] == ["bob"]
    assert len(await tokens.list_tokens(conn, agent="alice", include_revoked=True)) == 2
    with pytest.raises(InvalidInput, match="already revoked"):
        await tokens.revoke(conn, revoked[0].id)
    with pytest.raises(NotFound):
        await tokens.revoke(conn, "ffffffffffff")


async def test_wrong_and_malformed_tokens(conn):
    _, token = await tokens.create(conn, "codex")
    prefix, token_id, secret = token.split("_", 2)
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for bad in (
        f"{prefix}_{token_id}_{flipped}",           # right id, wrong secret
        f"{prefix}_ffffffffffff_{secret}",           # unknown id
        token + "x", token[:-1], "", "Bearer " + token, token.upper(), token + "\n",
    ):
        assert await tokens.verify(conn, bad) is None, bad


async def test_agent_names_are_checked(conn):
    for bad in ("", "a b", "-x", "x" * 101, "é", "codex\n"):
        with pytest.raises(InvalidInput, match="agent name"):
            await tokens.create(conn, bad)

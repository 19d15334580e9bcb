"""TLS to the database through sslmode in DATABASE_URL (what managed PostgreSQL asks
for): the server's connections are encrypted, and verify-full checks the certificate."""

from __future__ import annotations

from typing import Iterator

import asyncpg
import pytest
from mcp import Client

from mcp_sessions import migrations
from mcp_sessions.db import connect
from mcp_sessions.server import create_server
from tests.conftest import call, make_settings
from tests.resilience_support import TlsPostgres


@pytest.fixture
def tls_postgres() -> Iterator[TlsPostgres]:
    try:
        pg = TlsPostgres()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    try:
        yield pg
    finally:
        pg.close()


async def encrypted_backends(admin_dsn: str) -> list[bool]:
    """pg_stat_ssl.ssl of every other client connection to the postgres database."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        return [r["ssl"] for r in await conn.fetch(
            """SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
               WHERE a.backend_type = 'client backend' AND a.datname = 'postgres' AND a.pid <> pg_backend_pid()"""
        )]
    finally:
        await conn.close()


async def test_the_server_speaks_tls_when_the_dsn_asks(tls_postgres):
    base, cert = tls_postgres.dsn, tls_postgres.cert
    conn = await connect(base + "?sslmode=disable")
    await migrations.migrate(conn)
    await conn.close()
    for query in ("?sslmode=require", f"?sslmode=verify-full&sslrootcert={cert}"):
        async with Client(create_server(make_settings(base + query, pool_min_size=2))) as client:
            sid = (await call(client, "create_session", title="over TLS"))["id"]
            assert (await call(client, "get_session", session_id=sid))["title"] == "over TLS"
            ssl = await encrypted_backends(base + "?sslmode=disable")
            assert ssl and all(ssl), (query, ssl)
    # verify-full refuses a server whose certificate it can't trust.
    with pytest.raises(Exception, match="(?i)certificate"):
        await asyncpg.connect(base + "?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt")

"""pytest plugin for the PgBouncer pass of CI (`-p tests.pgbouncer_support`, with
MCP_SESSIONS_TEST_PGBOUNCER=1): starts Debian's pgbouncer in transaction pooling mode
on a free loopback port in front of the PostgreSQL under test, and points every
mcp-sessions server the tests start (in-memory, stdio, HTTP) at it.

The tests' own connections (admin work such as CREATE DATABASE ... TEMPLATE, and the
`conn` fixture that checks what was written) stay direct: PgBouncer keeps idle server
connections to a database, which would block CREATE DATABASE from the template, and
the point is what the server does behind the pooler, not the test harness."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ENABLED = os.environ.get("MCP_SESSIONS_TEST_PGBOUNCER") == "1"
CONFTEST = Path(__file__).resolve().parent / "conftest.py"


class Bouncer:
    def __init__(self, upstream_dsn: str) -> None:
        up = urlsplit(upstream_dsn)
        self.upstream = (up.hostname or "127.0.0.1", up.port or 5432)
        self.dir = Path(tempfile.mkdtemp(prefix="mcp-sessions-pgbouncer-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        (self.dir / "userlist.txt").write_text('"postgres" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            f"""[databases]
* = host={self.upstream[0]} port={self.upstream[1]}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir / "userlist.txt"}
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
"""
        )
        os.chmod(self.dir, 0o755)
        # pgbouncer will not run as root; -u drops to the postgres user.
        user = ["-u", "postgres"] if os.geteuid() == 0 else []
        self.log = open(self.dir / "pgbouncer.log", "wb")
        self.process = subprocess.Popen(
            [shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", *user, str(self.dir / "pgbouncer.ini")],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pgbouncer did not start: {(self.dir / 'pgbouncer.log').read_text()}")
                time.sleep(0.1)

    def route(self, dsn: str) -> str:
        """The same database, reached through PgBouncer."""
        parts = urlsplit(dsn)
        if (parts.hostname, parts.port or 5432) != self.upstream:
            return dsn
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


_bouncer: Bouncer | None = None


def _conftests() -> list:
    import importlib

    mods = [importlib.import_module("tests.conftest")]
    mods += [m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == str(CONFTEST) and m not in mods]
    return mods


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    global _bouncer
    if not ENABLED:
        return
    if os.environ.get("MCP_SESSIONS_TEST_PG", "local") != "local":
        raise pytest.UsageError("the PgBouncer pass runs against the local PostgreSQL (MCP_SESSIONS_TEST_PG=local)")
    if os.environ.get("MCP_SESSIONS_STATEMENT_CACHE_SIZE") != "0":
        raise pytest.UsageError("behind PgBouncer in transaction mode set MCP_SESSIONS_STATEMENT_CACHE_SIZE=0")
    _bouncer = Bouncer(os.environ.get("MCP_SESSIONS_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    route = _bouncer.route
    for mod in _conftests():
        make_settings, server_params = mod.make_settings, mod.server_params
        # The LISTEN connection that wakes waiting claimers stays direct, as docs/operations.md says to configure it.
        mod.make_settings = lambda url, *a, _f=make_settings, **k: _f(route(url), *a, **{"listen_database_url": url, **k})
        # stdio servers get only the environment they are given: pass the PgBouncer setting on.
        mod.server_params = lambda url, *a, _f=server_params, **k: _f(
            route(url) if url else url, *a,
            **{"MCP_SESSIONS_STATEMENT_CACHE_SIZE": "0", **({"MCP_SESSIONS_LISTEN_DATABASE_URL": url} if url else {}), **k}
        )
    import tests.http_support

    tests.http_support.server_dsn = route


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _bouncer is None:
        return
    log = (_bouncer.dir / "pgbouncer.log").read_text(errors="replace")
    _bouncer.stop()
    # Proof the pass did what it says: servers under test logged in through the pooler.
    logins = log.count("login attempt: db=mcps_test_")
    print(f"\nPgBouncer: {logins} client logins to test databases", file=sys.stderr)
    if logins == 0 and session.testscollected:
        print("PgBouncer pass: no server connected through PgBouncer", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_report_header(config: pytest.Config) -> str | None:
    return "servers under test reach PostgreSQL through PgBouncer (transaction pooling)" if ENABLED else None

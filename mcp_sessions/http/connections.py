"""HTTP connections that can't be held open for free.

uvicorn closes a keep-alive connection 5 s after a response, but a connection that
never sends a request, or sends part of one and stops (a slow loris, a client that
vanished mid-upload), was held forever: a thousand of them used up the process's
file descriptors and /healthz could no longer connect. Here a connection that keeps
the server waiting for its next bytes longer than MCP_SESSIONS_HTTP_IDLE_TIMEOUT is
closed. A request being answered (a long-poll claim waits minutes) is not idle: the
timer runs only while the server waits on the client. TCP keepalive probes find
peers that disappeared without a word (half-open connections) while a response is
pending."""

from __future__ import annotations

import functools
import logging
import resource
import socket

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from mcp_sessions.config import Settings

log = logging.getLogger("mcp_sessions.http")

# Probe a silent peer after a minute, then every 10 s; gone after 5 unanswered probes.
KEEPALIVE = {"TCP_KEEPIDLE": 60, "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 5}


@functools.cache
def idle_timeout() -> float:
    # Read here, not passed in: `serve --workers N` spawns workers from an import string.
    return Settings().http_idle_timeout


def raise_open_files_limit() -> None:
    """Every connection holds a file descriptor, and the soft limit is often 1024 (the hard
    one far higher): take the hard limit, so that many idle clients don't stop the
    server from accepting (children, the --workers processes, inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.debug("could not raise the open files limit from %s: %s", soft, exc)


class IdleTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections that leave the server waiting."""

    def connection_made(self, transport) -> None:  # noqa: ANN001
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                for name, value in KEEPALIVE.items():
                    if hasattr(socket, name):
                        sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
            except OSError:
                pass  # not TCP (a Unix socket): nothing to probe
        self._idle_timer = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = self.loop.call_later(idle_timeout(), self._on_idle)

    def _waiting_on_client(self) -> bool:
        # IDLE: no request yet (or between requests); SEND_BODY: a body sent in part.
        # Not while reads are paused: then the server is the one behind.
        return self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.flow.read_paused

    def _on_idle(self) -> None:
        self._idle_timer = None
        if self.transport.is_closing():
            return
        if not self._waiting_on_client():
            self._arm()  # answering a request: check again later
            return
        self.transport.close()

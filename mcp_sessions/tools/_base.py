"""What every tool shares: the application context, one transaction per call, error
translation, and the annotation presets."""

from __future__ import annotations

import functools
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

import asyncpg
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from mcp_sessions.config import Settings
from mcp_sessions.errors import SessionsError
from mcp_sessions.store.errors import translate_errors
from mcp_sessions.store.task_waiter import TaskWaiter

log = logging.getLogger("mcp_sessions.tools")

T = TypeVar("T")


@dataclass
class App:
    """The lifespan's result: everything a tool needs, owned by the server process."""

    pool: asyncpg.Pool
    settings: Settings
    # Long-poll claims and the lease sweep (store/task_waiter.py); None: no waiting.
    waiter: TaskWaiter | None = None

    @property
    def agent(self) -> str:
        """The calling agent's identity (MCP_SESSIONS_AGENT over stdio)."""
        return self.settings.agent

    def claimant(self, requested: str | None) -> str:
        """The agent a claim/heartbeat/completion is made as. Over stdio a process may act
        for another agent name; an authenticated (HTTP) identity may not."""
        return requested or self.agent

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """One connection, one transaction: the call happens entirely or not at all."""
        with translate_errors():
            async with self.pool.acquire() as conn:
                async with conn.transaction():
                    yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection without a transaction, for reads and for calls that must not hold one."""
        with translate_errors():
            async with self.pool.acquire() as conn:
                yield conn


def app_of(ctx: Context) -> App:
    return ctx.request_context.lifespan_context


READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
CREATE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
UPSERT = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
CHANGE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)
DELETE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


def tool(mcp: MCPServer, annotations: ToolAnnotations) -> Callable[[Callable[..., Awaitable[T]]], Callable[..., Awaitable[T]]]:
    """Register a tool whose domain errors become is_error results with their message
    (anything unexpected stays a generic error: no traceback reaches a client)."""

    def decorator(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> T:
            started = time.perf_counter()
            outcome = "ok"
            try:
                return await fn(*args, **kwargs)
            except SessionsError as exc:
                outcome = exc.code
                raise ToolError(exc.message) from exc  # SessionsServer.call_tool words it
            except Exception:
                outcome = "crash"
                raise
            finally:
                log.info("tool=%s outcome=%s ms=%.1f", fn.__name__, outcome, (time.perf_counter() - started) * 1000)

        mcp.add_tool(wrapper, annotations=annotations)
        return wrapper

    return decorator

"""What every tool shares: the application context, one transaction per call, error
translation, and the annotation presets."""

from __future__ import annotations

import functools
import logging
import time
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

import asyncpg
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

from mcp_sessions.config import Settings
from mcp_sessions.errors import InvalidInput, SessionsError, Unavailable
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.store.errors import translate_errors
from mcp_sessions.store.event_waiter import EventWaiter
from mcp_sessions.store.task_waiter import TaskWaiter

log = logging.getLogger("mcp_sessions.tools")

T = TypeVar("T")

# last_seen moves at most this often for calls other than claims and heartbeats.
SEEN_EVERY_SECONDS = 60.0

# A connection that went away mid-call (not an error the server reported).
_LOST = (asyncpg.ConnectionDoesNotExistError, ConnectionError, OSError)

# The agent an HTTP request authenticated as (set per request by mcp_sessions.http.auth;
# the SDK carries contextvars from the request to the tool call). None over stdio.
authenticated_agent: ContextVar[str | None] = ContextVar("mcp_sessions_authenticated_agent", default=None)


@dataclass(frozen=True)
class CallRecord:
    """One finished tool call, for logs and metrics (never its arguments or content)."""

    tool: str
    agent: str
    outcome: str
    seconds: float


@dataclass
class App:
    """The lifespan's result: everything a tool needs, owned by the server process."""

    pool: asyncpg.Pool
    settings: Settings
    # Long-poll claims and the lease sweep (store/task_waiter.py); None: no waiting.
    waiter: TaskWaiter | None = None
    # Waiting for events (store/event_waiter.py), on the waiter's LISTEN connection.
    events: EventWaiter | None = None
    # Resource subscriptions fed by the event feed (resources/live.py); None: not served.
    resources: Any = None
    on_call: Callable[[CallRecord], None] | None = None  # the HTTP transport's metrics
    # When each agent's last_seen was last moved by this process (time.monotonic()).
    _seen: dict[str, float] = field(default_factory=dict)

    async def seen(self) -> None:
        """Move the calling agent's last_seen (a registered agent's sign of life) on any of
        its calls, at most once a minute: per process here, across processes in the SQL."""
        agent, now = self.agent, time.monotonic()
        if now - self._seen.get(agent, float("-inf")) < SEEN_EVERY_SECONDS:
            return
        self._seen[agent] = now
        try:
            async with self.connection() as conn:
                await conn.execute(Q["agent_seen"], agent, SEEN_EVERY_SECONDS)
        except SessionsError as exc:  # a sign of life is never worth failing a call for
            log.info("could not update last_seen of %s: %s", agent, exc.code)

    @property
    def agent(self) -> str:
        """The calling agent's identity: its token's agent over HTTP, MCP_SESSIONS_AGENT over stdio."""
        return authenticated_agent.get() or self.settings.agent

    @property
    def authenticated(self) -> str | None:
        """The agent the caller proved to be (its HTTP token), or None (stdio: trusted process).
        Claim-token operations should also require claimed_by = this when it is set."""
        return authenticated_agent.get()

    def only_self(self, requested: str | None, parameter: str) -> str:
        """The agent a call acts as or on (a claim's holder, a registry entry). Over stdio a
        process may name another agent; an authenticated (HTTP) caller may name only itself."""
        authenticated = authenticated_agent.get()
        if authenticated is not None and requested not in (None, authenticated):
            raise InvalidInput(
                f"{parameter} {requested!r} is not you: your token authenticates you as {authenticated!r}, "
                f"and you can only act as yourself ({parameter}={authenticated!r}, or omit it where it is optional)"
            )
        return requested or self.agent

    def claimant(self, requested: str | None) -> str:
        """The agent a claim/heartbeat/completion is made as."""
        return self.only_self(requested, "agent_name")

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.Connection]:
        # A bounded wait: with every connection busy, fail clearly instead of queueing forever.
        timeout = self.settings.pool_acquire_timeout
        try:
            conn = await self.pool.acquire(timeout=timeout)
        except TimeoutError as exc:
            raise Unavailable(
                f"no database connection became free within {timeout:g}s (all {self.pool.get_max_size()} "
                "are busy, or the database is slow to accept connections); nothing was written, it is safe to retry"
            ) from exc
        except _LOST + (asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError) as exc:
            # No statement was sent: this is the one place that knows nothing was written.
            raise Unavailable(
                f"the database is unreachable ({type(exc).__name__}); nothing was written, it is safe to retry"
            ) from exc
        try:
            yield conn
        finally:
            try:
                await self.pool.release(conn)
            except Exception as exc:
                # The call's outcome is already decided (a COMMIT may have succeeded): a
                # connection that fails its reset (the server went away) is discarded by
                # asyncpg, and must not turn that outcome into an error.
                log.warning("discarded a broken database connection on release: %s", type(exc).__name__)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """One connection, one transaction: the call happens entirely or not at all."""
        with translate_errors():
            async with self._acquire() as conn:
                body_done = False
                try:
                    async with conn.transaction():
                        yield conn
                        body_done = True
                except _LOST as exc:
                    if not body_done:
                        raise
                    # The connection died during COMMIT: only the server knows if it landed.
                    raise Unavailable(
                        "the connection to the database was lost while committing, so the write may or may "
                        "not have been applied: check before retrying, or retry with the same ids"
                    ) from exc

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection without a transaction, for reads and for calls that must not hold one."""
        with translate_errors():
            async with self._acquire() as conn:
                yield conn


def app_of(ctx: Context) -> App:
    return ctx.request_context.lifespan_context


READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
CREATE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
UPSERT = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
CHANGE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)
DELETE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


def _compact(result: Any) -> Any:
    """The result as structured content plus the same JSON, compact, as its text block
    (the SDK's default text is indented, which costs a client's context window ~30% more)."""
    if not isinstance(result, BaseModel):
        return result
    from mcp_sessions.resources.links import links_for  # (resources import this module)

    return CallToolResult(
        # and links to the resources it wrote or found, which a client can open directly
        content=[TextContent(type="text", text=result.model_dump_json()), *links_for(result)],
        structured_content=result.model_dump(mode="json"),
    )


# Every tool function by name, as declared (its parameters' types are what the tool
# accepts): the archive import holds imported rows to the same types.
DECLARED: dict[str, Callable[..., Any]] = {}


def tool(mcp: MCPServer, annotations: ToolAnnotations) -> Callable[[Callable[..., Awaitable[T]]], Callable[..., Awaitable[T]]]:
    """Register a tool whose domain errors become is_error results with their message
    (anything unexpected stays a generic error: no traceback reaches a client)."""

    def decorator(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        DECLARED[fn.__name__] = fn
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> T:
            started = time.perf_counter()
            outcome = "ok"
            ctx = next((v for v in kwargs.values() if isinstance(v, Context)), None)
            try:
                return _compact(await fn(*args, **kwargs))
            except SessionsError as exc:
                outcome = exc.code
                raise ToolError(exc.message) from exc  # SessionsServer.call_tool words it
            except Exception:
                outcome = "crash"
                raise
            finally:
                app = app_of(ctx) if ctx is not None else None
                record = CallRecord(fn.__name__, app.agent if app else "-", outcome, time.perf_counter() - started)
                # Names, outcome and timing only: never arguments or content.
                log.info(
                    "tool=%s agent=%s outcome=%s ms=%.1f", record.tool, record.agent, record.outcome,
                    record.seconds * 1000, extra={"tool": record.tool, "agent": record.agent,
                                                  "outcome": record.outcome, "ms": round(record.seconds * 1000, 1)},
                )
                if app is not None and app.on_call is not None:
                    app.on_call(record)

        mcp.add_tool(wrapper, annotations=annotations)
        return wrapper

    return decorator

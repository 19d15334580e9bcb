"""Task queue tools: create_task, claim_task, heartbeat_task, start_task, complete_task,
fail_task, cancel_task, get_task, list_tasks. Lifecycle: pending -> claimed (leased) ->
running -> completed | failed | cancelled; a lease that runs out puts it back to pending.

Each lifecycle step is one statement (its SQL function), atomic on its own, so those
tools skip the BEGIN/COMMIT round trips (which halved throughput in bench/)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_sessions.models import (
    ClaimResult,
    CompletedTask,
    Task,
    TaskDetail,
    TaskPage,
    TaskState,
    TaskStatus,
    TaskType,
)
from mcp_sessions.store import tasks as store
from mcp_sessions.store.errors import translate_errors
from mcp_sessions.tools._base import CHANGE, CREATE, READ, app_of, tool
from mcp_sessions.validation import AnyJson, ArgumentModel, Cursor, Identifier, Limit, Text

Token = Annotated[str, Field(min_length=1, max_length=100, description="From claim_task.")]
Lease = Annotated[float, Field(ge=1, le=86400, description="Lease length in seconds.")]
MAX_WAIT_SECONDS = 300


class ClaimNext(ArgumentModel):
    """What complete_task's claim_next claims for you, the way claim_task would (no waiting)."""

    session_id: Identifier | None = None
    task_types: list[TaskType] | None = None
    lease_seconds: Lease = store.DEFAULT_LEASE_SECONDS


def _state(task: Task) -> TaskState:
    return TaskState.model_validate(task.model_dump())


def register(mcp: MCPServer) -> None:
    @tool(mcp, CREATE)
    async def create_task(
        session_id: Identifier,
        task_type: TaskType,
        ctx: Context,
        agent_name: Annotated[Identifier | None, Field(description="Meant for; default any.")] = None,
        title: Text(500) | None = None,
        input_data: AnyJson = {},
        priority: Annotated[int, Field(ge=-1000, le=1000, description="Higher first.")] = 0,
        run_after: Annotated[datetime | None, Field(description="Not claimable before.")] = None,
        depends_on: Annotated[list[Identifier], Field(max_length=100, description="Task ids to complete first.")] = [],
        max_attempts: Annotated[int, Field(ge=1, le=100)] = 3,
        idempotency_key: Annotated[Identifier | None, Field(description="Same key, same task.")] = None,
    ) -> Task:
        """Queue work for an agent (or any agent); returns the task. A repeated idempotency_key in the session returns the existing task."""
        app = app_of(ctx)
        async with app.transaction() as conn:
            return await store.create(
                conn, session_id, task_type=task_type, agent_name=agent_name, title=title,
                input_data=input_data, priority=priority, agent=app.agent, run_after=run_after,
                depends_on=depends_on, max_attempts=max_attempts, idempotency_key=idempotency_key,
            )

    @tool(mcp, CHANGE)
    async def claim_task(
        ctx: Context,
        agent_name: Annotated[Identifier | None, Field(description="Leave out to claim as yourself (the usual case); only a dispatcher claims for an agent it runs. Over HTTP: your own name only.")] = None,
        session_id: Identifier | None = None,
        task_types: list[TaskType] | None = None,
        lease_seconds: Lease = store.DEFAULT_LEASE_SECONDS,
        wait_seconds: Annotated[float, Field(ge=0, le=MAX_WAIT_SECONDS, description="Wait this long for work.")] = 0,
    ) -> ClaimResult:
        """Take the next task for you (highest priority, then oldest), leased exclusively; task is null if none.
        Heartbeat before the lease ends; finish with complete_task or fail_task and the claim_token."""
        app = app_of(ctx)
        agent = app.claimant(agent_name)

        async def attempt() -> ClaimResult:
            # One statement (the SQL function), so atomic without BEGIN/COMMIT round
            # trips; nothing is held open between attempts while waiting.
            async with app.connection() as conn:
                return await store.claim(
                    conn, agent=agent, session_id=session_id, task_types=task_types, lease_seconds=lease_seconds
                )

        if wait_seconds <= 0 or app.waiter is None:
            return await attempt()
        with translate_errors():  # the waiter's own registrations use the pool too
            return await app.waiter.claim(
                attempt, agent=agent, session_id=session_id, task_types=task_types, wait_seconds=wait_seconds
            )

    @tool(mcp, CHANGE)
    async def heartbeat_task(
        task_id: Identifier, claim_token: Token, ctx: Context,
        lease_seconds: Annotated[Lease | None, Field(description="Seconds; default: the claim's lease_seconds.")] = None,
    ) -> TaskState:
        """Extend your lease; returns the new lease_expires_at. Refused once it ran out or was cancelled."""
        app = app_of(ctx)
        async with app.connection() as conn:
            return await store.heartbeat(conn, task_id, claim_token, lease_seconds, app.authenticated)

    @tool(mcp, CHANGE)
    async def start_task(
        task_id: Identifier,
        claim_token: Token,
        ctx: Context,
        process_id: Annotated[int | None, Field(ge=0, le=2**31 - 1, description="PID working it.")] = None,
    ) -> TaskState:
        """Mark a task you claimed as running, with the PID that works it; the lease still needs heartbeats."""
        app = app_of(ctx)
        async with app.connection() as conn:
            return await store.start(conn, task_id, claim_token, process_id, app.authenticated)

    @tool(mcp, CHANGE)
    async def complete_task(
        task_id: Identifier,
        claim_token: Token,
        ctx: Context,
        output_data: AnyJson = {},
        claim_next: Annotated[
            ClaimNext | None, Field(description="Also claim your next task, in the same call: {} for any.")
        ] = None,
    ) -> CompletedTask:
        """Finish a task you claimed, with its output. Refused if your claim is stale.
        With claim_next, the next task (as claim_task would give it) comes back as next_task."""
        app = app_of(ctx)
        async with app.connection() as conn:
            return await store.complete(
                conn, task_id, claim_token, output_data, app.authenticated,
                claim_next=claim_next is not None, **(claim_next.model_dump() if claim_next else {}),
            )

    @tool(mcp, CHANGE)
    async def fail_task(
        task_id: Identifier,
        claim_token: Token,
        error: Text(10000),
        ctx: Context,
        retry: Annotated[bool, Field(description="Retry with backoff if attempts remain.")] = True,
    ) -> TaskState:
        """Give up on a task you claimed, saying why; it is retried with backoff until max_attempts unless retry=false."""
        app = app_of(ctx)
        async with app.connection() as conn:
            return await store.fail(conn, task_id, claim_token, error, retry, app.authenticated)

    @tool(mcp, CHANGE)
    async def cancel_task(task_id: Identifier, reason: Text(2000), ctx: Context) -> TaskState:
        """Cancel a pending, claimed or running task; its holder's claim_token stops working, its dependents fail."""
        app = app_of(ctx)
        async with app.connection() as conn:
            return _state(await store.cancel(conn, task_id, reason, app.agent))

    @tool(mcp, READ)
    async def get_task(task_id: Identifier, ctx: Context) -> TaskDetail:
        """One task: status, input, output, claim, dependencies and history of transitions."""
        async with app_of(ctx).connection() as conn:
            return await store.get(conn, task_id)

    @tool(mcp, READ)
    async def list_tasks(
        ctx: Context,
        session_id: Identifier | None = None,
        status: TaskStatus | None = None,
        agent_name: Identifier | None = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> TaskPage:
        """Tasks, oldest first, by session, status or target agent; get_task adds dependencies and history. Page with next_cursor."""
        async with app_of(ctx).connection() as conn:
            return await store.list_page(
                conn, session_id=session_id, status=status, agent_name=agent_name, limit=limit, cursor=cursor
            )

"""Task queue tools: create_task, claim_task, complete_task, fail_task, get_task, list_tasks."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_sessions.models import ClaimResult, Task, TaskPage, TaskStatus, TaskType
from mcp_sessions.store import tasks as store
from mcp_sessions.tools._base import CHANGE, CREATE, READ, app_of, tool
from mcp_sessions.validation import AnyJson, Cursor, Identifier, Limit, Text

Token = Annotated[str, Field(min_length=1, max_length=100, description="The claim_token claim_task returned.")]


def register(mcp: MCPServer) -> None:
    @tool(mcp, CREATE)
    async def create_task(
        session_id: Identifier,
        task_type: TaskType,
        ctx: Context,
        agent_name: Annotated[Identifier | None, Field(description="Agent meant to do it; default: any.")] = None,
        title: Text(500) | None = None,
        input_data: AnyJson = {},
        priority: Annotated[int, Field(ge=-1000, le=1000, description="Higher is claimed first.")] = 0,
    ) -> Task:
        """Queue work for an agent (or for any agent)."""
        app = app_of(ctx)
        async with app.transaction() as conn:
            return await store.create(
                conn, session_id, task_type=task_type, agent_name=agent_name, title=title,
                input_data=input_data, priority=priority, agent=app.agent,
            )

    @tool(mcp, CHANGE)
    async def claim_task(
        ctx: Context,
        agent_name: Annotated[Identifier | None, Field(description="Claim as this agent; default: you.")] = None,
        session_id: Identifier | None = None,
        task_types: list[TaskType] | None = None,
    ) -> ClaimResult:
        """Take the next task meant for you or for anyone (highest priority, then oldest), exclusively.
        task is null when there is nothing to do. Keep its claim_token for complete_task / fail_task."""
        app = app_of(ctx)
        async with app.transaction() as conn:
            return await store.claim(conn, agent=app.claimant(agent_name), session_id=session_id, task_types=task_types)

    @tool(mcp, CHANGE)
    async def complete_task(task_id: Identifier, claim_token: Token, ctx: Context, output_data: AnyJson = {}) -> Task:
        """Finish a task you claimed, with its output. Refused if your claim is stale."""
        async with app_of(ctx).transaction() as conn:
            return await store.complete(conn, task_id, claim_token, output_data)

    @tool(mcp, CHANGE)
    async def fail_task(task_id: Identifier, claim_token: Token, error: Text(10000), ctx: Context) -> Task:
        """Give up on a task you claimed, saying why. Refused if your claim is stale."""
        async with app_of(ctx).transaction() as conn:
            return await store.fail(conn, task_id, claim_token, error)

    @tool(mcp, READ)
    async def get_task(task_id: Identifier, ctx: Context) -> Task:
        """One task with its status, input, output and claim."""
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
        """Tasks, oldest first, by session, status or target agent."""
        async with app_of(ctx).connection() as conn:
            return await store.list_page(
                conn, session_id=session_id, status=status, agent_name=agent_name, limit=limit, cursor=cursor
            )

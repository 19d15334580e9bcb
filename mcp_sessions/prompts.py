"""MCP prompts: join_session, handoff, work_queue. Each is filled with the session's or
the queue's real state (the catch_up digest, the caller's open tasks and reservations),
not a static text; clients show them as commands."""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer

from mcp_sessions.models import CatchUp
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.store import catch_up
from mcp_sessions.tools._base import app_of
from mcp_sessions.validation import text_problem


async def _digest(ctx: Context, session_id: str) -> tuple[CatchUp, str]:
    if problem := text_problem(session_id):
        from mcp_sessions.errors import InvalidInput

        raise InvalidInput(f"session_id {problem}")
    app = app_of(ctx)
    async with app.connection() as conn:
        return await catch_up.snapshot(conn, session_id, app.agent), app.agent


def register(mcp: MCPServer) -> None:
    @mcp.prompt(title="Join a session", description="What has happened in a session and how to work in it with "
                "the other agents: the catch_up digest, then the tools to use.")
    async def join_session(session_id: str, ctx: Context) -> str:
        digest, me = await _digest(ctx, session_id)
        sid = digest.session.id
        return f"""You are {me}, joining the shared session "{digest.session.title}" ({sid}) in mcp-sessions.
Here is everything that happened so far, as catch_up returns it:

{digest.model_dump_json(indent=1)}

How to work here:
- Take work with claim_task(session_id="{sid}", wait_seconds=30); heartbeat_task while you work;
  finish with complete_task (or fail_task saying why). Open tasks are listed above.
- Before editing files, reserve(session_id="{sid}", paths=[...]); release them when done.
- Record decisions, facts, risks and open questions with remember(session_id="{sid}", type=...).
- Put write-ups and code in save_artifact; transcripts in add_chunk.
- Follow what the others do with watch(session_id="{sid}", after="{digest.cursor}", wait_seconds=60),
  and your messages with read_inbox(session_id="{sid}"); answer with send_message.
- You have {digest.inbox.unread} unread message(s): read them first."""

    @mcp.prompt(title="Hand off your work", description="Leave your work in a session so that another agent can "
                "continue: decisions as memories, a write-up artifact, tasks for what is left, a message to them.")
    async def handoff(session_id: str, to_agent: str, ctx: Context) -> str:
        digest, me = await _digest(ctx, session_id)
        sid = digest.session.id
        mine = [t for t in digest.tasks.open if t.holder == me]
        held = "\n".join(f"  - {t.id} [{t.status}] {t.title or ''}" for t in mine) or "  (none)"
        reserved = [r for r in digest.reservations.items if getattr(r, "agent", None) == me]
        paths = "\n".join(f"  - {', '.join(r.paths)}" for r in reserved) or "  (none)"
        return f"""You are {me}, handing your work in session "{digest.session.title}" ({sid}) to {to_agent}.
Tasks you hold now:
{held}
Paths you have reserved:
{paths}

Do this, in order, with the mcp-sessions tools:
1. remember(session_id="{sid}", type="decision", key=..., content=...) for each decision you made,
   and type="risk" / "question" / "action_item" for what {to_agent} must know or do.
2. save_artifact(session_id="{sid}", name="handoff-{me}-to-{to_agent}.md", type="document", content=...):
   what you did, where it stands, what you tried that did not work, how to continue.
3. For each task you hold: complete_task if it is done; otherwise fail_task(..., retry=true) with a
   note, or create_task(session_id="{sid}", agent_name="{to_agent}", ...) for what is left.
4. release(session_id="{sid}") your reservations, unless {to_agent} should keep working on those paths
   (then say so in the message).
5. send_message(session_id="{sid}", to=["{to_agent}"], subject="Handoff from {me}", importance="high",
   ack_required=true, body=...): where the write-up is, what is left, what to look at first."""

    @mcp.prompt(title="Work the task queue", description="The worker loop: claim a task (waiting for one), "
                "heartbeat while working, complete it and claim the next in one call, fail with a reason.")
    async def work_queue(ctx: Context, task_types: str | None = None) -> str:
        app = app_of(ctx)
        types = [t.strip() for t in task_types.split(",") if t.strip()] if task_types else None
        async with app.connection() as conn:  # (it translates driver errors)
            rows = await conn.fetch(Q["claimable_by_type"], app.agent)
        waiting = ", ".join(f"{r['n']} {r['task_type']}" for r in rows if not types or r["task_type"] in types)
        kinds = f", task_types={types}" if types else ""
        next_filter = f'{{"task_types": {types}}}' if types else "{}"
        return f"""You are {app.agent}, working the shared task queue of mcp-sessions.
Claimable for you right now: {waiting or 'nothing yet (claim_task waits for work)'}.

Loop:
1. claim_task(wait_seconds=60{kinds}) -> a task with claim_token and lease_expires_at (null: nothing came; claim again).
2. Work on it. Call heartbeat_task(task_id, claim_token) before the lease ends (every ~100 s for the
   default 300 s lease). If the heartbeat is refused, stop: the task was cancelled or taken over.
3. Done: complete_task(task_id, claim_token, output_data={{...}}, claim_next={next_filter})
   finishes it and hands you the next task in the same call (next_task); go to 2 with it, or to 1 if none.
4. Cannot finish: fail_task(task_id, claim_token, error="why", retry=true) (false: it will not work on retry).
Record what you learn with remember, results with save_artifact, and say what you did in output_data."""

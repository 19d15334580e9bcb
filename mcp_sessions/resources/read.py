"""Resource templates: what a client reads (or attaches with @) under mcp-sessions://.
Thin, as tools are: validate, call the store, shape the content."""

from __future__ import annotations

import json

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from mcp_sessions.errors import InvalidInput, NotFound
from mcp_sessions.resources import uris
from mcp_sessions.store import artifacts, catch_up, chunks, memories, tasks
from mcp_sessions.tools._base import app_of
from mcp_sessions.validation import text_problem

# A chunk or an artifact is served whole up to this many characters (answers stay
# under 100 KB); past it the resource ends with how to read the rest with the tools.
MAX_RESOURCE_CHARS = 90_000
JSON = "application/json"


def _json(model: BaseModel) -> str:
    return model.model_dump_json()


def _check(*values: str) -> None:
    for value in values:
        if problem := text_problem(value):
            raise InvalidInput(f"the URI {problem}")


def _slice(content: str, total: int, how: str) -> str:
    if total <= MAX_RESOURCE_CHARS:
        return content
    return (f"{content}\n\n[mcp-sessions: the first {MAX_RESOURCE_CHARS:,} of {total:,} characters; "
            f"read the rest with {how}, offset={MAX_RESOURCE_CHARS}]")


def register(mcp: MCPServer) -> None:
    @mcp.resource(uris.SESSION, name="session", title="Session digest", mime_type=JSON,
                  description="Everything to know when joining a session (catch_up): participants, open tasks, "
                              "key memories, latest artifacts and chunks, reservations, the cursor to watch from.")
    async def session_digest(session_id: str, ctx: Context) -> str:
        _check(session_id)
        app = app_of(ctx)
        async with app.connection() as conn:
            return _json(await catch_up.snapshot(conn, session_id, app.agent))

    @mcp.resource(uris.MEMORY, name="memory", title="Memory", mime_type=JSON,
                  description="A memory by key: type, content, tags, version.")
    async def memory(session_id: str, key: str, ctx: Context) -> str:
        _check(session_id, key)
        async with app_of(ctx).connection() as conn:
            return _json(await memories.recall(conn, session_id, key))

    async def _artifact(ctx: Context, session_id: str, name: str, version: int | None) -> str:
        async with app_of(ctx).connection() as conn:
            got = await artifacts.read(conn, artifact_id=None, session_id=session_id, name=name, version=version,
                                       offset=0, length=MAX_RESOURCE_CHARS)
        how = f'get_artifact(session_id="{session_id}", name="{name}", version={got.artifact.version}'
        return _slice(got.content, got.total_length, how)

    @mcp.resource(uris.ARTIFACT, name="artifact", title="Artifact (latest version)", mime_type="text/plain",
                  description=f"The latest version's content, whole up to {MAX_RESOURCE_CHARS:,} characters.")
    async def artifact_latest(session_id: str, name: str, ctx: Context) -> str:
        _check(session_id, name)
        return await _artifact(ctx, session_id, name, None)

    @mcp.resource(uris.ARTIFACT_VERSION, name="artifact_version", title="Artifact version", mime_type="text/plain",
                  description=f"One version's content, whole up to {MAX_RESOURCE_CHARS:,} characters.")
    async def artifact_version(session_id: str, name: str, version: str, ctx: Context) -> str:
        _check(session_id, name)
        if not version.isdigit() or not 1 <= int(version) < 2**31:
            raise InvalidInput(f"version {version[:20]!r} is not a version number (1, 2, ...)")
        return await _artifact(ctx, session_id, name, int(version))

    @mcp.resource(uris.CHUNK, name="chunk", title="Conversation chunk", mime_type="text/plain",
                  description=f"A chunk's content, whole up to {MAX_RESOURCE_CHARS:,} characters.")
    async def chunk(session_id: str, chunk_id: str, ctx: Context) -> str:
        _check(session_id, chunk_id)
        async with app_of(ctx).connection() as conn:
            got = await chunks.read(conn, session_id, chunk_id, offset=0, length=MAX_RESOURCE_CHARS)
        return _slice(got.content, got.total_length, f'get_chunk(session_id="{session_id}", chunk_id="{chunk_id}"')

    @mcp.resource(uris.TASK, name="task", title="Task", mime_type=JSON,
                  description="A task: status, input, output, claim, dependencies, history.")
    async def task(session_id: str, task_id: str, ctx: Context) -> str:
        _check(session_id, task_id)
        async with app_of(ctx).connection() as conn:
            detail = await tasks.get(conn, task_id)
        if detail.session_id != session_id:
            raise NotFound(f"task {task_id!r} is not in session {session_id!r}")
        return json.dumps(detail.model_dump(mode="json"), separators=(",", ":"))

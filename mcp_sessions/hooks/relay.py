"""POST /hooks/{name}: a signed event from outside becomes a task.

The order matters: the body is read (bounded), then the signature checked, and only a
signed body is parsed or looked at; nothing is written before all of that holds. A
redelivery (same delivery id) finds the task its first delivery created, through the
task's idempotency key 'hook:<name>:<delivery>', and never makes a second one."""

from __future__ import annotations

import logging
import os
from typing import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_sessions.errors import InvalidInput, SessionsError
from mcp_sessions.hooks.config import Hook, check_payload, match
from mcp_sessions.hooks.verify import delivery_of, event_of, verify
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.store import tasks
from mcp_sessions.tools._base import App
from mcp_sessions.validation import _clean_json

log = logging.getLogger("mcp_sessions.hooks")

PATH = "/hooks/{name}"


class TooLarge(Exception):
    pass


class Relay:
    def __init__(self, hooks: dict[str, Hook], get_app: Callable[[], App | None]) -> None:
        self.hooks = hooks
        self.get_app = get_app

    async def handle(self, request: Request) -> Response:
        name = request.path_params["name"]
        hook = self.hooks.get(name)
        if hook is None:
            return _answer(404, f"no hook named {name!r} is configured")
        try:
            body = await _body(request, hook.max_body_bytes)
        except TooLarge:
            return _answer(413, f"the body is over this hook's limit of {hook.max_body_bytes:,} bytes")
        headers = {k.lower(): v for k, v in request.headers.items()}
        secret = os.environ.get(hook.secret_env, "").encode()
        problem = "the hook's secret is not set on this server" if not secret else verify(hook, secret, headers, body)
        if problem is not None:
            log.warning("hook %s: refused a delivery: %s", name, problem, extra={"outcome": "hook_unauthorized"})
            return _answer(401, f"signature refused: {problem}")
        event, delivery = event_of(hook, headers), delivery_of(hook, headers, body)
        try:
            payload = check_payload(body)
            found = match(name, hook, event, payload, delivery)
            if isinstance(found, str):
                log.info("hook %s: event %s not accepted", name, event)
                return JSONResponse({"accepted": False, "event": event, "reason": found}, status_code=202)
            _clean_json(found.input_data)
        except (InvalidInput, ValueError) as exc:
            return _answer(400, f"the payload cannot become a task: {exc}")
        app = self.get_app()
        if app is None:
            return _answer(503, "the server is starting; retry", retry=True)
        key = f"hook:{name}:{delivery}"
        try:
            async with app.transaction() as conn:
                creator = f"hook:{name}"
                # The hook's session is made on first use (its id comes from the operator's config).
                await conn.execute(Q["insert_session"], found.session_id, f"webhooks: {name}", [], {}, creator)
                existing = await conn.fetchval(Q["task_by_idempotency_key_id"], found.session_id, key)
                task = await tasks.create(
                    conn, found.session_id, task_type=found.task_type, agent_name=found.agent_name, title=found.title,
                    input_data=found.input_data, priority=found.priority, agent=creator,
                    max_attempts=found.max_attempts, idempotency_key=key,
                )
        except SessionsError as exc:
            log.warning("hook %s: could not record a delivery: %s", name, exc.message)
            return _answer(503, exc.message, retry=True)
        created = existing is None
        log.info("hook %s: event %s -> task %s (%s)", name, event, task.id, "created" if created else "redelivery")
        return JSONResponse(
            {"accepted": True, "created": created, "task_id": task.id, "session_id": task.session_id,
             "rule": found.rule, "event": event, "delivery": delivery},
            status_code=201 if created else 200,
        )


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    data = bytearray()
    async for piece in request.stream():
        data += piece
        if len(data) > limit:
            raise TooLarge
    return bytes(data)


def _answer(status: int, message: str, *, retry: bool = False) -> JSONResponse:
    headers = {"Retry-After": "1"} if retry else None
    return JSONResponse({"accepted": False, "error": message}, status_code=status, headers=headers)

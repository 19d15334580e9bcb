"""The webhook relay's configuration (a TOML file named by MCP_SESSIONS_HOOKS) and what
a rule makes of a payload: the task, picked from the payload by JSON pointers.

    [hooks.github]                        # POST /hooks/github
    scheme = "github"                     # or "generic"
    secret_env = "GITHUB_WEBHOOK_SECRET"  # the variable holding the secret, never the secret

    [[hooks.github.rules]]                # the first rule that accepts the event makes the task
    events = ["issues"]                   # the event header's values; omitted: any event
    when = { "/action" = "opened" }       # JSON pointer = value, or a list of accepted values
    session = "github"
    task_type = "code"
    agent_name = "claude_code"
    title = "Issue #{/issue/number}: {/issue/title}"
    input = { number = "/issue/number", body = "/issue/body" }
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mcp_sessions.errors import InvalidInput, SessionsError
from mcp_sessions.models import TaskType
from mcp_sessions.validation import _ID_PATTERN

DEFAULT_MAX_BODY = 1024 * 1024
_MISSING = object()
_TEMPLATE = re.compile(r"\{(/[^{}]*|event|delivery)\}")


class HooksConfigError(SessionsError):
    code = "invalid_config"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    events: list[str] | None = None
    when: dict[str, Any] = {}
    session: str
    task_type: TaskType
    agent_name: str | None = None
    priority: int = Field(default=0, ge=-1000, le=1000)
    title: str | None = Field(default=None, max_length=2000)
    input: dict[str, str] = {}
    max_attempts: int = Field(default=3, ge=1, le=100)

    @field_validator("session", "agent_name")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 200 or not _ID_PATTERN.match(value)):
            raise ValueError("must start with a letter or digit and use only letters, digits and . _ : @ / -")
        return value

    @field_validator("when", "input")
    @classmethod
    def _pointers(cls, value: dict[str, Any], info: Any) -> dict[str, Any]:
        pointers = value.keys() if info.field_name == "when" else value.values()
        for pointer in pointers:
            if pointer != "" and not pointer.startswith("/"):
                raise ValueError(f"{pointer!r} is not a JSON pointer: it starts with '/', e.g. '/issue/number'")
        return value


class Hook(_Strict):
    scheme: Literal["github", "generic"]
    secret_env: str = Field(min_length=1)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY, ge=1024, le=25 * 1024 * 1024)
    # generic only (github's headers are fixed)
    signature_header: str = "X-Signature"
    timestamp_header: str = "X-Timestamp"
    event_header: str = "X-Event"
    delivery_header: str = "X-Delivery"
    rules: list[Rule] = Field(min_length=1)


class HooksFile(_Strict):
    hooks: dict[str, Hook] = {}


def load(path: Path | str, *, require_secrets: bool = True) -> dict[str, Hook]:
    """The hooks of a config file, or one line saying what is wrong with it."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise HooksConfigError(f"MCP_SESSIONS_HOOKS={path}: cannot read it ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise HooksConfigError(f"MCP_SESSIONS_HOOKS={path}: not valid TOML ({exc})") from None
    try:
        hooks = HooksFile.model_validate(raw).hooks
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise HooksConfigError(f"MCP_SESSIONS_HOOKS={path}: {problems}") from None
    for name, hook in hooks.items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise HooksConfigError(f"MCP_SESSIONS_HOOKS={path}: hook name {name!r} must be letters, digits, . _ -")
        if require_secrets and not os.environ.get(hook.secret_env):
            raise HooksConfigError(
                f"MCP_SESSIONS_HOOKS={path}: hook {name!r} reads its secret from {hook.secret_env}, which is not set"
            )
    return hooks


# Applying a rule ------------------------------------------------------------------------

def pointer(document: Any, path: str) -> Any:
    """RFC 6901: '/a/0/b'; '~1' is '/', '~0' is '~'. _MISSING when it leads nowhere."""
    if path == "":
        return document
    value = document
    for token in path[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            return _MISSING
    return value


def _text(value: Any) -> str:
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Match(BaseModel):
    """The task a payload makes: what `hooks test` shows and the relay creates."""

    rule: int
    session_id: str
    task_type: str
    agent_name: str | None
    priority: int
    title: str | None
    input_data: dict[str, Any]
    max_attempts: int


def match(hook_name: str, hook: Hook, event: str | None, payload: Any, delivery: str | None) -> Match | str:
    """The task of the first rule accepting this event and payload, or why none does."""
    reasons = []
    for index, rule in enumerate(hook.rules):
        if rule.events is not None and event not in rule.events:
            reasons.append(f"rule {index + 1}: event {event!r} is not one of {rule.events}")
            continue
        failed = next(
            (p for p, want in rule.when.items() if pointer(payload, p) not in (want if isinstance(want, list) else [want])),
            None,
        )
        if failed is not None:
            got = pointer(payload, failed)
            reasons.append(f"rule {index + 1}: {failed} is {'missing' if got is _MISSING else repr(got)}, "
                           f"not {rule.when[failed]!r}")
            continue
        values = {"event": event or "", "delivery": delivery or ""}
        title = None
        if rule.title is not None:
            title = _TEMPLATE.sub(lambda m: values.get(m[1], None) or _text(pointer(payload, m[1])), rule.title)
            title = title.replace("\x00", "")[:500] or None
        picked = {key: None if (v := pointer(payload, p)) is _MISSING else v for key, p in rule.input.items()}
        picked["_webhook"] = {"hook": hook_name, "event": event, "delivery": delivery}
        return Match(
            rule=index + 1, session_id=rule.session, task_type=rule.task_type, agent_name=rule.agent_name,
            priority=rule.priority, title=title, input_data=picked, max_attempts=rule.max_attempts,
        )
    return "no rule accepts it: " + "; ".join(reasons)


def check_payload(body: bytes) -> Any:
    import json

    try:
        return json.loads(body)
    except ValueError as exc:
        raise InvalidInput(f"the body is not JSON ({exc})") from None

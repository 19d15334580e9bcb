"""A bad setting, said in one line: which environment variable, the value it has, and
what it may be (`MCP_SESSIONS_POOL_MAX_SIZE='abc': expected a whole number, at least 1
(default 10)`), instead of pydantic's bare "Input should be a valid integer"."""

from __future__ import annotations

import os
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import AliasChoices, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mcp_sessions.config import Settings

PREFIX = "MCP_SESSIONS_"
KINDS = {int: "a whole number", float: "a number", bool: "true or false", Path: "a path", str: "text"}


def env_names(name: str, field: FieldInfo) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [c for c in alias.choices if isinstance(c, str)]
    if isinstance(alias, str):
        return [alias]
    return [f"{PREFIX}{name}".upper()]


def env_name(name: str, field: FieldInfo) -> str:
    """The variable that is actually set (names are case-insensitive), else the first."""
    names = env_names(name, field)
    present = {key.upper(): key for key in os.environ}
    return next((present[n.upper()] for n in names if n.upper() in present), names[0])


def allowed(field: FieldInfo) -> str | None:
    kind: Any = field.annotation
    if get_origin(kind) in (Union, types.UnionType):  # `int | None`: the None is "unset"
        kind = next(a for a in get_args(kind) if a is not type(None))
    if get_origin(kind) is Literal:
        text = "one of " + ", ".join(str(a) for a in get_args(kind))
    elif kind in KINDS:
        text = KINDS[kind]
    else:
        return None
    for meta in field.metadata:
        if isinstance(meta, annotated_types.Ge):
            text += f", at least {meta.ge}"
        elif isinstance(meta, annotated_types.Gt):
            text += f", greater than {meta.gt}"
        elif isinstance(meta, annotated_types.Le):
            text += f", at most {meta.le}"
        elif isinstance(meta, annotated_types.Lt):
            text += f", less than {meta.lt}"
    if field.default is not PydanticUndefined and field.default is not None:
        text += f" (default {field.default})"
    return text


def one(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    # loc names the field, or for a field with aliases (DATABASE_URL) the alias that was set
    loc = str(error["loc"][0]).upper() if error["loc"] else ""
    name = next((n for n, f in Settings.model_fields.items() if loc in (n.upper(), *env_names(n, f))), None)
    if name is None:
        return message
    field = Settings.model_fields[name]
    variable = env_name(name, field)
    if variable in message:  # our own validators name the variable already
        return message
    value = str(error.get("input", ""))
    shown = repr(value if len(value) <= 60 else value[:57] + "...")
    expected = allowed(field) if error["type"] != "value_error" else None
    return f"{variable}={shown}: " + (f"expected {expected}" if expected else message)


def settings_error(exc: ValidationError) -> str:
    return "; ".join(one(e) for e in exc.errors())

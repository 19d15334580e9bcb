"""Parameter types for the tools: what PostgreSQL can't store is refused before any SQL runs.

PostgreSQL refuses NUL in text and jsonb, and a lone UTF-16 surrogate (which JSON can
carry as "\\ud800") cannot be encoded as UTF-8 at all. Both are checked everywhere a
client's text ends up: strings, JSON values and JSON keys."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, ValidationInfo

from mcp_sessions.errors import InvalidInput

MAX_JSON_DEPTH = 64
# Each JSON field (metadata, input_data, output_data, extracted_items, capabilities):
# big enough for structured results, small enough that any listing page stays under
# 100 KB. Larger material belongs in a chunk or an artifact. The setting
# MCP_SESSIONS_MAX_JSON_BYTES changes it (the tools pass it as validation context);
# memory content has its own setting.
MAX_JSON_BYTES = 64 * 1024
# fullmatch, not `$`: `$` also matches before a trailing newline ("S\n" beside "S").
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]*")


class ArgumentModel(BaseModel):
    """Base of every object a tool takes as a parameter: unknown fields are refused
    (tools/_arguments.py checks this at registration)."""

    model_config = ConfigDict(extra="forbid")


def text_problem(value: str) -> str | None:
    """Why PostgreSQL can't store this text, or None."""
    if "\x00" in value:
        return f"contains a NUL character (\\u0000) at position {value.index(chr(0))}, which PostgreSQL cannot store"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains a lone surrogate (\\u{ord(value[exc.start]):04x}) at position {exc.start}, which is not valid Unicode"
    return None


def _clean_text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _json_problem(value: Any, path: str, depth: int) -> str | None:
    if depth > MAX_JSON_DEPTH:
        return f"{path} is nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, str):
        problem = text_problem(value)
        return f"{path} {problem}" if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = text_problem(key)
            if problem:
                return f"key {key!r} in {path} {problem}"
            problem = _json_problem(item, f"{path}.{key}", depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = _json_problem(item, f"{path}[{index}]", depth + 1)
            if problem:
                return problem
    elif isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return f"{path} is NaN or infinite, which JSON cannot hold"
    return None


def json_size(value: Any) -> int:
    """Bytes of the value as compact UTF-8 JSON (what it costs in an answer)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def json_field_problem(value: Any, limit: int = MAX_JSON_BYTES) -> str | None:
    """Why a JSON field can't be stored, or None (also for the importer)."""
    problem = _json_problem(value, "value", 0)
    if problem:
        return problem
    # A string's JSON is at most 6 bytes a character (\u escapes): short ones can't be over.
    if isinstance(value, (dict, list)) or (isinstance(value, str) and len(value) * 6 + 2 > limit):
        size = json_size(value)
        if size > limit:
            return (
                f"is {size:,} bytes of JSON, over the limit of {limit:,} (MCP_SESSIONS_MAX_JSON_BYTES); "
                "store large material as a chunk or an artifact and refer to it"
            )
    return None


def _clean_json(value: Any) -> Any:
    """Any JSON PostgreSQL can store (memory content: its size is the tool's setting)."""
    problem = _json_problem(value, "value", 0)
    if problem:
        raise ValueError(problem)
    return value


def _json_field(value: Any, info: ValidationInfo) -> Any:
    limit = (info.context or {}).get("max_json_bytes", MAX_JSON_BYTES)
    problem = json_field_problem(value, limit)
    if problem:
        raise ValueError(problem)
    return value


def _identifier(value: str) -> str:
    _clean_text(value)
    if not _ID_PATTERN.fullmatch(value):
        raise ValueError(
            "must start with a letter or digit and use only letters, digits and . _ : @ / -"
        )
    return value


# Free text of bounded length (titles, errors, names).
def Text(max_length: int, min_length: int = 1) -> Any:  # noqa: N802 - used as a type
    return Annotated[str, Field(min_length=min_length, max_length=max_length), AfterValidator(_clean_text)]


# Ids and keys chosen by clients: printable, no spaces, up to 200 characters.
Identifier = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_identifier)]
# Unbounded text (chunk and artifact content): the size limit is a setting, checked by size_check.
Content = Annotated[str, AfterValidator(_clean_text)]
# A JSON field, capped at max_json_bytes: input_data, output_data, extracted_items.
AnyJson = Annotated[JsonValue, AfterValidator(_json_field)]
# metadata
JsonObject = Annotated[dict[str, JsonValue], AfterValidator(_json_field)]
# capabilities: the list as a whole is one field
JsonList = Annotated[list[JsonValue], Field(max_length=100), AfterValidator(_json_field)]
# Memory content: any JSON, its size checked by remember against max_memory_bytes.
JsonContent = Annotated[JsonValue, AfterValidator(_clean_json)]
Limit = Annotated[int, Field(ge=1, le=200)]
# Counts and positions PostgreSQL keeps as integer (int4): versions, offsets, lengths.
INT4_MAX = 2**31 - 1
Cursor = Annotated[str | None, Field(max_length=1000, description="next_cursor from the previous page.")]


def check_size(field: str, content: str, limit_bytes: int) -> int:
    """Refuse content over the configured limit; returns its size in UTF-8 bytes."""
    size = len(content.encode("utf-8"))
    if size > limit_bytes:
        raise InvalidInput(
            f"{field} is {size:,} bytes, over the limit of {limit_bytes:,} bytes "
            "(MCP_SESSIONS_MAX_CONTENT_BYTES); split it into several parts"
        )
    return size

"""Parameter types for the tools: what PostgreSQL can't store is refused before any SQL runs.

PostgreSQL refuses NUL in text and jsonb, and a lone UTF-16 surrogate (which JSON can
carry as "\\ud800") cannot be encoded as UTF-8 at all. Both are checked everywhere a
client's text ends up: strings, JSON values and JSON keys."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, JsonValue

from mcp_sessions.errors import InvalidInput

MAX_JSON_DEPTH = 64
# Any JSON parameter (metadata, input_data, output_data, extracted_items, ...): big
# enough for structured results, small enough that a page of 50 rows stays readable.
# Larger material belongs in a chunk or an artifact. Memory content has its own setting.
MAX_JSON_BYTES = 256 * 1024
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")


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


def _clean_json(value: Any) -> Any:
    problem = _json_problem(value, "value", 0)
    if problem:
        raise ValueError(problem)
    if isinstance(value, (dict, list)) or (isinstance(value, str) and len(value) > MAX_JSON_BYTES // 4):
        size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
        if size > MAX_JSON_BYTES:
            raise ValueError(
                f"is {size:,} bytes of JSON, over the limit of {MAX_JSON_BYTES:,}; "
                "store large material as a chunk or an artifact and refer to it"
            )
    return value


def _identifier(value: str) -> str:
    _clean_text(value)
    if not _ID_PATTERN.match(value):
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
AnyJson = Annotated[JsonValue, AfterValidator(_clean_json)]
JsonObject = Annotated[dict[str, JsonValue], AfterValidator(_clean_json)]
Limit = Annotated[int, Field(ge=1, le=200)]
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

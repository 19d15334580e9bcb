"""Argument validation errors in words a model can act on.

pydantic's own text carries the rejected value (which may be megabytes of the
caller's content) and a documentation link; ours names each field, says what is
allowed, and starts with the same [invalid_input] code as our other refusals."""

from __future__ import annotations

from pydantic import ValidationError


def describe(tool: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"]) or "arguments"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "extra_forbidden":
            message = "is not a parameter of this tool"
        problems.append(f"{field}: {message}")
    return f"[invalid_input] {tool}: " + "; ".join(problems)

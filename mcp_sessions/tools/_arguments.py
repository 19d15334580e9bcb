"""Arguments mean what was sent: how every tool's arguments are validated, whatever
registers it (SessionsServer.add_tool installs this on each tool).

- No re-parsing. The SDK's `FuncMetadata.pre_parse_json` turns a string argument that
  looks like JSON into the value it spells ("null" -> None, '{"a": 1}' -> an object,
  '[1]' -> a list) for every parameter not typed plain `str`: a title "null" kept the
  old title, an idempotency key "null" turned idempotency off, a memory's string
  content became an object. Here a string stays a string and an any-JSON parameter
  takes the JSON value as sent.
- Unknown arguments are refused, at the top level and in nested objects, naming the
  closest valid one: a misspelt `expectedVersion` or `leaseSeconds` was silently
  ignored, so the call ran without the check or with the default lease.
- Validation runs with the server's limits as pydantic context (validation.py reads
  `max_json_bytes` from it), so a setting changes what the types accept.
- Errors are worded for a model to act on (`describe`): each field, what is allowed,
  never the rejected value (which may be megabytes of the caller's content)."""

from __future__ import annotations

import difflib
import typing
from typing import Any

from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from pydantic import BaseModel, ConfigDict, ValidationError


class ExactArguments(FuncMetadata):
    """FuncMetadata that validates arguments exactly as sent, against a model that forbids extras."""

    limits: dict[str, Any] = {}

    def pre_parse_json(self, data: dict[str, Any]) -> dict[str, Any]:
        return dict(data)

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        model = self.arg_model.model_validate(arguments_to_validate, context=self.limits)
        return model.model_dump_one_level()


def exact_arguments(metadata: FuncMetadata, limits: dict[str, Any]) -> ExactArguments:
    """The same tool metadata, validating exactly (idempotent)."""
    fields = {name: getattr(metadata, name) for name in FuncMetadata.model_fields}
    model = metadata.arg_model
    if model.model_config.get("extra") != "forbid":
        # A subclass, so the published schema (computed from the original) is unchanged.
        model = typing.cast(Any, type(model.__name__, (model,), {
            "model_config": ConfigDict(extra="forbid"), "__module__": model.__module__,
        }))
    for name, field in model.model_fields.items():
        for nested in _models_in(field.annotation):
            if nested.model_config.get("extra") != "forbid":
                # Checked at registration, so a new tool can't reintroduce silent extras.
                raise TypeError(
                    f"parameter {name!r} is a {nested.__name__}, which must forbid unknown fields: "
                    "derive it from mcp_sessions.validation.ArgumentModel"
                )
    fields["arg_model"] = model
    return ExactArguments(**fields, limits=limits)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found


def _field_names(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_at(model: type[BaseModel] | None, path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The nested model an error location points into (list indexes skipped)."""
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        nested = _models_in(field.annotation) if field is not None else []
        model = nested[0] if nested else None
    return model


def _normal(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def closest(name: str, valid: list[str]) -> str | None:
    """The valid name `name` most likely meant (camelCase and case differences ignored)."""
    by_normal = {_normal(v): v for v in valid}
    match = difflib.get_close_matches(_normal(name), list(by_normal), n=1, cutoff=0.6)
    return by_normal[match[0]] if match else None


def _unknown(name: str, model: type[BaseModel] | None, top: bool) -> str:
    what = "a parameter of this tool" if top else "a field here"
    valid = _field_names(model) if model is not None else []
    guess = closest(name, valid)
    if guess:
        return f"is not {what}; did you mean {guess}?"
    return f"is not {what} (valid: {', '.join(valid)})" if valid else f"is not {what}"


def describe(tool: str, exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """One line naming every problem with the arguments, without their values."""
    problems = []
    errors = exc.errors(include_url=False, include_input=False)
    # Unknown names first: a misspelt required argument reads "titel: did you mean title?"
    # before "title: is required".
    for error in sorted(errors, key=lambda e: e["type"] != "extra_forbidden"):
        loc = error["loc"]
        field = ".".join(str(part) for part in loc) or "arguments"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "extra_forbidden":
            message = _unknown(str(loc[-1]), _model_at(model, tuple(loc[:-1])), top=len(loc) == 1)
        problems.append(f"{field}: {message}")
    return f"[invalid_input] {tool}: " + "; ".join(problems)

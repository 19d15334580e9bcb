"""Slimmer published schemas. Tool definitions cost every client's context window, so
the JSON schemas pydantic derives are trimmed of what a model reading them gains
nothing from: the auto-generated `title` of every property and model, and the
empty `JsonValue` definition (any JSON) behind a $ref. Validation is unaffected:
arguments are still checked by the pydantic models themselves.

Output schemas describe nested results in full (a task's history entries, a search
hit, a listed session): pydantic's `$defs` are inlined, since some clients can't
resolve a `$ref`, and each field keeps its type, without descriptions, enums (a new
status must not break a validating client) or defaults (results carry every field)."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from mcp_sessions.tools import _glossary as glossary

_ANY_JSON_REF = "#/$defs/JsonValue"


def _slim(schema: Any, output: bool = False, defs: dict[str, Any] | None = None, seen: tuple[str, ...] = ()) -> Any:
    if isinstance(schema, list):
        return [_slim(item, output, defs, seen) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("$ref") == _ANY_JSON_REF:
        return {}
    if output and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if defs is None or name not in defs or name in seen:
            return {"type": "object"}  # a recursive model stops here
        return _slim(defs[name], output, defs, (*seen, name))
    if output and defs and isinstance(schema.get("anyOf"), list):
        # A nullable nested model: its definition in place of the $ref, so that it folds
        # below into {"type": ["object", "null"], "properties": ...}.
        schema = {**schema, "anyOf": [_inline(option, defs, seen) for option in schema["anyOf"]]}
    schema = _fold_nullable(schema, output)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "additionalProperties" and _slim(value, output, defs, seen) == {}:
            continue  # any value is the default
        if output and key in ("description", "format", "$defs", "enum", "default"):
            continue  # inlined above; a result's field is described by its name and type
        if key == "minLength" and value == 1:
            continue  # ids and texts are never empty; the error says so if one is
        if key == "maxLength" and not output and isinstance(value, int) and value <= 300:
            continue  # ids and names: nobody writes one that long, and the error says the limit
        if key == "default" and value is None:
            continue  # not being required already says it may be left out
        if key == "required" and output:
            continue  # results always carry every field (null when empty)
        if key in ("properties", "$defs") and isinstance(value, dict):
            # keys here are names, not schema keywords: keep them all
            slimmed = {name: _slim(sub, output, defs, seen) for name, sub in value.items()
                       if not (key == "$defs" and name == "JsonValue")}
            if slimmed or key == "properties":
                out[key] = slimmed
            continue
        out[key] = _slim(value, output, defs, seen)
    return out


def _inline(option: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(option, dict) and "$ref" in option and option["$ref"] != _ANY_JSON_REF:
        name = option["$ref"].rsplit("/", 1)[-1]
        if name in defs and name not in seen:
            return defs[name]
    return option


def _fold_nullable(schema: dict[str, Any], output: bool) -> dict[str, Any]:
    """{"anyOf": [{"type": "string", ...}, {"type": "null"}]} -> {"type": "string", ...}
    (["string", "null"] in results)."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return schema
    if {} in options or {"$ref": _ANY_JSON_REF} in options:
        return {k: v for k, v in schema.items() if k != "anyOf"}  # any JSON already includes null
    other = options[0] if options[1] == {"type": "null"} else options[1]
    if not isinstance(other.get("type"), str):
        return schema
    folded = dict(other)  # the parameter's own keywords (its description) win over the type's
    folded.update({k: v for k, v in schema.items() if k != "anyOf"})
    if output:  # a result's null must validate against its schema
        folded["type"] = [other["type"], "null"]
    # An optional parameter's null means "left out": saying so costs every client bytes
    # and tells a model nothing (an explicit null is still accepted).
    return folded


def _describe(tool: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Every parameter described: from the glossary where the tool gave no description."""
    for name, prop in schema.get("properties", {}).items():
        if isinstance(prop, dict) and "description" not in prop and (text := glossary.describe(tool, name)):
            prop["description"] = text
    return schema


def _annotations(tool: Any) -> None:
    """Leave out the hints that only matter for tools that write (destructive,
    idempotent) on read-only ones, and on writers those that say what the spec's
    defaults say (destructive true, idempotent false): every client pays for each byte.
    readOnlyHint stays explicit on every tool."""
    a = tool.annotations
    if a is None:
        return
    if a.read_only_hint:
        a.destructive_hint = a.idempotent_hint = None
    else:
        if a.destructive_hint:
            a.destructive_hint = None
        if not a.idempotent_hint:
            a.idempotent_hint = None


def slim_schemas(mcp: MCPServer) -> None:
    for tool in mcp._tool_manager.list_tools():
        tool.description = " ".join((tool.description or "").split())  # docstring indentation is noise
        tool.parameters = _describe(tool.name, _slim(tool.parameters))
        _annotations(tool)
        if tool.fn_metadata.output_schema is not None:
            schema = tool.fn_metadata.output_schema
            tool.fn_metadata.output_schema = _slim(schema, output=True, defs=schema.get("$defs", {}))

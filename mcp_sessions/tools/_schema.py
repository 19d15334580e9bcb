"""Slimmer published schemas. Tool definitions cost every client's context window, so
the JSON schemas pydantic derives are trimmed of what a model reading them gains
nothing from: the auto-generated `title` of every property and model, and the
empty `JsonValue` definition (any JSON) behind a $ref. Validation is unaffected:
arguments are still checked by the pydantic models themselves."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from mcp_sessions.tools import _glossary as glossary

_ANY_JSON_REF = "#/$defs/JsonValue"


def _slim(schema: Any, output: bool = False) -> Any:
    if isinstance(schema, list):
        return [_slim(item, output) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("$ref") == _ANY_JSON_REF:
        return {}
    if output and "$ref" in schema:
        return {"type": "object"}
    schema = _fold_nullable(schema, output)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "additionalProperties" and _slim(value, output) == {}:
            continue  # any value is the default
        if output and key in ("description", "format", "$defs", "enum"):
            continue  # results are described in docs/tools.md; nested models stay "object"
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
            slimmed = {name: _slim(sub, output) for name, sub in value.items() if not (key == "$defs" and name == "JsonValue")}
            if slimmed or key == "properties":
                out[key] = slimmed
            continue
        out[key] = _slim(value, output)
    return out


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
    folded = {k: v for k, v in schema.items() if k != "anyOf"}
    folded.update(other)
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
            tool.fn_metadata.output_schema = _slim(tool.fn_metadata.output_schema, output=True)

"""The import's row rules name real tool parameters: a tool renamed or a parameter
dropped fails here, not as a KeyError in the middle of someone's import."""

from __future__ import annotations

from mcp_sessions.archive.rules import PARAMETERS, _adapter


def test_every_rule_resolves_to_a_tool_parameter():
    for (table, column), (tool, parameter) in PARAMETERS.items():
        try:
            _adapter(tool, parameter)
        except KeyError as exc:
            raise AssertionError(f"{table}.{column}: no parameter {parameter!r} of tool {tool!r}") from exc

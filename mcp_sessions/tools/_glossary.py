"""Descriptions of the parameters that many tools share, so that every parameter a
model reads is described (tools/_schema.py fills them in where a tool gave none),
with the same words everywhere. A tool's own Field(description=...) wins."""

from __future__ import annotations

ANY_JSON = "Any JSON value."

COMMON: dict[str, str] = {
    "session_id": "Session id.",
    "task_id": "Task id.",
    "chunk_id": "Chunk id.",
    "artifact_id": "Artifact id (or session_id + name).",
    "schedule_id": "Schedule id.",
    "key": "Memory key, unique in the session.",
    "name": "Name.",
    "title": "Short title.",
    "limit": "Page size.",
    "status": "Filter or new status.",
    "type": "Kind (see enum).",
    "format": "Content format.",
    "reason": "Why; recorded.",
    "error": "What went wrong; recorded.",
    "priority": "Higher runs first.",
    "max_attempts": "Tries before it fails for good.",
    "task_type": "Kind of work.",
    "task_types": "Only these kinds of work.",
    "agent_name": "Agent name.",
    "participant": "Only sessions with this participant.",
    "tags": "Labels.",
    "tags_match": "any: one tag matches; all: every tag.",
    "kinds": "Only these kinds.",
    "memory_types": "Only these memory types.",
    "artifact_types": "Only these artifact types.",
    "created_by": "Only by this agent.",
    "created_after": "Only created at/after (ISO 8601).",
    "created_before": "Only created before (ISO 8601).",
    "mode": "auto: full text, typos if nothing found.",
    "content": "The content.",
    "metadata": "JSON object.",
    "capabilities": "What it can do (JSON array).",
}

# Parameters that take any JSON value: their schema is {} (anything), which a model
# can't tell from "unknown", so they say it.
ANY_JSON_PARAMS = {"content", "input_data", "output_data", "extracted_items"}

PER_TOOL: dict[tuple[str, str], str] = {
    ("remember", "content"): "Any JSON value: text, number, object, list.",
    ("create_task", "input_data"): "Any JSON value: what the task needs.",
    ("complete_task", "output_data"): "Any JSON value: the result.",
    ("add_chunk", "extracted_items"): "Any JSON value: items found in it.",
    ("add_chunk", "content"): "Text, up to the content limit.",
    ("save_artifact", "content"): "Text, up to the content limit.",
    ("register_agent", "name"): "Agent name (over HTTP: your token's).",
    ("register_agent", "type"): "Free-form kind, e.g. coding.",
    ("list_agents", "status"): "Only agents in this status.",
    ("list_sessions", "status"): "Only sessions in this status.",
    ("list_tasks", "status"): "Only tasks in this status.",
    ("update_session", "status"): "New status.",
    ("register_agent", "status"): "Its status.",
    ("save_artifact", "name"): "File-like name, unique in the session; saving it again adds a version.",
    ("get_artifact", "name"): "Artifact name (with session_id).",
    ("remember", "type"): "Memory type.",
    ("list_memories", "type"): "Only this memory type.",
    ("save_artifact", "type"): "Artifact type.",
    ("list_artifacts", "type"): "Only this artifact type.",
    ("list_tasks", "agent_name"): "Only tasks meant for this agent.",
}


def describe(tool: str, param: str) -> str | None:
    if (tool, param) in PER_TOOL:
        return PER_TOOL[(tool, param)]
    if param in ANY_JSON_PARAMS:
        return ANY_JSON
    return COMMON.get(param)

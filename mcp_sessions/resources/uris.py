"""The mcp-sessions:// URI scheme: one place builds and reads every resource URI.

    mcp-sessions://sessions/{session_id}                                 the catch_up digest
    mcp-sessions://sessions/{session_id}/memories/{key}                  a memory
    mcp-sessions://sessions/{session_id}/artifacts/{name}                an artifact's latest version
    mcp-sessions://sessions/{session_id}/artifacts/{name}/versions/{n}   one version
    mcp-sessions://sessions/{session_id}/chunks/{chunk_id}               a conversation chunk
    mcp-sessions://sessions/{session_id}/tasks/{task_id}                 a task

Ids are percent-encoded (a name may hold '/')."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

SCHEME = "mcp-sessions://"
SESSION = SCHEME + "sessions/{session_id}"
MEMORY = SESSION + "/memories/{key}"
ARTIFACT = SESSION + "/artifacts/{name}"
ARTIFACT_VERSION = ARTIFACT + "/versions/{version}"
CHUNK = SESSION + "/chunks/{chunk_id}"
TASK = SESSION + "/tasks/{task_id}"


def _q(value: Any) -> str:
    return quote(str(value), safe="")


def session(session_id: str) -> str:
    return f"{SCHEME}sessions/{_q(session_id)}"


def memory(session_id: str, key: str) -> str:
    return f"{session(session_id)}/memories/{_q(key)}"


def artifact(session_id: str, name: str, version: int | None = None) -> str:
    base = f"{session(session_id)}/artifacts/{_q(name)}"
    return base if version is None else f"{base}/versions/{version}"


def chunk(session_id: str, chunk_id: str) -> str:
    return f"{session(session_id)}/chunks/{_q(chunk_id)}"


def task(session_id: str, task_id: str) -> str:
    return f"{session(session_id)}/tasks/{_q(task_id)}"


def of_event(session_id: str, kind: str, refs: dict[str, Any]) -> list[str]:
    """The resources an event changes: its session's digest always, and the item itself."""
    out = [session(session_id)]
    family = kind.split(".", 1)[0]
    if family == "memory" and "key" in refs:
        out.append(memory(session_id, refs["key"]))
    elif family == "artifact" and "name" in refs:
        out.append(artifact(session_id, refs["name"]))
        if "version" in refs:
            out.append(artifact(session_id, refs["name"], refs["version"]))
    elif family == "chunk" and "chunk_id" in refs:
        out.append(chunk(session_id, refs["chunk_id"]))
    elif family == "task" and "task_id" in refs:
        out.append(task(session_id, refs["task_id"]))
    return out

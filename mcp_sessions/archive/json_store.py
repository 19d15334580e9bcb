"""Migration from the JSON-file store this project replaces.

That store kept one folder per session:

    <dir>/<session>/session.json               {id, title, participants, status, created, last_activity}
    <dir>/<session>/conversations/<chunk>.json {content, format, extracted_items}
    <dir>/<session>/memories.json              [{type, key, content, tags}, ...]
    <dir>/<session>/tasks.json                 [{id, agent_name, task_type, status, priority, input_data, output_data}, ...]
    <dir>/<session>/artifacts/<id>.json        {type, name, content, format, metadata}

Each session lands in one transaction, each file (or list entry) in a savepoint of
its own: a bad file is skipped with the reason and the rest still lands. Ids and
timestamps are kept, so running it again adds nothing twice."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from mcp_sessions.archive.schema import quote, render
from mcp_sessions.errors import SessionsError
from mcp_sessions.models.base import (
    ArtifactType,
    ChunkFormat,
    MemoryType,
    SessionStatus,
    TaskStatus,
    TaskType,
)
from mcp_sessions.sql import QUERIES as Q
from mcp_sessions.store.errors import translate_errors

# Task ids the old store left out are derived from the session and position, so a
# second run recognizes them.
_TASK_IDS = uuid.UUID("6f1c3b1e-5b7a-4c59-9d0e-4a7f3c2b9e11")
# Claims don't survive the move (there is no lease to honour): such tasks start over.
_REQUEUED = {"claimed", "running"}
_PRIORITY_NAMES = {"low": -10, "normal": 0, "medium": 0, "high": 10, "urgent": 20, "critical": 20}


def _choices(literal: Any) -> tuple[str, ...]:
    return literal.__args__


@dataclass(frozen=True)
class Limits:
    """The server's size limits (Settings): imported content obeys them too."""

    content_bytes: int = 32 * 1024 * 1024
    memory_bytes: int = 64 * 1024


@dataclass
class JsonImportReport:
    sessions_imported: int = 0
    sessions_already_present: int = 0
    imported: dict[str, int] = field(default_factory=lambda: {
        "chunks": 0, "memories": 0, "tasks": 0, "artifacts": 0})
    already_present: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)  # {path, reason}
    notes: list[dict[str, str]] = field(default_factory=list)  # {path, note}

    def skip(self, path: Path | str, reason: str) -> None:
        self.skipped.append({"path": str(path), "reason": reason})


class _Bad(Exception):
    """A file or entry that can't be imported; the message says why."""


def session_dirs(root: Path) -> list[Path]:
    """The session folders under root (root itself if it is one)."""
    if (root / "session.json").is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir())


async def import_json_store(
    conn: asyncpg.Connection,
    root: Path,
    *,
    created_by: str = "json-import",
    limits: Limits = Limits(),
    progress: Callable[[JsonImportReport, int, int], None] | None = None,
) -> JsonImportReport:
    report = JsonImportReport()
    folders = session_dirs(root)
    for done, folder in enumerate(folders, 1):
        try:
            session = _session_row(folder, created_by)
        except _Bad as exc:
            report.skip(folder / "session.json", f"{exc}; the whole session folder was skipped")
            continue
        await _import_session(conn, folder, session, created_by, limits, report)
        if progress:
            progress(report, done, len(folders))
    return report


async def _import_session(
    conn: asyncpg.Connection, folder: Path, session: dict, created_by: str, limits: Limits, report: JsonImportReport
) -> None:
    sid = session["id"]
    async with conn.transaction():
        try:
            new = await _insert(conn, "sessions", session)
        except _Bad as exc:
            report.skip(folder / "session.json", f"{exc}; the whole session folder was skipped")
            return
        for kind, table, rows in _contents(folder, sid, session, created_by, limits, report):
            try:
                inserted = await _insert(conn, table, rows[1])
            except _Bad as exc:
                report.skip(rows[0], str(exc))
                continue
            if inserted:
                report.imported[kind] += 1
            else:
                report.already_present += 1
        if new:
            # Keep the old store's last_activity rather than the moment of the import.
            await conn.execute(Q["archive_forget_activity"], sid)
            report.sessions_imported += 1
        else:
            report.sessions_already_present += 1


async def _insert(conn: asyncpg.Connection, table: str, row: dict) -> bool:
    statement = render(Q["archive_insert_row"], table=quote(table), columns=", ".join(quote(c) for c in row))
    try:
        with translate_errors():
            async with conn.transaction():  # a savepoint: a refused row rolls back alone
                return bool(await conn.fetchval(statement, json.dumps(row, ensure_ascii=False)))
    except SessionsError as exc:
        raise _Bad(f"refused by the database: {exc.message}") from exc
    except asyncpg.PostgresError as exc:
        raise _Bad(f"refused by the database: {exc}") from exc


def _contents(folder: Path, sid: str, session: dict, created_by: str, limits: Limits, report: JsonImportReport):
    """(kind, table, (path, row)) for every importable item, reporting the rest."""
    chunk_dir = folder / "conversations"
    if chunk_dir.is_dir():
        chunks = []
        for path in sorted(chunk_dir.glob("*.json")):
            try:
                chunks.append((path, _chunk_row(path, sid, created_by, limits)))
            except _Bad as exc:
                report.skip(path, str(exc))
        # Insertion order is reading order (conversation_chunks.seq): oldest first.
        chunks.sort(key=lambda item: (item[1]["created"], item[1]["chunk_id"]))
        yield from (("chunks", "conversation_chunks", item) for item in chunks)
    for index, path, entry in _entries(folder / "memories.json", report):
        try:
            yield "memories", "memories", (f"{path}[{index}]", _memory_row(entry, sid, session, created_by, limits))
        except _Bad as exc:
            report.skip(f"{path}[{index}]", str(exc))
    for index, path, entry in _entries(folder / "tasks.json", report):
        try:
            row = _task_row(entry, sid, index, session, created_by)
            if entry.get("status") in _REQUEUED:
                report.notes.append({"path": f"{path}[{index}]", "note": f"was {entry['status']}: imported as pending"})
            yield "tasks", "tasks", (f"{path}[{index}]", row)
        except _Bad as exc:
            report.skip(f"{path}[{index}]", str(exc))
    yield from (("artifacts", "artifacts", item)
                for item in _artifact_rows(folder, sid, session, created_by, limits, report))


# Reading files ---------------------------------------------------------------------

def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise _Bad(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise _Bad(f"bad JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except OSError as exc:
        raise _Bad(f"cannot read: {exc.strerror}") from None


def _object(path: Path) -> dict:
    value = _load(path)
    if not isinstance(value, dict):
        raise _Bad(f"expected a JSON object, found {type(value).__name__}")
    return value


def _entries(path: Path, report: JsonImportReport):
    if not path.exists():
        return
    try:
        value = _load(path)
    except _Bad as exc:
        report.skip(path, f"{exc}; none of its entries were imported")
        return
    if not isinstance(value, list):
        report.skip(path, f"expected a JSON list, found {type(value).__name__}; none of its entries were imported")
        return
    for index, entry in enumerate(value):
        if isinstance(entry, dict):
            yield index, path, entry
        else:
            report.skip(f"{path}[{index}]", f"expected a JSON object, found {type(entry).__name__}")


def _require(data: dict, *names: str) -> None:
    missing = [n for n in names if data.get(n) is None]
    if missing:
        raise _Bad(f"missing field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")


def _text(data: dict, name: str, max_length: int | None = None) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise _Bad(f"{name} must be a string, not {type(value).__name__}")
    if max_length and len(value) > max_length:
        raise _Bad(f"{name} is longer than {max_length} characters")
    return value


def _one_of(data: dict, name: str, allowed: tuple[str, ...]) -> str:
    value = _text(data, name)
    if value not in allowed:
        raise _Bad(f"{name} {value!r} is not one of {', '.join(allowed)}")
    return value


def _when(data: dict, name: str, default: str) -> str:
    value = data.get(name)
    if value is None:
        return default
    try:
        at = datetime.fromisoformat(str(value))  # 3.11 reads a trailing Z too
    except ValueError:
        raise _Bad(f"{name} {value!r} is not an ISO 8601 timestamp") from None
    # The old store wrote naive local-less timestamps: read them as UTC.
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()


def _digest(content: str, limits: Limits) -> str:
    try:
        data = content.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Bad(f"content is not valid Unicode (lone surrogate at position {exc.start})") from None
    if len(data) > limits.content_bytes:
        raise _Bad(f"content is {len(data):,} bytes, over the limit of {limits.content_bytes:,} "
                   "(MCP_SESSIONS_MAX_CONTENT_BYTES)")
    return "\\x" + hashlib.sha256(data).hexdigest()


# Rows ------------------------------------------------------------------------------

def _session_row(folder: Path, created_by: str) -> dict:
    path = folder / "session.json"
    if not path.is_file():
        raise _Bad("no session.json")
    data = _object(path)
    _require(data, "title")
    participants = data.get("participants") or []
    if not isinstance(participants, list) or not all(isinstance(p, str) for p in participants):
        raise _Bad("participants must be a list of names")
    created = _when(data, "created", _mtime(path))
    return {
        "id": str(data.get("id") or folder.name),
        "title": _text(data, "title", 500),
        "participants": list(dict.fromkeys(participants)),
        "status": _one_of(data, "status", _choices(SessionStatus)) if data.get("status") else "active",
        "metadata": data["metadata"] if isinstance(data.get("metadata"), dict) else {},
        "created_by": str(data.get("created_by") or created_by),
        "created": created,
        "last_activity": _when(data, "last_activity", created),
    }


def _chunk_row(path: Path, sid: str, created_by: str, limits: Limits) -> dict:
    data = _object(path)
    _require(data, "content", "format")
    content = _text(data, "content")
    return {
        "session_id": sid,
        "chunk_id": path.stem,
        "content": content,
        "size": len(content),
        "content_sha256": _digest(content, limits),
        "format": _one_of(data, "format", _choices(ChunkFormat)),
        "extracted_items": data.get("extracted_items") if data.get("extracted_items") is not None else {},
        "created_by": str(data.get("created_by") or created_by),
        "created": _when(data, "created", _mtime(path)),
    }


def _memory_row(entry: dict, sid: str, session: dict, created_by: str, limits: Limits) -> dict:
    _require(entry, "type", "key", "content")
    size = len(json.dumps(entry["content"], ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > limits.memory_bytes:
        raise _Bad(f"content is {size:,} bytes of JSON, over the memory limit of {limits.memory_bytes:,} "
                   "(MCP_SESSIONS_MAX_MEMORY_BYTES)")
    tags = entry.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _Bad("tags must be a list of strings")
    author = str(entry.get("created_by") or created_by)
    created = _when(entry, "created", session["created"])
    return {
        "session_id": sid,
        "key": _text(entry, "key", 200),
        "type": _one_of(entry, "type", _choices(MemoryType)),
        "content": entry["content"],
        "tags": list(dict.fromkeys(tags)),
        "created_by": author,
        "updated_by": author,
        "created": created,
        "updated": _when(entry, "updated", created),
    }


def _task_row(entry: dict, sid: str, index: int, session: dict, created_by: str) -> dict:
    _require(entry, "task_type")
    priority = entry.get("priority", 0)
    if isinstance(priority, str) and priority.lower() in _PRIORITY_NAMES:
        priority = _PRIORITY_NAMES[priority.lower()]
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise _Bad(f"priority {priority!r} is not a whole number (or low/normal/high/urgent)")
    status = entry.get("status") or "pending"
    if status in _REQUEUED:
        status = "pending"
    elif status not in _choices(TaskStatus):
        raise _Bad(f"status {status!r} is not one of {', '.join(_choices(TaskStatus))}")
    created = _when(entry, "created", session["created"])
    return {
        "id": str(entry.get("id") or uuid.uuid5(_TASK_IDS, f"{sid}/{index}")),
        "session_id": sid,
        "agent_name": entry.get("agent_name"),
        "task_type": _one_of(entry, "task_type", _choices(TaskType)),
        "status": status,
        "priority": priority,
        "input_data": entry.get("input_data") if entry.get("input_data") is not None else {},
        "output_data": entry.get("output_data"),
        "created_by": str(entry.get("created_by") or created_by),
        "created": created,
        "updated": _when(entry, "updated", created),
        "run_after": created,
    }


def _artifact_rows(folder: Path, sid: str, session: dict, created_by: str, limits: Limits, report: JsonImportReport):
    art_dir = folder / "artifacts"
    if not art_dir.is_dir():
        return
    good: list[tuple[Path, dict]] = []
    for path in sorted(art_dir.glob("*.json")):
        try:
            data = _object(path)
            _require(data, "type", "name", "content")
            content = _text(data, "content")
            metadata = data.get("metadata") or {}
            if not isinstance(metadata, dict):
                raise _Bad("metadata must be a JSON object")
            good.append((path, {
                "id": path.stem,
                "session_id": sid,
                "name": _text(data, "name", 500),
                "type": _one_of(data, "type", _choices(ArtifactType)),
                "format": str(data.get("format") or "text"),
                "content": content,
                "size": len(content),
                "content_sha256": _digest(content, limits),
                "metadata": metadata,
                "created_by": str(data.get("created_by") or created_by),
                "created": _when(data, "created", _mtime(path)),
            }))
        except _Bad as exc:
            report.skip(path, str(exc))
    # Files sharing a name are versions of one artifact, oldest first.
    good.sort(key=lambda item: (item[1]["name"], item[1]["created"], item[1]["id"]))
    version: dict[str, int] = {}
    for path, row in good:
        version[row["name"]] = row["version"] = version.get(row["name"], 0) + 1
        yield path, row

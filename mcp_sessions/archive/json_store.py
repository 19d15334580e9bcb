"""Migration from the JSON-file store this project replaces.

That store kept one folder per session:

    <dir>/<session>/session.json               {id, title, participants, status, created, last_activity}
    <dir>/<session>/conversations/<chunk>.json {content, format, extracted_items}
    <dir>/<session>/memories.json              [{type, key, content, tags}, ...]
    <dir>/<session>/tasks.json                 [{id, agent_name, task_type, status, priority, input_data, output_data}, ...]
    <dir>/<session>/artifacts/<id>.json        {type, name, content, format, metadata}

Each session lands in one transaction, each file (or list entry) in a savepoint of
its own: a bad file is skipped with the reason and the rest still lands. Ids and
timestamps are kept, so running it again adds nothing twice. Nothing is dropped
silently: an item whose id is already stored with other content is reported as
skipped (and why), and an artifact whose content differs from every stored version of
its name becomes a new version. Files are read as an untrusted archive: symbolic links
out of the tree are not followed, FIFOs and devices are not opened, size and nesting
are bounded, and ids, enums and JSON values are held to what the tools accept."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from mcp_sessions.archive.schema import quote, render
from mcp_sessions.errors import SessionsError
from pydantic import TypeAdapter, ValidationError

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
from mcp_sessions.validation import AnyJson, Content, Identifier, JsonObject, Text

# Task ids the old store left out are derived from the session and position, so a
# second run recognizes them.
_TASK_IDS = uuid.UUID("6f1c3b1e-5b7a-4c59-9d0e-4a7f3c2b9e11")
# Likewise an artifact whose file id is taken by other content gets a derived id.
_ARTIFACT_IDS = uuid.UUID("0b8e64a2-3f7d-4f0e-a3c1-5d2e9b7c4a10")
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
    # A file larger than this is not read (0: twice the content limit plus 1 MiB, room
    # for JSON escapes around a chunk at the limit).
    file_bytes: int = 0

    @property
    def max_file_bytes(self) -> int:
        return self.file_bytes or 2 * self.content_bytes + 1024 * 1024


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


def session_dirs(root: Path, report: JsonImportReport | None = None) -> list[Path]:
    """The session folders under root (root itself if it is one). A folder reached
    through a symbolic link out of root is reported, not followed."""
    if (root / "session.json").is_file():
        return [root]
    folders = []
    for path in sorted(root.iterdir()):
        if not path.is_dir():
            continue
        try:
            _inside(root, path)
        except _Bad as exc:
            if report is not None:
                report.skip(path, f"{exc}; the whole session folder was skipped")
            continue
        folders.append(path)
    return folders


def _inside(root: Path, path: Path) -> None:
    """Refuse a path that resolves (through symbolic links) to outside root."""
    target = path.resolve()
    if not target.is_relative_to(root.resolve()):
        raise _Bad(f"a symbolic link out of the imported folder (to {target}): not followed")


async def import_json_store(
    conn: asyncpg.Connection,
    root: Path,
    *,
    created_by: str = "json-import",
    limits: Limits = Limits(),
    progress: Callable[[JsonImportReport, int, int], None] | None = None,
) -> JsonImportReport:
    report = JsonImportReport()
    folders = session_dirs(root, report)
    for done, folder in enumerate(folders, 1):
        try:
            session = _session_row(folder, created_by, limits)
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
        for kind, table, (path, row) in _contents(folder, sid, session, created_by, limits, report):
            try:
                if kind == "artifacts":
                    outcome = await _insert_artifact(conn, row)
                else:
                    outcome = "imported" if await _insert(conn, table, row) else await _stored_as(conn, kind, row)
            except _Bad as exc:
                report.skip(path, str(exc))
                continue
            if outcome == "imported":
                report.imported[kind] += 1
            elif outcome == "already present":
                report.already_present += 1
            elif outcome.startswith("imported;"):
                report.imported[kind] += 1
                report.notes.append({"path": str(path), "note": outcome.removeprefix("imported; ")})
            else:
                report.skip(path, outcome)
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


async def _stored_as(conn: asyncpg.Connection, kind: str, row: dict) -> str:
    """Why a row was not inserted: 'already present' when the stored one says the same,
    otherwise the reason it was skipped (the stored one is kept)."""
    if kind == "chunks":
        stored = await conn.fetchval(Q["json_import_stored_chunk"], row["session_id"], row["chunk_id"])
        if stored is not None and "\\x" + stored.hex() == row["content_sha256"]:
            return "already present"
        return (f"a chunk {row['chunk_id']!r} with other content is already stored in session "
                f"{row['session_id']!r}; the stored one was kept")
    if kind == "memories":
        stored = await conn.fetchrow(Q["json_import_stored_memory"], row["session_id"], row["key"])
        if stored is not None and stored["content"] == row["content"] and stored["type"] == row["type"]:
            return "already present"
        return (f"memory key {row['key']!r} already holds other content in session {row['session_id']!r} "
                f"(version {stored['version'] if stored else '?'}); the stored one was kept")
    stored = await conn.fetchrow(Q["json_import_stored_task"], row["id"])
    if stored is not None and stored["session_id"] == row["session_id"] and stored["input_data"] == row["input_data"]:
        return "already present"
    where = f"in session {stored['session_id']!r}" if stored is not None else "already"
    return f"task id {row['id']!r} is already used {where} by a task with other input; the stored one was kept"


async def _insert_artifact(conn: asyncpg.Connection, row: dict) -> str:
    """An artifact file is a version of its name: already present when a stored version
    of that name has the same content, else stored as the next version (with a note when
    that is not the version the old store's files implied)."""
    sid, name, digest, implied = row["session_id"], row["name"], row["content_sha256"], row["version"]
    await conn.execute(Q["lock_artifact_name"], sid, name)
    stored = await conn.fetch(Q["json_import_stored_artifacts"], sid, name, row["id"])
    versions = [o for o in stored if o["session_id"] == sid and o["name"] == name]
    if any("\\x" + o["content_sha256"].hex() == digest for o in versions):
        return "already present"
    notes = []
    if any(o["id"] == row["id"] for o in stored):
        # The file's id holds other content (here or in another session): a derived id,
        # the same on every run, keeps this content too.
        row = {**row, "id": str(uuid.uuid5(_ARTIFACT_IDS, f"{sid}/{row['id']}/{digest}"))}
        notes.append(f"its id is taken by other content: stored with id {row['id']!r}")
    row = {**row, "version": max((o["version"] for o in versions), default=0) + 1}
    if row["version"] != implied:
        notes.append(f"stored as version {row['version']} of {name!r}: the versions before it hold other content")
    if not await _insert(conn, "artifacts", row):
        raise _Bad("refused by the database: an artifact with this id or version appeared meanwhile")
    return "imported; " + "; ".join(notes) if notes else "imported"


def _contents(folder: Path, sid: str, session: dict, created_by: str, limits: Limits, report: JsonImportReport):
    """(kind, table, (path, row)) for every importable item, reporting the rest."""
    chunk_dir = folder / "conversations"
    if _is_dir(folder, chunk_dir, report):
        chunks = []
        for path in sorted(chunk_dir.glob("*.json")):
            try:
                chunks.append((path, _chunk_row(path, folder, sid, created_by, limits)))
            except _Bad as exc:
                report.skip(path, str(exc))
        # Insertion order is reading order (conversation_chunks.seq): oldest first.
        chunks.sort(key=lambda item: (item[1]["created"], item[1]["chunk_id"]))
        yield from (("chunks", "conversation_chunks", item) for item in chunks)
    for index, path, entry in _entries(folder / "memories.json", folder, limits, report):
        try:
            yield "memories", "memories", (f"{path}[{index}]", _memory_row(entry, sid, session, created_by, limits))
        except _Bad as exc:
            report.skip(f"{path}[{index}]", str(exc))
    for index, path, entry in _entries(folder / "tasks.json", folder, limits, report):
        try:
            row = _task_row(entry, sid, index, session, created_by)
            if entry.get("status") in _REQUEUED:
                report.notes.append({"path": f"{path}[{index}]", "note": f"was {entry['status']}: imported as pending"})
            yield "tasks", "tasks", (f"{path}[{index}]", row)
        except _Bad as exc:
            report.skip(f"{path}[{index}]", str(exc))
    yield from (("artifacts", "artifacts", item)
                for item in _artifact_rows(folder, sid, created_by, limits, report))


# Reading files ---------------------------------------------------------------------

def _is_dir(folder: Path, path: Path, report: JsonImportReport) -> bool:
    if not path.is_dir():
        return False
    try:
        _inside(folder, path)
    except _Bad as exc:
        report.skip(path, f"{exc}; nothing in it was imported")
        return False
    return True


def _load(path: Path, folder: Path, limits: Limits) -> Any:
    """A file's JSON, read as untrusted: inside its session folder (through links too),
    a regular file (a FIFO would block, a device never end), of bounded size and depth."""
    _inside(folder, path)
    try:
        info = path.stat()
    except OSError as exc:
        raise _Bad(f"cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode)
                or stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode) else "a folder"
                if stat.S_ISDIR(info.st_mode) else "not a regular file")
        raise _Bad(f"{kind}, not a regular file: not read")
    cap = limits.max_file_bytes
    if info.st_size > cap:
        raise _Bad(f"file is {info.st_size:,} bytes, over the limit of {cap:,} (import-json --max-file-bytes)")
    try:
        # O_NONBLOCK: if the file was swapped for a FIFO since the check, open doesn't wait.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise _Bad("not a regular file: not read")
            data = f.read(cap + 1)
    except OSError as exc:
        raise _Bad(f"cannot read: {exc.strerror}") from None
    if len(data) > cap:
        raise _Bad(f"file is over the limit of {cap:,} bytes (import-json --max-file-bytes)")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _Bad(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise _Bad(f"bad JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise _Bad("JSON nested too deeply to read (the tools accept at most 64 levels)") from None


def _object(path: Path, folder: Path, limits: Limits) -> dict:
    value = _load(path, folder, limits)
    if not isinstance(value, dict):
        raise _Bad(f"expected a JSON object, found {type(value).__name__}")
    return value


def _entries(path: Path, folder: Path, limits: Limits, report: JsonImportReport):
    if not path.exists() and not path.is_symlink():
        return
    try:
        value = _load(path, folder, limits)
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


# What the tools accept, checked by the tools' own types.
_CHECKS = {
    "id": TypeAdapter(Identifier), "title": TypeAdapter(Text(500)), "name": TypeAdapter(Text(300)),
    "tag": TypeAdapter(Text(100)), "agent": TypeAdapter(Text(100)), "object": TypeAdapter(JsonObject),
    "json": TypeAdapter(AnyJson), "text": TypeAdapter(Content),
}


def _valid(what: str, name: str, value: Any) -> Any:
    try:
        return _CHECKS[what].validate_python(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        raise _Bad(f"{name} {value!r:.80} is refused: {message}" if what in ("id", "agent")
                   else f"{name} is refused: {message}") from None


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


def _author(data: dict, default: str) -> str:
    value = data.get("created_by")
    return _valid("agent", "created_by", value if isinstance(value, str) else str(value)) if value else default


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
    _valid("text", "content", content)  # NUL, lone surrogates
    data = content.encode("utf-8")
    if len(data) > limits.content_bytes:
        raise _Bad(f"content is {len(data):,} bytes, over the limit of {limits.content_bytes:,} "
                   "(MCP_SESSIONS_MAX_CONTENT_BYTES)")
    return "\\x" + hashlib.sha256(data).hexdigest()


# Rows ------------------------------------------------------------------------------

def _session_row(folder: Path, created_by: str, limits: Limits) -> dict:
    path = folder / "session.json"
    if not path.is_file():
        raise _Bad("no session.json")
    data = _object(path, folder, limits)
    _require(data, "title")
    participants = data.get("participants") or []
    if not isinstance(participants, list) or not all(isinstance(p, str) for p in participants):
        raise _Bad("participants must be a list of names")
    if len(participants) > 100:
        raise _Bad("participants has more than 100 names")
    created = _when(data, "created", _mtime(path))
    return {
        "id": _valid("id", "session id", str(data.get("id") or folder.name)),
        "title": _valid("title", "title", _text(data, "title")),
        "participants": [_valid("id", "participant", p) for p in dict.fromkeys(participants)],
        "status": _one_of(data, "status", _choices(SessionStatus)) if data.get("status") else "active",
        "metadata": _valid("object", "metadata", data["metadata"]) if isinstance(data.get("metadata"), dict) else {},
        "created_by": _author(data, created_by),
        "created": created,
        "last_activity": _when(data, "last_activity", created),
    }


def _chunk_row(path: Path, folder: Path, sid: str, created_by: str, limits: Limits) -> dict:
    data = _object(path, folder, limits)
    _require(data, "content", "format")
    content = _text(data, "content")
    extracted = data.get("extracted_items")
    return {
        "session_id": sid,
        "chunk_id": _valid("id", "chunk id (the file name)", path.stem),
        "content": content,
        "size": len(content),
        "content_sha256": _digest(content, limits),
        "format": _one_of(data, "format", _choices(ChunkFormat)),
        "extracted_items": _valid("json", "extracted_items", extracted) if extracted is not None else {},
        "created_by": _author(data, created_by),
        "created": _when(data, "created", _mtime(path)),
    }


def _memory_row(entry: dict, sid: str, session: dict, created_by: str, limits: Limits) -> dict:
    _require(entry, "type", "key", "content")
    _valid("json", "content", entry["content"])
    size = len(json.dumps(entry["content"], ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > limits.memory_bytes:
        raise _Bad(f"content is {size:,} bytes of JSON, over the memory limit of {limits.memory_bytes:,} "
                   "(MCP_SESSIONS_MAX_MEMORY_BYTES)")
    tags = entry.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _Bad("tags must be a list of strings")
    if len(tags) > 50:
        raise _Bad("tags has more than 50 entries")
    author = _author(entry, created_by)
    created = _when(entry, "created", session["created"])
    return {
        "session_id": sid,
        "key": _valid("id", "key", _text(entry, "key")),
        "type": _one_of(entry, "type", _choices(MemoryType)),
        "content": entry["content"],
        "tags": [_valid("tag", "tag", t) for t in dict.fromkeys(tags)],
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
    if not isinstance(priority, int) or isinstance(priority, bool) or not -(2**31) <= priority < 2**31:
        raise _Bad(f"priority {priority!r:.40} is not a whole number (or low/normal/high/urgent)")
    status = entry.get("status") or "pending"
    if status in _REQUEUED:
        status = "pending"
    elif status not in _choices(TaskStatus):
        raise _Bad(f"status {status!r} is not one of {', '.join(_choices(TaskStatus))}")
    created = _when(entry, "created", session["created"])
    agent = entry.get("agent_name")
    return {
        "id": _valid("id", "task id", str(entry.get("id") or uuid.uuid5(_TASK_IDS, f"{sid}/{index}"))),
        "session_id": sid,
        "agent_name": _valid("id", "agent_name", agent) if agent is not None else None,
        "task_type": _one_of(entry, "task_type", _choices(TaskType)),
        "status": status,
        "priority": priority,
        "input_data": _valid("json", "input_data", entry["input_data"]) if entry.get("input_data") is not None else {},
        "output_data": _valid("json", "output_data", entry["output_data"]) if entry.get("output_data") is not None
        else None,
        "created_by": _author(entry, created_by),
        "created": created,
        "updated": _when(entry, "updated", created),
        "run_after": created,
    }


def _artifact_rows(folder: Path, sid: str, created_by: str, limits: Limits, report: JsonImportReport):
    art_dir = folder / "artifacts"
    if not _is_dir(folder, art_dir, report):
        return
    good: list[tuple[Path, dict]] = []
    for path in sorted(art_dir.glob("*.json")):
        try:
            data = _object(path, folder, limits)
            _require(data, "type", "name", "content")
            content = _text(data, "content")
            metadata = data.get("metadata") or {}
            if not isinstance(metadata, dict):
                raise _Bad("metadata must be a JSON object")
            good.append((path, {
                "id": _valid("id", "artifact id (the file name)", path.stem),
                "session_id": sid,
                "name": _valid("name", "name", _text(data, "name")),
                "type": _one_of(data, "type", _choices(ArtifactType)),
                "format": _valid("tag", "format", str(data.get("format") or "text")),
                "content": content,
                "size": len(content),
                "content_sha256": _digest(content, limits),
                "metadata": _valid("object", "metadata", metadata),
                "created_by": _author(data, created_by),
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

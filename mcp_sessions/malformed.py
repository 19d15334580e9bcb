"""stdio answers malformed messages. The SDK's stdio reader hands a line it cannot read
(a lone surrogate escape, nesting past its parser's limit, a 5,000-digit integer, not
JSON at all) to the server as an exception, which drops it: no answer, and the client
waits for its timeout. Here such a line gets the JSON-RPC error, with the request's id
when one can be found in it, as HTTP answers a malformed body.

The SDK's reader parses lines in order and turns each into exactly one item (a message
or an exception), so the lines it was given, kept in order (RememberedLines), pair up
with the items it yields."""

from __future__ import annotations

import json
import logging
import re
from collections import deque
from typing import Any, AsyncIterator

from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

log = logging.getLogger("mcp_sessions.stdio")

# A JSON string (escapes skipped whole) or a bracket: enough to find the top-level keys.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]]')
_INT = re.compile(r"-?\d{1,18}(?![\d.eE])")
_STRING = re.compile(r'"[^"\\]{0,500}(?:\\.[^"\\]{0,500}){0,50}"')


class RememberedLines:
    """The lines the SDK's reader is given, kept until their item has been passed on."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines
        self.pending: deque[str] = deque()

    def __aiter__(self) -> RememberedLines:
        return self

    async def __anext__(self) -> str:
        line = await self._lines.__anext__()
        self.pending.append(line)
        return line


def top_level(text: str) -> dict[str, Any]:
    """The top-level "id" and "method" of a JSON object too broken to parse, as far as
    they can be read ("id" only if it is an integer or a short, valid string)."""
    found: dict[str, Any] = {}
    depth = 0
    for token in _TOKEN.finditer(text):
        value = token.group()
        if value in "{[":
            depth += 1
        elif value in "}]":
            depth -= 1
        elif depth == 1 and value in ('"id"', '"method"'):
            rest = text[token.end():token.end() + 2000].lstrip()
            if not rest.startswith(":"):
                continue  # a value, not a key
            rest = rest[1:].lstrip()
            scalar = _INT.match(rest) or _STRING.match(rest)
            if scalar:
                try:
                    decoded = json.loads(scalar.group())
                    if isinstance(decoded, str):
                        decoded.encode("utf-8")  # an id we can't write back is no id
                    found[value.strip('"')] = decoded
                except (ValueError, UnicodeEncodeError):
                    pass
            if len(found) == 2:
                break
    return found


def _reason(exc: Exception) -> tuple[int, str]:
    """The JSON-RPC code and words for a line the SDK's parser refused."""
    if not isinstance(exc, ValidationError):
        return PARSE_ERROR, "Parse error"
    first = exc.errors(include_url=False, include_input=False)[0]
    if first["type"] != "json_invalid":
        return INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 request, notification or response"
    detail = str(first["msg"]).removeprefix("Invalid JSON: ")
    if "recursion limit" in detail:
        detail = f"nested too deeply to read ({detail})"
    elif "number out of range" in detail:
        detail = f"a number too large to read ({detail})"
    elif "escape" in detail:
        detail = f"a \\u escape that is not valid Unicode, such as a lone surrogate ({detail})"
    return PARSE_ERROR, f"Parse error: {detail}"


def error_for(line: str, exc: Exception) -> JSONRPCError | None:
    """The answer to a line the SDK could not read, or None when none is due: a blank
    line, or a notification or response (which are never answered)."""
    text = line.strip()
    if not text:
        return None
    code, message = _reason(exc)
    found = top_level(text) if text.startswith("{") else {}
    if "id" not in found and ("method" in found or re.search(r'"(result|error)"\s*:', text[:2000])):
        return None
    return JSONRPCError(jsonrpc="2.0", id=found.get("id"), error=ErrorData(code=code, message=message))


async def answer_malformed(read_stream: Any, write_stream: Any, lines: RememberedLines, send: Any) -> None:
    """Pass the SDK reader's messages on to `send`; answer each line it could not read."""
    async with send:
        async for item in read_stream:
            line = lines.pending.popleft() if lines.pending else ""
            if not isinstance(item, Exception):
                await send.send(item)
                continue
            error = error_for(line, item)
            # Sizes and codes only: the line is the client's data.
            log.warning("unreadable message of %d characters: %s", len(line),
                        f"answered {error.error.code}" if error else "not answered (blank, notification or response)")
            if error is not None:
                await write_stream.send(SessionMessage(error))


def interposed() -> tuple[Any, Any]:
    """A (send, receive) pair of the kind the SDK's transports hand the server."""
    return create_context_streams[SessionMessage | Exception](0)

"""Signatures: the body was sent by whoever holds the hook's secret, and (generic) lately.

github: X-Hub-Signature-256: sha256=HEX(HMAC-SHA256(secret, body)).
generic: X-Timestamp: unix seconds; X-Signature: sha256=HEX(HMAC-SHA256(secret, "<timestamp>." + body)),
within TOLERANCE seconds of our clock (a captured request can't be replayed later).
Comparisons are constant-time (hmac.compare_digest)."""

from __future__ import annotations

import hashlib
import hmac
import time

from mcp_sessions.hooks.config import Hook

TOLERANCE_SECONDS = 300


def sign_github(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def sign_generic(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(hook: Hook, secret: bytes, headers: dict[str, str], body: bytes, now: float | None = None) -> str | None:
    """None when the signature holds, else why not (said to the sender: no secrets in it).
    headers: lower-cased names."""
    if hook.scheme == "github":
        given = headers.get("x-hub-signature-256")
        if not given:
            return "missing X-Hub-Signature-256"
        return None if hmac.compare_digest(given.encode(), sign_github(secret, body).encode()) else "bad signature"
    given = headers.get(hook.signature_header.lower())
    stamp = headers.get(hook.timestamp_header.lower())
    if not given or not stamp:
        return f"missing {hook.signature_header} or {hook.timestamp_header}"
    try:
        age = abs((time.time() if now is None else now) - int(stamp))
    except ValueError:
        return f"{hook.timestamp_header} is not unix seconds"
    if age > TOLERANCE_SECONDS:
        return f"{hook.timestamp_header} is more than {TOLERANCE_SECONDS} s away from the server's clock"
    if not given.startswith("sha256="):
        given = "sha256=" + given
    return None if hmac.compare_digest(given.encode(), sign_generic(secret, stamp, body).encode()) else "bad signature"


def delivery_of(hook: Hook, headers: dict[str, str], body: bytes) -> str:
    """The idempotency of a delivery: its id header, else (generic) the signed timestamp and body."""
    header = "x-github-delivery" if hook.scheme == "github" else hook.delivery_header.lower()
    given = headers.get(header)
    if given:
        return given[:200]
    stamp = headers.get(hook.timestamp_header.lower(), "") if hook.scheme == "generic" else ""
    return "sha256:" + hashlib.sha256(stamp.encode() + b"." + body).hexdigest()


def event_of(hook: Hook, headers: dict[str, str]) -> str | None:
    return headers.get("x-github-event" if hook.scheme == "github" else hook.event_header.lower())

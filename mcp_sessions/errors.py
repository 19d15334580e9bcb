"""Our own error hierarchy. The store raises these; the tool layer turns them into
is_error results. Every message says what was wrong and what is allowed."""

from __future__ import annotations


class SessionsError(Exception):
    """Base of every error a caller can act on."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(SessionsError):
    code = "invalid_input"


class NotFound(SessionsError):
    code = "not_found"


class Conflict(SessionsError):
    code = "conflict"


class StaleClaim(Conflict):
    """A claim token that is wrong, expired, or was superseded by another claim."""

    code = "stale_claim"


class Unavailable(SessionsError):
    """The database could not be reached or the call was cut off; safe to retry."""

    code = "unavailable"

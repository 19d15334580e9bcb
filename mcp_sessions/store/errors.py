"""Driver errors → our errors, at the store boundary."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

import asyncpg

from mcp_sessions.errors import Conflict, InvalidInput, NotFound, SessionsError, Unavailable

_CONNECTION_ERRORS = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    # What asyncpg raises on a pooled connection the server closed while it sat idle
    # (a restart or failover), before it noticed the socket is gone.
    asyncpg.InternalClientError,
    ConnectionError,
    OSError,
    TimeoutError,
)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Wrap a unit of store work: whatever the driver raises leaves as a SessionsError."""
    try:
        yield
    except SessionsError:
        raise
    except asyncpg.ForeignKeyViolationError as exc:
        raise NotFound(_fk_message(exc)) from exc
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"already exists ({exc.constraint_name}): {exc.detail or exc}") from exc
    except asyncpg.NotNullViolationError as exc:
        # A JSON null sent for a value that must be there (extracted_items=null).
        raise InvalidInput(f"{exc.column_name or 'a value'} must not be null") from exc
    except asyncpg.CheckViolationError as exc:
        raise InvalidInput(f"value not allowed by {exc.constraint_name}: {exc.detail or exc}") from exc
    except (asyncpg.QueryCanceledError, asyncpg.DeadlockDetectedError,
            asyncpg.SerializationError) as exc:
        raise Unavailable(f"the database cancelled the call ({exc.sqlstate}: {exc}); it is safe to retry") from exc
    except asyncpg.ProgramLimitExceededError as exc:
        raise InvalidInput(f"content too large for the database: {exc}") from exc
    except asyncpg.CharacterNotInRepertoireError as exc:
        raise InvalidInput(f"text is not valid UTF-8 or contains NUL: {exc}") from exc
    except asyncpg.DataError as exc:
        # A value the database can't take (a number past int4/int8, a wrong type): the
        # tools' own types refuse these first; this keeps any they miss a clear refusal.
        raise InvalidInput(f"a value the database cannot store: {_data_reason(exc)}") from exc
    # A statement in flight when the answer was lost (a timeout, the server gone) may have
    # committed: a one-statement write runs without BEGIN, so its COMMIT is the server's.
    # Only a failure before anything was sent (tools/_base.py: acquiring a connection)
    # can say that nothing was written.
    except TimeoutError as exc:
        raise Unavailable(
            "the database did not answer in time (statement_timeout or connect_timeout); the call may or may "
            "not have been applied: read before retrying a write, or retry it with the same ids"
        ) from exc
    except _CONNECTION_ERRORS as exc:
        raise Unavailable(
            f"the database is unreachable ({type(exc).__name__}); the call may or may not have been applied: "
            "read before retrying a write, or retry it with the same ids"
        ) from exc


def _data_reason(exc: asyncpg.DataError) -> str:
    # asyncpg's own text ("invalid input for query argument $2: 2147483648 (value out of
    # int32 range)") names a placeholder the caller never saw: keep the reason only.
    text = str(exc)
    reason = re.search(r"\(([^()]*)\)\s*$", text) if text.startswith("invalid input for query argument") else None
    return reason[1] if reason else text[:200]


def _fk_message(exc: asyncpg.ForeignKeyViolationError) -> str:
    constraint = exc.constraint_name or ""
    if "session_id" in constraint:
        return "session not found: create it with create_session first"
    return f"a referenced row does not exist ({constraint})"

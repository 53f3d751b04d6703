"""What every driver adapter provides: a session that runs queries and guards state.

A session wraps one live connection. ``begin(commit=...)`` opens the guard: a
transaction, or a savepoint when the caller's connection is already in a transaction.
``end(error)`` closes it: it rolls back (always, unless ``commit`` and ``error`` is
None) so the caller's transaction state and session settings end as they began. The
runner calls ``end`` exactly when ``begin`` returned, possibly from another task (it
shields both from cancellation). ``fetch`` runs one :class:`Query` with the extended
query protocol and returns its rows. ``server_error`` describes an exception the
driver raised as the core's :class:`~pgstatkit._errors.ServerError` (the runner asks
for it at its edge: before throwing a failure into an operation's steps, and at its
exit); ``is_closed`` tells whether the driver connection is gone (lost, or closed by
the driver after a failed cancellation). :func:`sqlstate_of` is the one way pgstatkit
reads a SQLSTATE; :func:`is_client_param_error` tells a parameter the driver refused to
send. Neither reads an exception's message. Adapters never build models or choose SQL.
"""

from __future__ import annotations

import sys
from typing import Protocol

from pgstatkit._protocol import Query, Result, ServerError, TxState

__all__ = [
    "AsyncSession",
    "SyncSession",
    "is_client_param_error",
    "server_error",
    "sqlstate_of",
]


class AsyncSession(Protocol):
    """An async adapter's session over one connection."""

    def tx_state(self) -> TxState: ...

    async def begin(self, *, commit: bool) -> None: ...

    async def end(self, error: BaseException | None) -> None: ...

    async def fetch(self, query: Query) -> Result: ...

    def server_error(self, exc: Exception) -> ServerError: ...

    def is_closed(self) -> bool: ...


class SyncSession(Protocol):
    """A blocking adapter's session over one connection."""

    def tx_state(self) -> TxState: ...

    def begin(self, *, commit: bool) -> None: ...

    def end(self, error: BaseException | None) -> None: ...

    def fetch(self, query: Query) -> Result: ...

    def server_error(self, exc: Exception) -> ServerError: ...

    def is_closed(self) -> bool: ...


_CHAIN_LIMIT = 8


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver exception, or None if it carries none.

    Reads ``exc.sqlstate`` (asyncpg, psycopg), then the exception it wraps: ``orig``
    (SQLAlchemy's ``DBAPIError``) or ``__cause__``, a few levels deep.
    """
    current: BaseException | None = exc
    for _ in range(_CHAIN_LIMIT):
        if current is None:
            return None
        code = getattr(current, "sqlstate", None)
        if isinstance(code, str) and len(code) == 5:
            return code
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return None


def is_client_param_error(exc: BaseException) -> bool:
    """Whether the driver refused a query parameter before sending the statement.

    Decided by exception type, never by message: psycopg's ``DataError`` or
    ``ProgrammingError`` without a SQLSTATE ("cannot adapt type", a NUL character, a
    list of mixed types) never came from a server; asyncpg raises its ``DataError``
    (SQLSTATE 22000) itself when it cannot encode an argument, and then it has no
    ``severity``, which every server error has. The drivers are looked up in
    ``sys.modules``: one that is not imported raised nothing.
    """
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.DataError | psycopg.ProgrammingError):
        return getattr(exc, "sqlstate", None) is None
    asyncpg_exceptions = sys.modules.get("asyncpg.exceptions")
    if asyncpg_exceptions is not None and type(exc) is asyncpg_exceptions.DataError:
        return getattr(exc, "severity", None) is None
    return False


def server_error(
    exc: Exception,
    message: str | None,
    detail: str | None,
    hint: str | None,
    *,
    connection_lost: bool,
) -> ServerError:
    """The core's description of ``exc``, given the message parts its driver reads.

    ``message`` None: the driver has no server message for it (its text is kept
    instead). The SQLSTATE comes from :func:`sqlstate_of`, whether the driver refused a
    parameter from :func:`is_client_param_error`.
    """
    return ServerError(
        sqlstate_of(exc),
        message if message is not None else str(exc),
        original=exc,
        detail=detail,
        hint=hint,
        connection_lost=connection_lost,
        client_param_error=is_client_param_error(exc),
    )

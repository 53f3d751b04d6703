"""What every driver adapter provides: a session that runs queries and guards state.

A session wraps one live connection. ``begin(commit=...)`` opens the guard: a
transaction, or a savepoint when the caller's connection is already in a transaction.
``end(error)`` closes it: it rolls back (always, unless ``commit`` and ``error`` is
None) so the caller's transaction state and session settings end as they began. The
runner calls ``end`` exactly when ``begin`` returned, possibly from another task (it
shields both from cancellation). ``fetch`` runs one :class:`Query` with the extended
query protocol and returns its rows. ``sqlstate`` reads the SQLSTATE of a driver
exception; ``is_closed`` tells whether the driver connection is gone (lost, or closed
by the driver after a failed cancellation). Adapters never build models or choose SQL.
"""

from __future__ import annotations

from typing import Protocol

from pgstatkit._protocol import Query, Result, TxState

__all__ = ["AsyncSession", "SyncSession", "sqlstate_of"]


class AsyncSession(Protocol):
    """An async adapter's session over one connection."""

    def tx_state(self) -> TxState: ...

    async def begin(self, *, commit: bool) -> None: ...

    async def end(self, error: BaseException | None) -> None: ...

    async def fetch(self, query: Query) -> Result: ...

    def sqlstate(self, exc: BaseException) -> str | None: ...

    def is_closed(self) -> bool: ...


class SyncSession(Protocol):
    """A blocking adapter's session over one connection."""

    def tx_state(self) -> TxState: ...

    def begin(self, *, commit: bool) -> None: ...

    def end(self, error: BaseException | None) -> None: ...

    def fetch(self, query: Query) -> Result: ...

    def sqlstate(self, exc: BaseException) -> str | None: ...

    def is_closed(self) -> bool: ...


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE carried by an asyncpg or psycopg exception, or None."""
    code = getattr(exc, "sqlstate", None)
    return code if isinstance(code, str) else None

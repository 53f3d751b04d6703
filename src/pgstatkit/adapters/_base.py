"""What every driver adapter provides: a session that runs queries and guards state.

A session wraps one live connection. ``guard(commit=...)`` opens a transaction, or a
savepoint when the caller's connection is already in a transaction, and on exit rolls
it back (always, unless ``commit`` and no error) so the caller's transaction state
and session settings end as they began. ``fetch`` runs one :class:`Query` with the
extended query protocol and returns its rows. ``sqlstate`` reads the SQLSTATE of a
driver exception. Adapters never build models or choose SQL.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Protocol

from pgstatkit._protocol import Query, Result, TxState

__all__ = ["AsyncSession", "SyncSession", "sqlstate_of"]


class AsyncSession(Protocol):
    """An async adapter's session over one connection."""

    def tx_state(self) -> TxState: ...

    def guard(self, *, commit: bool) -> AbstractAsyncContextManager[None]: ...

    async def fetch(self, query: Query) -> Result: ...

    def sqlstate(self, exc: BaseException) -> str | None: ...


class SyncSession(Protocol):
    """A blocking adapter's session over one connection."""

    def tx_state(self) -> TxState: ...

    def guard(self, *, commit: bool) -> AbstractContextManager[None]: ...

    def fetch(self, query: Query) -> Result: ...

    def sqlstate(self, exc: BaseException) -> str | None: ...


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE carried by an asyncpg or psycopg exception, or None."""
    code = getattr(exc, "sqlstate", None)
    return code if isinstance(code, str) else None

"""psycopg 3 adapter: ``AsyncConnection`` / ``AsyncConnectionPool`` and their sync twins.

Transactions use psycopg's own ``transaction()`` (a savepoint when the connection is
already in a transaction; ``force_rollback`` unless the operation commits), so
psycopg's idea of the connection state stays right. Queries run through a raw cursor
(``$1`` placeholders) with ``binary=True``, which forces the extended query protocol:
the server refuses more than one statement. ``prepare=False`` keeps pgstatkit's
statements out of the connection's prepared statements.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from typing import Any

import psycopg
from psycopg import pq

from pgstatkit._protocol import Query, Result, TxState
from pgstatkit.adapters._base import AsyncSession, SyncSession, sqlstate_of

__all__ = ["PsycopgAsyncSession", "PsycopgSyncSession", "open_async", "open_sync"]

_STATES = {
    pq.TransactionStatus.IDLE: TxState.IDLE,
    pq.TransactionStatus.INTRANS: TxState.IN_TRANSACTION,
    pq.TransactionStatus.INERROR: TxState.FAILED,
}


def _state(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> TxState:
    status = conn.info.transaction_status
    try:
        return _STATES[status]
    except KeyError:
        raise psycopg.OperationalError(
            f"the connection cannot run a query now (transaction status {status.name})"
        ) from None


def _columns(description: list[Any] | None) -> tuple[str, ...]:
    return tuple(d.name for d in description) if description else ()


class PsycopgAsyncSession:
    """A session over one ``psycopg.AsyncConnection``."""

    __slots__ = ("_conn",)

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    def tx_state(self) -> TxState:
        return _state(self._conn)

    @asynccontextmanager
    async def guard(self, *, commit: bool) -> AsyncIterator[None]:
        async with self._conn.transaction(force_rollback=not commit):
            yield

    async def fetch(self, query: Query) -> Result:
        async with psycopg.AsyncRawCursor(self._conn) as cur:
            await cur.execute(query.sql, query.params, prepare=False, binary=True)
            columns = _columns(cur.description)
            rows = await cur.fetchall() if columns else []
        return Result(columns, rows)

    def sqlstate(self, exc: BaseException) -> str | None:
        return sqlstate_of(exc)


class PsycopgSyncSession:
    """A session over one ``psycopg.Connection``; the twin of :class:`PsycopgAsyncSession`."""

    __slots__ = ("_conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def tx_state(self) -> TxState:
        return _state(self._conn)

    @contextmanager
    def guard(self, *, commit: bool) -> Iterator[None]:
        with self._conn.transaction(force_rollback=not commit):
            yield

    def fetch(self, query: Query) -> Result:
        with psycopg.RawCursor(self._conn) as cur:
            cur.execute(query.sql, query.params, prepare=False, binary=True)
            columns = _columns(cur.description)
            rows = cur.fetchall() if columns else []
        return Result(columns, rows)

    def sqlstate(self, exc: BaseException) -> str | None:
        return sqlstate_of(exc)


@asynccontextmanager
async def _async_from_pool(pool: Any) -> AsyncIterator[AsyncSession]:
    async with pool.connection() as conn:
        yield PsycopgAsyncSession(conn)


@asynccontextmanager
async def _async_from_connection(conn: psycopg.AsyncConnection[Any]) -> AsyncIterator[AsyncSession]:
    yield PsycopgAsyncSession(conn)


@contextmanager
def _sync_from_pool(pool: Any) -> Iterator[SyncSession]:
    with pool.connection() as conn:
        yield PsycopgSyncSession(conn)


@contextmanager
def _sync_from_connection(conn: psycopg.Connection[Any]) -> Iterator[SyncSession]:
    yield PsycopgSyncSession(conn)


def open_async(source: Any) -> AbstractAsyncContextManager[AsyncSession]:
    """A session over an ``AsyncConnection`` or a connection from an ``AsyncConnectionPool``."""
    if isinstance(source, psycopg.AsyncConnection):
        return _async_from_connection(source)
    return _async_from_pool(source)


def open_sync(source: Any) -> AbstractContextManager[SyncSession]:
    """A session over a ``Connection`` or a connection from a ``ConnectionPool``."""
    if isinstance(source, psycopg.Connection):
        return _sync_from_connection(source)
    return _sync_from_pool(source)

"""psycopg 3 adapter: ``AsyncConnection`` / ``AsyncConnectionPool`` and their sync twins.

Transactions use psycopg's own ``transaction()`` (a savepoint when the connection is
already in a transaction; ``force_rollback`` unless the operation commits), so
psycopg's idea of the connection state stays right; the runner enters it in ``begin``
and leaves it in ``end``, passing the call's error so psycopg rolls back. A statement
interrupted by a cancellation or ``KeyboardInterrupt`` is cancelled on the server by
psycopg, which waits for the server's answer before the exception leaves. Queries run
through a raw cursor (``$1`` placeholders) with ``binary=True``, which forces the
extended query protocol: the server refuses more than one statement. ``prepare=False``
keeps pgstatkit's statements out of the connection's prepared statements.
"""

from __future__ import annotations

import asyncio
import select
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from types import TracebackType
from typing import Any

import psycopg
from psycopg import pq

from pgstatkit._protocol import Query, Result, ServerError, TxState
from pgstatkit.adapters._base import AsyncSession, SyncSession, server_error

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


def _exc_info(
    error: BaseException | None,
) -> tuple[type[BaseException] | None, BaseException | None, TracebackType | None]:
    """``__exit__`` arguments: psycopg rolls back when they carry an exception."""
    if error is None:
        return None, None, None
    return type(error), error, error.__traceback__


_SETTLE_S = 5.0
"""How long ``end`` waits for the answer to an interrupted statement (as psycopg does)."""

_UNSETTLED = "no complete answer to a cancelled statement within 5 s: connection closed"


def _pending(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    return conn.info.transaction_status == pq.TransactionStatus.ACTIVE


def _settle_sync(conn: psycopg.Connection[Any]) -> None:
    """Read the answer to a statement that was interrupted before psycopg read it.

    psycopg cancels a statement interrupted by ``KeyboardInterrupt`` and waits for the
    server's answer, but its C wait function can leave that answer unread: the
    connection stays ACTIVE and every next statement fails with "another command is
    already in progress". Cancel it (harmless if it is over) and read the answer
    without ever blocking in libpq; if it is not complete within :data:`_SETTLE_S` the
    connection is closed, as psycopg does when a cancelled statement does not end.
    """
    if not _pending(conn):
        return
    conn.cancel_safe(timeout=_SETTLE_S)
    pgconn = conn.pgconn
    deadline = time.monotonic() + _SETTLE_S
    while True:
        while pgconn.is_busy():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                conn.close()
                raise psycopg.OperationalError(_UNSETTLED)
            select.select([pgconn.socket], [], [], remaining)
            pgconn.consume_input()
        if pgconn.get_result() is None:
            return


async def _settle_async(conn: psycopg.AsyncConnection[Any]) -> None:
    """The twin of :func:`_settle_sync` (it polls: a rare path)."""
    if not _pending(conn):
        return
    await conn.cancel_safe(timeout=_SETTLE_S)
    pgconn = conn.pgconn
    deadline = time.monotonic() + _SETTLE_S
    while True:
        while pgconn.is_busy():
            if time.monotonic() >= deadline:
                await conn.close()
                raise psycopg.OperationalError(_UNSETTLED)
            await asyncio.sleep(0.005)
            pgconn.consume_input()
        if pgconn.get_result() is None:
            return


def _server_error(
    exc: Exception, conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]
) -> ServerError:
    """The core's description of ``exc``, with the server's message parts from its ``diag``."""
    if isinstance(exc, psycopg.Error):
        diag = exc.diag
        parts = diag.message_primary, diag.message_detail, diag.message_hint
    else:
        parts = None, None, None
    return server_error(exc, *parts, connection_lost=conn.closed)


def _columns(description: list[Any] | None) -> tuple[str, ...]:
    return tuple(d.name for d in description) if description else ()


class PsycopgAsyncSession:
    """A session over one ``psycopg.AsyncConnection``."""

    __slots__ = ("_conn", "_tx")

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn
        self._tx: AbstractAsyncContextManager[Any] | None = None

    def tx_state(self) -> TxState:
        return _state(self._conn)

    async def begin(self, *, commit: bool) -> None:
        tx = self._conn.transaction(force_rollback=not commit)
        await tx.__aenter__()
        self._tx = tx

    async def end(self, error: BaseException | None) -> None:
        tx, self._tx = self._tx, None
        if tx is not None:
            await _settle_async(self._conn)
            await tx.__aexit__(*_exc_info(error))

    async def fetch(self, query: Query) -> Result:
        async with psycopg.AsyncRawCursor(self._conn) as cur:
            await cur.execute(query.sql, query.params, prepare=False, binary=True)
            columns = _columns(cur.description)
            rows = await cur.fetchall() if columns else []
        return Result(columns, rows)

    def server_error(self, exc: Exception) -> ServerError:
        return _server_error(exc, self._conn)

    def is_closed(self) -> bool:
        return bool(self._conn.closed)


class PsycopgSyncSession:
    """A session over one ``psycopg.Connection``; the twin of :class:`PsycopgAsyncSession`."""

    __slots__ = ("_conn", "_tx")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._tx: AbstractContextManager[Any] | None = None

    def tx_state(self) -> TxState:
        return _state(self._conn)

    def begin(self, *, commit: bool) -> None:
        tx = self._conn.transaction(force_rollback=not commit)
        tx.__enter__()
        self._tx = tx

    def end(self, error: BaseException | None) -> None:
        tx, self._tx = self._tx, None
        if tx is not None:
            _settle_sync(self._conn)
            tx.__exit__(*_exc_info(error))

    def fetch(self, query: Query) -> Result:
        with psycopg.RawCursor(self._conn) as cur:
            cur.execute(query.sql, query.params, prepare=False, binary=True)
            columns = _columns(cur.description)
            rows = cur.fetchall() if columns else []
        return Result(columns, rows)

    def server_error(self, exc: Exception) -> ServerError:
        return _server_error(exc, self._conn)

    def is_closed(self) -> bool:
        return bool(self._conn.closed)


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

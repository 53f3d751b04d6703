"""psycopg 3, async: ``AsyncConnection`` and ``AsyncConnectionPool``.

See :mod:`pgstatkit.adapters._psycopg`. The blocking twin,
:mod:`pgstatkit.adapters._psycopg_sync`, is generated from this module by
``tools/async_to_sync.py``: edit this one, then run the tool.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import psycopg

from pgstatkit._protocol import Query, Result, ServerError, TxState
from pgstatkit.adapters._base import AsyncSession
from pgstatkit.adapters._psycopg_common import (
    SETTLE_S,
    UNSETTLED,
    columns,
    describe,
    exc_info,
    pending,
    readable_async,
    tx_state,
)

__all__ = ["PsycopgAsyncSession", "open_async"]


class PsycopgAsyncSession:
    """A session over one psycopg connection."""

    __slots__ = ("_conn", "_tx")

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn
        self._tx: AbstractAsyncContextManager[Any] | None = None

    def tx_state(self) -> TxState:
        return tx_state(self._conn)

    async def begin(self, *, commit: bool) -> None:
        tx = self._conn.transaction(force_rollback=not commit)
        await tx.__aenter__()
        self._tx = tx

    async def end(self, error: BaseException | None) -> None:
        tx, self._tx = self._tx, None
        if tx is not None:
            await _settle(self._conn)
            await tx.__aexit__(*exc_info(error))

    async def fetch(self, query: Query) -> Result:
        async with psycopg.AsyncRawCursor(self._conn) as cur:
            await cur.execute(query.sql, query.params, prepare=False, binary=True)
            names = columns(cur.description)
            rows = await cur.fetchall() if names else []
        return Result(names, rows)

    def server_error(self, exc: Exception) -> ServerError:
        return describe(exc, self._conn)

    def is_closed(self) -> bool:
        return bool(self._conn.closed)


async def _settle(conn: psycopg.AsyncConnection[Any]) -> None:
    """Read the answer to a statement that was interrupted before psycopg read it.

    psycopg cancels a statement interrupted by ``KeyboardInterrupt`` (or a cancelled
    task) and waits for the server's answer, but its C wait function can leave that
    answer unread: the connection stays ACTIVE and every next statement fails with
    "another command is already in progress". Cancel it (harmless if it is over) and
    read the answer without ever blocking in libpq; if it is not complete within
    :data:`~pgstatkit.adapters._psycopg_common.SETTLE_S` the connection is closed, as
    psycopg does when a cancelled statement does not end.
    """
    if not pending(conn):
        return
    await conn.cancel_safe(timeout=SETTLE_S)
    pgconn = conn.pgconn
    deadline = time.monotonic() + SETTLE_S
    while True:
        while pgconn.is_busy():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                await conn.close()
                raise psycopg.OperationalError(UNSETTLED)
            await readable_async(pgconn.socket, remaining)
            pgconn.consume_input()
        if pgconn.get_result() is None:
            return


@asynccontextmanager
async def _from_pool(pool: Any) -> AsyncIterator[AsyncSession]:
    async with pool.connection() as conn:
        yield PsycopgAsyncSession(conn)


@asynccontextmanager
async def _from_connection(conn: psycopg.AsyncConnection[Any]) -> AsyncIterator[AsyncSession]:
    yield PsycopgAsyncSession(conn)


def open_async(source: Any) -> AbstractAsyncContextManager[AsyncSession]:
    """A session over a psycopg connection, or a connection from its pool."""
    if isinstance(source, psycopg.AsyncConnection):
        return _from_connection(source)
    return _from_pool(source)

# Generated from src/pgstatkit/adapters/_psycopg_async.py by tools/async_to_sync.py: do not edit.
"""psycopg 3, blocking: ``Connection`` and ``ConnectionPool``.

See :mod:`pgstatkit.adapters._psycopg`. Generated from
:mod:`pgstatkit.adapters._psycopg_async` by ``tools/async_to_sync.py``: do not edit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg

from pgstatkit._protocol import Query, Result, ServerError, TxState
from pgstatkit.adapters._base import SyncSession
from pgstatkit.adapters._psycopg_common import (
    SETTLE_S,
    UNSETTLED,
    columns,
    describe,
    exc_info,
    pending,
    readable_sync,
    tx_state,
)

__all__ = ["PsycopgSyncSession", "open_sync"]


class PsycopgSyncSession:
    """A session over one psycopg connection."""

    __slots__ = ("_conn", "_tx")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._tx: AbstractContextManager[Any] | None = None

    def tx_state(self) -> TxState:
        return tx_state(self._conn)

    def begin(self, *, commit: bool) -> None:
        tx = self._conn.transaction(force_rollback=not commit)
        tx.__enter__()
        self._tx = tx

    def end(self, error: BaseException | None) -> None:
        tx, self._tx = self._tx, None
        if tx is not None:
            _settle(self._conn)
            tx.__exit__(*exc_info(error))

    def fetch(self, query: Query) -> Result:
        with psycopg.RawCursor(self._conn) as cur:
            cur.execute(query.sql, query.params, prepare=False, binary=True)
            names = columns(cur.description)
            rows = cur.fetchall() if names else []
        return Result(names, rows)

    def server_error(self, exc: Exception) -> ServerError:
        return describe(exc, self._conn)

    def is_closed(self) -> bool:
        return bool(self._conn.closed)


def _settle(conn: psycopg.Connection[Any]) -> None:
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
    conn.cancel_safe(timeout=SETTLE_S)
    pgconn = conn.pgconn
    deadline = time.monotonic() + SETTLE_S
    while True:
        while pgconn.is_busy():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                conn.close()
                raise psycopg.OperationalError(UNSETTLED)
            readable_sync(pgconn.socket, remaining)
            pgconn.consume_input()
        if pgconn.get_result() is None:
            return


@contextmanager
def _from_pool(pool: Any) -> Iterator[SyncSession]:
    with pool.connection() as conn:
        yield PsycopgSyncSession(conn)


@contextmanager
def _from_connection(conn: psycopg.Connection[Any]) -> Iterator[SyncSession]:
    yield PsycopgSyncSession(conn)


def open_sync(source: Any) -> AbstractContextManager[SyncSession]:
    """A session over a psycopg connection, or a connection from its pool."""
    if isinstance(source, psycopg.Connection):
        return _from_connection(source)
    return _from_pool(source)

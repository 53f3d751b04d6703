"""asyncpg adapter: ``Connection``, pooled connections, and ``Pool``.

Transactions are opened with plain ``BEGIN`` / ``SAVEPOINT`` statements (asyncpg's
``Transaction`` leaves a rolled-back savepoint open); asyncpg always uses the extended
query protocol for ``fetch``, so the server refuses more than one statement.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from pgstatkit._protocol import SAVEPOINT, Query, Result, ServerError, TxState
from pgstatkit.adapters._base import AsyncSession, server_error

__all__ = ["AsyncpgSession", "open_session"]


class AsyncpgSession:
    """A session over one asyncpg connection (or pool connection proxy)."""

    __slots__ = ("_commit", "_conn", "_nested")

    CANCEL_IN_DRIVER = True
    """asyncpg finishes a cancelled statement by itself (see ``pgstatkit._shield``)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._nested = False
        self._commit = False

    def tx_state(self) -> TxState:
        # asyncpg does not tell a failed transaction apart; the server's 25P02 does.
        if self._conn.is_in_transaction():
            return TxState.IN_TRANSACTION
        return TxState.IDLE

    async def begin(self, *, commit: bool) -> None:
        self._nested = self._conn.is_in_transaction()
        self._commit = commit
        await self._conn.execute(f"SAVEPOINT {SAVEPOINT}" if self._nested else "BEGIN")

    async def end(self, error: BaseException | None) -> None:
        # After a cancelled statement asyncpg waits for the server's answer to it (and
        # for its cancel request) before it sends the next one, so this runs last.
        if self._commit and error is None:
            await self._conn.execute(f"RELEASE SAVEPOINT {SAVEPOINT}" if self._nested else "COMMIT")
        elif self._nested:
            await self._conn.execute(
                f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
            )
        else:
            await self._conn.execute("ROLLBACK")

    async def fetch(self, query: Query) -> Result:
        records = await self._conn.fetch(query.sql, *query.params)
        columns = tuple(records[0].keys()) if records else ()
        return Result(columns, records)

    def server_error(self, exc: Exception) -> ServerError:
        # a server's error (asyncpg's PostgresError) carries its fields as attributes
        return server_error(
            exc,
            getattr(exc, "message", None),
            getattr(exc, "detail", None),
            getattr(exc, "hint", None),
            connection_lost=self.is_closed(),
        )

    def is_closed(self) -> bool:
        return bool(self._conn.is_closed())


@asynccontextmanager
async def _from_pool(pool: Any) -> AsyncIterator[AsyncSession]:
    async with pool.acquire() as conn:
        yield AsyncpgSession(conn)


@asynccontextmanager
async def _from_connection(conn: Any) -> AsyncIterator[AsyncSession]:
    yield AsyncpgSession(conn)


def open_session(source: Any) -> AbstractAsyncContextManager[AsyncSession]:
    """A session over an asyncpg connection, or over a connection acquired from a pool."""
    import asyncpg

    if isinstance(source, asyncpg.Pool):
        return _from_pool(source)
    return _from_connection(source)

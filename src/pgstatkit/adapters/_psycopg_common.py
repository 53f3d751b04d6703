"""What the psycopg sessions share (see :mod:`pgstatkit.adapters._psycopg`).

:mod:`~pgstatkit.adapters._psycopg_async` and :mod:`~pgstatkit.adapters._psycopg_sync`
(generated from it) differ only where their waiting does: :func:`readable_async` and
:func:`readable_sync` have the same signature.
"""

from __future__ import annotations

import asyncio
import select
from types import TracebackType
from typing import Any

import psycopg
from psycopg import pq

from pgstatkit._protocol import ServerError, TxState
from pgstatkit.adapters._base import server_error

__all__ = [
    "SETTLE_S",
    "UNSETTLED",
    "columns",
    "describe",
    "exc_info",
    "pending",
    "readable_async",
    "readable_sync",
    "tx_state",
]

_STATES = {
    pq.TransactionStatus.IDLE: TxState.IDLE,
    pq.TransactionStatus.INTRANS: TxState.IN_TRANSACTION,
    pq.TransactionStatus.INERROR: TxState.FAILED,
}

Connection = psycopg.Connection[Any] | psycopg.AsyncConnection[Any]


def tx_state(conn: Connection) -> TxState:
    """The connection's transaction state.

    Raises:
        psycopg.OperationalError: the connection cannot run a query now (e.g. it is
            busy with a statement, or lost).
    """
    status = conn.info.transaction_status
    try:
        return _STATES[status]
    except KeyError:
        raise psycopg.OperationalError(
            f"the connection cannot run a query now (transaction status {status.name})"
        ) from None


def exc_info(
    error: BaseException | None,
) -> tuple[type[BaseException] | None, BaseException | None, TracebackType | None]:
    """``__exit__`` arguments: psycopg rolls back when they carry an exception."""
    if error is None:
        return None, None, None
    return type(error), error, error.__traceback__


def describe(exc: Exception, conn: Connection) -> ServerError:
    """The core's description of ``exc``, with the server's message parts from its ``diag``."""
    if isinstance(exc, psycopg.Error):
        diag = exc.diag
        parts = diag.message_primary, diag.message_detail, diag.message_hint
    else:
        parts = None, None, None
    return server_error(exc, *parts, connection_lost=conn.closed)


def columns(description: list[Any] | None) -> tuple[str, ...]:
    """The column names of a cursor's ``description`` (none for a statement without rows)."""
    return tuple(d.name for d in description) if description else ()


SETTLE_S = 5.0
"""How long ``end`` waits for the answer to an interrupted statement (as psycopg does)."""

UNSETTLED = "no complete answer to a cancelled statement within 5 s: connection closed"


def pending(conn: Connection) -> bool:
    """Whether a statement's answer is still unread (libpq's ACTIVE state)."""
    return conn.info.transaction_status == pq.TransactionStatus.ACTIVE


async def readable_async(socket: int, timeout_s: float) -> None:
    """Let the event loop run a moment before the socket is read again (it polls: a
    rare path)."""
    await asyncio.sleep(0.005)


def readable_sync(socket: int, timeout_s: float) -> None:
    """Wait until ``socket`` is readable, at most ``timeout_s`` (never blocks in libpq)."""
    select.select([socket], [], [], timeout_s)

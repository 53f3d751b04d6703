"""Drive an :class:`~pgstatkit._protocol.Operation` on a driver session.

Two twins with the same shape, :func:`run_async` and :func:`run_sync`: open the guard
(a transaction, or a savepoint inside the caller's transaction), run the setup
statement, feed the operation's steps, roll back (or commit), and translate server
errors into pgstatkit errors. Sessions come from :mod:`pgstatkit.adapters`. Every
statement sent carries pgstatkit's marker comment (:mod:`pgstatkit._own`), so its own
entries in ``pg_stat_statements`` can be left out of results.
"""

from __future__ import annotations

from typing import TypeVar

from pgstatkit._own import mark
from pgstatkit._protocol import (
    Operation,
    Query,
    Steps,
    TxState,
    parse_setup,
    restore_query,
    setup_query,
    translate_error,
)
from pgstatkit.adapters._base import AsyncSession, SyncSession, is_client_param_error
from pgstatkit.errors import PgStatKitError, TransactionStateError

__all__ = ["run_async", "run_sync"]

T = TypeVar("T")

_FAILED_TX = (
    "the connection is in a failed transaction (an earlier statement failed); "
    "roll it back before calling pgstatkit"
)


def _marked(query: Query) -> Query:
    return Query(mark(query.sql), query.params)


def _translated(exc: Exception, sqlstate: str | None, op: Operation[T]) -> Exception:
    if isinstance(exc, PgStatKitError):
        return exc
    client = is_client_param_error(exc)
    return translate_error(sqlstate, op.name, client_param_error=client) or exc


async def run_async(session: AsyncSession, op: Operation[T]) -> T:
    """Run ``op`` on an open async session; see the module docstring."""
    state = session.tx_state()
    if state is TxState.FAILED:
        raise TransactionStateError(_FAILED_TX)
    try:
        async with session.guard(commit=op.commit):
            context, previous = parse_setup(await session.fetch(_marked(setup_query(op))))
            steps: Steps[T] = op.steps(context)
            try:
                query = next(steps)
                while True:
                    try:
                        result = await session.fetch(_marked(query))
                    except Exception as exc:  # noqa: PERF203 - rare; cleanup runs in the steps
                        query = steps.throw(exc)
                    else:
                        query = steps.send(result)
            except StopIteration as stop:
                value: T = stop.value
            if op.commit and state is TxState.IN_TRANSACTION:
                await session.fetch(_marked(restore_query(previous)))
    except Exception as exc:
        error = _translated(exc, session.sqlstate(exc), op)
        if error is exc:
            raise
        raise error from exc
    return value


def run_sync(session: SyncSession, op: Operation[T]) -> T:
    """Run ``op`` on an open blocking session; the twin of :func:`run_async`."""
    state = session.tx_state()
    if state is TxState.FAILED:
        raise TransactionStateError(_FAILED_TX)
    try:
        with session.guard(commit=op.commit):
            context, previous = parse_setup(session.fetch(_marked(setup_query(op))))
            steps: Steps[T] = op.steps(context)
            try:
                query = next(steps)
                while True:
                    try:
                        result = session.fetch(_marked(query))
                    except Exception as exc:  # noqa: PERF203 - rare; cleanup runs in the steps
                        query = steps.throw(exc)
                    else:
                        query = steps.send(result)
            except StopIteration as stop:
                value: T = stop.value
            if op.commit and state is TxState.IN_TRANSACTION:
                session.fetch(_marked(restore_query(previous)))
    except Exception as exc:
        error = _translated(exc, session.sqlstate(exc), op)
        if error is exc:
            raise
        raise error from exc
    return value

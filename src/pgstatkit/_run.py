"""Drive an :class:`~pgstatkit._protocol.Operation` on a driver session.

Two twins with the same shape, :func:`run_async` and :func:`run_sync`: open the guard
(a transaction, or a savepoint inside the caller's transaction), run the setup
statement, feed the operation's steps, close the guard (roll back, or commit), run the
cleanups the steps registered, and translate server errors into pgstatkit errors.
Sessions come from :mod:`pgstatkit.adapters`. Every statement sent carries pgstatkit's
marker comment (:mod:`pgstatkit._own`), so its own entries in ``pg_stat_statements`` can
be left out of results.

Whatever ends a call -- a result, an error, a lost connection, or the caller giving up
(``CancelledError``, e.g. from ``asyncio.wait_for``; ``KeyboardInterrupt`` in the
blocking API) -- the connection ends as it began: the guard is closed and the cleanups
have run before the exception leaves. Opening and closing the guard are shielded
(:mod:`pgstatkit._shield`): an interruption that arrives meanwhile
waits until they are done, then is re-raised, so pgstatkit never has to guess whether
its ``BEGIN`` or ``ROLLBACK`` reached the server. An interruption during a step cancels
that statement (the drivers do this: asyncpg and psycopg send a cancel request and
wait for the server to answer) and goes straight to the close.
"""

from __future__ import annotations

import functools
from collections.abc import Generator
from typing import TypeVar

from pgstatkit._own import mark
from pgstatkit._protocol import (
    NO_ROWS,
    Cleanup,
    Operation,
    Query,
    Result,
    ServerError,
    Steps,
    TxState,
    parse_setup,
    restore_query,
    setup_query,
    translated,
)
from pgstatkit._shield import AsyncShield, SyncShield
from pgstatkit.adapters._base import AsyncSession, SyncSession
from pgstatkit.errors import PgStatKitError, TransactionStateError

__all__ = ["run_async", "run_sync"]

T = TypeVar("T")

_FAILED_TX = (
    "the connection is in a failed transaction (an earlier statement failed); "
    "roll it back before calling pgstatkit"
)


def _marked(query: Query) -> Query:
    return Query(mark(query.sql), query.params)


def _public(exc: Exception, session: AsyncSession | SyncSession, op: Operation[T]) -> Exception:
    """What leaves the call for ``exc``: a pgstatkit error, or ``exc`` itself.

    A driver's exception is described by the session (:class:`ServerError`) and
    translated by SQLSTATE through the one table (:data:`pgstatkit._errors.RULES`).
    """
    if isinstance(exc, PgStatKitError):
        return exc
    error = translated(session.server_error(exc), op.name)
    return exc if error is None else error


def _usable(state: TxState) -> TxState:
    if state is TxState.FAILED:
        raise TransactionStateError(_FAILED_TX)
    return state


CleanupSteps = Generator[Query, Result, None]


def _started(cleanups: list[CleanupSteps]) -> list[tuple[CleanupSteps, Query]]:
    """Each cleanup that has a query to run, with its first query (the others are done)."""
    started = []
    for steps in cleanups:
        query = _resume(steps, None)
        if query is not None:
            started.append((steps, query))
    return started


def _resume(steps: CleanupSteps, result: Result | None) -> Query | None:
    """The cleanup's next query (``result`` answers the previous one), None when done."""
    try:
        return next(steps) if result is None else steps.send(result)
    except StopIteration:
        return None


def _next_query(steps: Steps[T], item: Query | Cleanup, cleanups: list[Cleanup]) -> Query:
    """The next query of ``steps``, registering the cleanups it yields on the way."""
    while isinstance(item, Cleanup):
        cleanups.append(item)
        item = steps.send(NO_ROWS)
    return item


def _thrown(steps: Steps[T], failure: ServerError) -> Query | Cleanup | None:
    """Throw ``failure`` into ``steps``: their next item, or None if they let it out.

    The caller then re-raises the driver's exception itself (``failure.original``), so
    it leaves the steps as it came from the driver.
    """
    try:
        return steps.throw(failure)
    except ServerError as out:
        if out is not failure:
            raise
        return None


# ---------------------------------------------------------------------------- async


async def run_async(session: AsyncSession, op: Operation[T]) -> T:
    """Run ``op`` on an open async session; see the module docstring.

    Raises:
        TransactionStateError: the connection is in a failed transaction.
        PgStatKitError: a server error pgstatkit recognises (see :mod:`pgstatkit.errors`).
        asyncio.CancelledError: the caller cancelled; the connection is as it was.
        Exception: the driver's own error otherwise (a lost connection, for example).
    """
    state = _usable(session.tx_state())
    cleanups: list[Cleanup] = []
    with AsyncShield() as shield:
        try:
            await shield.protect(session.begin(commit=op.commit))
            try:
                shield.check()
                value = await _steps_async(session, op, state, cleanups, shield)
            except BaseException as exc:
                await shield.protect(_close_async(session, cleanups, exc))
                raise
            await shield.protect(_close_async(session, cleanups, None))
            shield.check()
        except Exception as exc:
            shield.check()
            error = _public(exc, session, op)
            if error is exc:
                raise
            raise error from exc
    return value


async def _steps_async(
    session: AsyncSession,
    op: Operation[T],
    state: TxState,
    cleanups: list[Cleanup],
    shield: AsyncShield,
) -> T:
    """The setup statement and the operation's steps, inside the guard."""

    async def fetch(query: Query) -> Result:
        return await shield.interruptible(session.fetch(_marked(query)))

    context, previous = parse_setup(await fetch(setup_query(op)))
    steps: Steps[T] = op.steps(context)
    try:
        query = _next_query(steps, next(steps), cleanups)
        while True:
            try:
                result = await fetch(query)
            except Exception as exc:  # noqa: PERF203 - rare; the steps may handle it
                item = _thrown(steps, session.server_error(exc))
                if item is None:
                    raise  # the driver's exception, as it came
                query = _next_query(steps, item, cleanups)
            else:
                query = _next_query(steps, steps.send(result), cleanups)
    except StopIteration as stop:
        value: T = stop.value
    finally:
        steps.close()
    if op.commit and state is TxState.IN_TRANSACTION:
        await fetch(restore_query(previous))
    return value


async def _close_async(
    session: AsyncSession, cleanups: list[Cleanup], error: BaseException | None
) -> None:
    """Close the guard, then run the cleanups (last registered first) in a guard of theirs.

    After a failure (``error``) the close's own errors are dropped: the call's error is
    the one to report. Otherwise the first error is raised, after the cleanups ran.
    """
    failures: list[Exception] = []
    try:
        await session.end(error)
    except Exception as exc:
        failures.append(exc)
    try:
        await _cleanup_async(session, [cleanup.steps() for cleanup in reversed(cleanups)])
    except Exception as exc:
        failures.append(exc)
    if failures and error is None:
        raise failures[0]


async def _cleanup_async(session: AsyncSession, cleanups: list[CleanupSteps]) -> None:
    """Run the cleanups' queries inside a guard, opened only if one of them has a query.

    The guard (rolled back: ``DEALLOCATE`` and advisory unlocks are not transactional)
    keeps a failing cleanup from breaking the caller's transaction, and keeps a driver
    that begins transactions implicitly (psycopg outside autocommit) from leaving one.
    """
    started = _started(cleanups)
    if not started:
        return
    await session.begin(commit=False)
    failure: BaseException | None = None
    try:
        for steps, first in started:
            query: Query | None = first
            while query is not None:
                query = _resume(steps, await session.fetch(_marked(query)))
    except BaseException as exc:
        failure = exc
        raise
    finally:
        await session.end(failure)


# ---------------------------------------------------------------------------- sync


def run_sync(session: SyncSession, op: Operation[T]) -> T:
    """Run ``op`` on an open blocking session; the twin of :func:`run_async`.

    Raises:
        TransactionStateError: the connection is in a failed transaction.
        PgStatKitError: a server error pgstatkit recognises (see :mod:`pgstatkit.errors`).
        KeyboardInterrupt: the caller interrupted; the connection is as it was.
        Exception: the driver's own error otherwise (a lost connection, for example).
    """
    state = _usable(session.tx_state())
    cleanups: list[Cleanup] = []
    with SyncShield() as shield:
        try:
            shield.protect(functools.partial(session.begin, commit=op.commit))
            try:
                shield.check()
                value = _steps_sync(session, op, state, cleanups, shield)
            except BaseException as exc:
                shield.protect(functools.partial(_close_sync, session, cleanups, exc))
                raise
            shield.protect(functools.partial(_close_sync, session, cleanups, None))
            shield.check()
        except Exception as exc:
            shield.check()
            error = _public(exc, session, op)
            if error is exc:
                raise
            raise error from exc
    return value


def _steps_sync(
    session: SyncSession,
    op: Operation[T],
    state: TxState,
    cleanups: list[Cleanup],
    shield: SyncShield,
) -> T:
    """The setup statement and the operation's steps, inside the guard."""

    def fetch(query: Query) -> Result:
        return shield.interruptible(functools.partial(session.fetch, _marked(query)))

    context, previous = parse_setup(fetch(setup_query(op)))
    steps: Steps[T] = op.steps(context)
    try:
        query = _next_query(steps, next(steps), cleanups)
        while True:
            try:
                result = fetch(query)
            except Exception as exc:  # noqa: PERF203 - rare; the steps may handle it
                item = _thrown(steps, session.server_error(exc))
                if item is None:
                    raise  # the driver's exception, as it came
                query = _next_query(steps, item, cleanups)
            else:
                query = _next_query(steps, steps.send(result), cleanups)
    except StopIteration as stop:
        value: T = stop.value
    finally:
        steps.close()
    if op.commit and state is TxState.IN_TRANSACTION:
        fetch(restore_query(previous))
    return value


def _close_sync(session: SyncSession, cleanups: list[Cleanup], error: BaseException | None) -> None:
    """Close the guard, then run the cleanups (last registered first) in a guard of theirs.

    After a failure (``error``) the close's own errors are dropped: the call's error is
    the one to report. Otherwise the first error is raised, after the cleanups ran.
    """
    failures: list[Exception] = []
    try:
        session.end(error)
    except Exception as exc:
        failures.append(exc)
    try:
        _cleanup_sync(session, [cleanup.steps() for cleanup in reversed(cleanups)])
    except Exception as exc:
        failures.append(exc)
    if failures and error is None:
        raise failures[0]


def _cleanup_sync(session: SyncSession, cleanups: list[CleanupSteps]) -> None:
    """Run the cleanups' queries inside a guard; the twin of :func:`_cleanup_async`."""
    started = _started(cleanups)
    if not started:
        return
    session.begin(commit=False)
    failure: BaseException | None = None
    try:
        for steps, first in started:
            query: Query | None = first
            while query is not None:
                query = _resume(steps, session.fetch(_marked(query)))
    except BaseException as exc:
        failure = exc
        raise
    finally:
        session.end(failure)

# Generated from src/pgstatkit/_run_async.py by tools/async_to_sync.py: do not edit.
"""The blocking runner, :func:`run_sync`; see :mod:`pgstatkit._run`.

Generated from :mod:`pgstatkit._run_async` by ``tools/async_to_sync.py``: do not edit.
"""

from __future__ import annotations

from typing import TypeVar

from pgstatkit._drive import (
    CleanupSteps,
    marked,
    next_query,
    public,
    resume,
    started,
    thrown,
    usable,
)
from pgstatkit._protocol import (
    Cleanup,
    Operation,
    Query,
    Result,
    Steps,
    TxState,
    parse_probe,
    parse_setup,
    probe_query,
    restore_query,
    setup_query,
)
from pgstatkit._shield import SyncShield
from pgstatkit.adapters._base import SyncSession

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(session: SyncSession, op: Operation[T]) -> T:
    """Run ``op`` on an open session; see :mod:`pgstatkit._run`.

    Raises:
        TransactionStateError: the connection is in a failed transaction.
        PgStatKitError: a server error pgstatkit recognises (see :mod:`pgstatkit.errors`).
        BaseException: the caller's interruption (``asyncio.CancelledError``;
            ``KeyboardInterrupt`` in the blocking runner); the connection is as it was.
        Exception: the driver's own error otherwise (a lost connection, for example).
    """
    state = usable(session.tx_state())
    cleanups: list[Cleanup] = []
    with SyncShield(direct=getattr(session, "CANCEL_IN_DRIVER", False)) as shield:
        try:
            shield.protect(session.begin, commit=op.commit)
            try:
                shield.check()
                value = _steps(session, op, state, cleanups, shield)
            except BaseException as exc:
                shield.protect(_close, session, cleanups, exc)
                raise
            shield.protect(_close, session, cleanups, None)
            shield.check()
        except Exception as exc:
            shield.check()
            error = public(exc, session, op)
            if error is exc:
                raise
            raise error from exc
    return value


def _steps(
    session: SyncSession,
    op: Operation[T],
    state: TxState,
    cleanups: list[Cleanup],
    shield: SyncShield,
) -> T:
    """The setup statement and the operation's steps, inside the guard.

    A statement's failure is thrown into the steps as the session describes it (a
    :class:`~pgstatkit._protocol.ServerError`); if they let it out, the driver's
    exception goes on as it came.
    """

    def fetch(query: Query) -> Result:
        return shield.interruptible(session.fetch, marked(query))

    previous = parse_setup(fetch(setup_query(op)))
    context = parse_probe(fetch(probe_query()))
    steps: Steps[T] = op.steps(context)
    try:
        query = next_query(steps, next(steps), cleanups)
        while True:
            try:
                result = fetch(query)
            except Exception as exc:  # noqa: PERF203 - rare; the steps may handle it
                item = thrown(steps, session.server_error(exc))
                if item is None:
                    raise  # the driver's exception, as it came
                query = next_query(steps, item, cleanups)
            else:
                query = next_query(steps, steps.send(result), cleanups)
    except StopIteration as stop:
        value: T = stop.value
    finally:
        steps.close()
    if op.commit and state is TxState.IN_TRANSACTION:
        fetch(restore_query(previous))
    return value


def _close(session: SyncSession, cleanups: list[Cleanup], error: BaseException | None) -> None:
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
        _cleanup(session, [cleanup.steps() for cleanup in reversed(cleanups)])
    except Exception as exc:
        failures.append(exc)
    if failures and error is None:
        raise failures[0]


def _cleanup(session: SyncSession, cleanups: list[CleanupSteps]) -> None:
    """Run the cleanups' queries inside a guard, opened only if one of them has a query.

    The guard (rolled back: ``DEALLOCATE`` and advisory unlocks are not transactional)
    keeps a failing cleanup from breaking the caller's transaction, and keeps a driver
    that begins transactions implicitly (psycopg outside autocommit) from leaving one.
    """
    first_queries = started(cleanups)
    if not first_queries:
        return
    session.begin(commit=False)
    failure: BaseException | None = None
    try:
        for steps, first in first_queries:
            query: Query | None = first
            while query is not None:
                query = resume(steps, session.fetch(marked(query)))
    except BaseException as exc:
        failure = exc
        raise
    finally:
        session.end(failure)

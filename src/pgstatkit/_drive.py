"""What both runners share: driving an operation's steps, which needs no I/O.

:mod:`pgstatkit._run_async` (written by hand) and :mod:`pgstatkit._run_sync` (generated
from it by ``tools/async_to_sync.py``) do the I/O; the decisions they share live here:
the marker every statement carries, the refusal of a failed transaction, feeding the
steps (registering their cleanups, throwing a :class:`ServerError` into them), and what
leaves a call for an exception.
"""

from __future__ import annotations

import functools
from collections.abc import Generator
from typing import TypeVar

from pgstatkit._errors import FAILED_TRANSACTION
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
    translated,
)
from pgstatkit.adapters._base import AsyncSession, SyncSession
from pgstatkit.errors import PgStatKitError, TransactionStateError

__all__ = [
    "CleanupSteps",
    "marked",
    "next_query",
    "public",
    "resume",
    "started",
    "thrown",
    "usable",
]

T = TypeVar("T")

CleanupSteps = Generator[Query, Result, None]


MARK_CACHE_MAX_CHARS = 16_384
"""Statements up to this long are marked once and the result reused (:func:`marked`)."""


@functools.lru_cache(maxsize=256)
def _mark_once(sql: str) -> str:
    return mark(sql)


def marked(query: Query) -> Query:
    """``query`` with pgstatkit's marker comment (:mod:`pgstatkit._own`).

    pgstatkit's own statements are few and fixed, so their marked texts are cached
    (up to 256 statements of up to :data:`MARK_CACHE_MAX_CHARS` characters: at most a
    few MB): a call then hands the driver the same string object as the call before,
    whose hash is already computed for the driver's statement cache, and skips the
    marker's scan and copy (about 10 us per statement of a few KB).
    """
    sql = query.sql
    if len(sql) <= MARK_CACHE_MAX_CHARS:
        return Query(_mark_once(sql), query.params)
    return Query(mark(sql), query.params)


def usable(state: TxState) -> TxState:
    """``state``, unless the caller's transaction has failed.

    Raises:
        TransactionStateError: the connection is in a failed transaction.
    """
    if state is TxState.FAILED:
        raise TransactionStateError(FAILED_TRANSACTION)
    return state


def public(exc: Exception, session: AsyncSession | SyncSession, op: Operation[T]) -> Exception:
    """What leaves the call for ``exc``: a pgstatkit error, or ``exc`` itself.

    A driver's exception is described by the session (:class:`ServerError`) and
    translated by SQLSTATE through the one table (:data:`pgstatkit._errors.RULES`).
    """
    if isinstance(exc, PgStatKitError):
        return exc
    error = translated(session.server_error(exc), op.name)
    return exc if error is None else error


def next_query(steps: Steps[T], item: Query | Cleanup, cleanups: list[Cleanup]) -> Query:
    """The next query of ``steps``, registering the cleanups it yields on the way."""
    while isinstance(item, Cleanup):
        cleanups.append(item)
        item = steps.send(NO_ROWS)
    return item


def thrown(steps: Steps[T], failure: ServerError) -> Query | Cleanup | None:
    """Throw ``failure`` into ``steps``: their next item, or None if they let it out.

    The runner then re-raises the driver's exception itself (``failure.original``), so
    it leaves as it came from the driver.
    """
    try:
        return steps.throw(failure)
    except ServerError as out:
        if out is not failure:
            raise
        return None


def started(cleanups: list[CleanupSteps]) -> list[tuple[CleanupSteps, Query]]:
    """Each cleanup that has a query to run, with its first query (the others are done)."""
    found = []
    for steps in cleanups:
        query = resume(steps, None)
        if query is not None:
            found.append((steps, query))
    return found


def resume(steps: CleanupSteps, result: Result | None) -> Query | None:
    """The cleanup's next query (``result`` answers the previous one), None when done."""
    try:
        return next(steps) if result is None else steps.send(result)
    except StopIteration:
        return None

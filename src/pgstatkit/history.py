"""History, async: ``from pgstatkit import history``.

The blocking twin, :mod:`pgstatkit.sync.history`, has the same names and keyword
arguments.

Snapshots of ``pg_stat_statements`` (and ``pg_stat_database``, and
``pg_stat_statements_info``) stored in pgstatkit's helper schema as exact per-interval
deltas, without ever resetting anything; then what changed over any window.

The store is the helper schema of a database where ``pgstatkit install`` ran (schema
version 3). A snapshot reads a *target* (``conn``) and writes into a *store*
(``store``, by default the target itself); a store keeps many targets apart by name.
See docs/history.md for the delta rules and the interval statuses.

Every function takes connections as :mod:`pgstatkit.stats` does (asyncpg, psycopg 3,
SQLAlchemy), validates its arguments before any round trip
(:class:`~pgstatkit.errors.InvalidArgumentError`), and runs each statement group in
its own guarded transaction with a statement timeout.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
from typing import Any, TypeVar

from pgstatkit import _history as _h
from pgstatkit import _install, _validate, fingerprints
from pgstatkit._history import (
    DEFAULT_KEEP,
    DEFAULT_TARGET,
    DatabaseInterval,
    HistoryChanges,
    HistoryNotInstalledError,
    NoHistoryError,
    PruneResult,
    RollUp,
    Snapshot,
    SnapshotConflictError,
    StatementChange,
    StatementInterval,
)
from pgstatkit._protocol import Operation
from pgstatkit._run import run_async
from pgstatkit.adapters import open_async
from pgstatkit.adapters._base import AsyncSession
from pgstatkit.errors import InvalidArgumentError

__all__ = [
    "DEFAULT_KEEP",
    "DEFAULT_TARGET",
    "DatabaseInterval",
    "HistoryChanges",
    "HistoryNotInstalledError",
    "NoHistoryError",
    "PruneResult",
    "RollUp",
    "Snapshot",
    "SnapshotConflictError",
    "StatementChange",
    "StatementInterval",
    "changes",
    "database_timeline",
    "prune",
    "roll_up",
    "snapshot",
    "snapshots",
    "timeline",
]

T = TypeVar("T")

logger = logging.getLogger("pgstatkit.history")


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


async def _run(conn: Any, op: Operation[T]) -> T:
    async with open_async(conn) as session:
        return await run_async(session, op)


async def snapshot(
    conn: Any,
    *,
    store: Any = None,
    target: str = DEFAULT_TARGET,
    schema: str = "pgstatkit",
    timeout_ms: float | None = None,
    lock_timeout_ms: float | None = None,
) -> Snapshot:
    """Take one snapshot of ``conn`` (the target) into ``store`` (default: ``conn``).

    Never resets anything. Reads ``pg_stat_statements(showtext := false)``: only the
    entries whose counters moved since the target's last snapshot are sent and stored;
    the query-text file is read only when new statements appeared (or entries were
    re-created), and only their texts are stored. The first snapshot of a target is a
    *baseline*: it opens the first interval and stores no deltas.

    Args:
        store: the store's connection (asyncpg, psycopg, SQLAlchemy); ``None``: ``conn``.
        target: the target's stable name in the store (1-200 characters); give each
            server (and database) its own.
        schema: the helper schema of the store (where ``pgstatkit install`` ran).
        timeout_ms: statement timeout of each statement (default 5000 ms).
        lock_timeout_ms: lock timeout (default 1000 ms): a snapshot never waits long
            behind other locks.

    After the snapshot is written, the hours it closed are summed into the hourly
    roll-ups (:func:`roll_up`, in its own transaction); a failure there is logged
    (logger ``pgstatkit.history``) and retried by the next snapshot, never raised.

    Raises:
        HistoryNotInstalledError: the store has no history tables: run install there.
        SnapshotConflictError: another collector snapshots the same target right now
            (nothing was written).
        ExtensionNotLoadedError, ExtensionNotInstalledError: on the target.
        StatementTimeoutError, LockTimeoutError: a timeout ran out (nothing was written).
    """
    name = _h.target_name(target)
    helper = _install.schema_name(schema)
    timeout = _validate.timeout_ms(timeout_ms)
    lock_ms = _h.lock_timeout_ms(lock_timeout_ms)
    async with open_async(store if store is not None else conn) as store_session:
        if store is None:
            taken, due = await _snapshot(
                store_session, store_session, name, helper, timeout, lock_ms
            )
        else:
            async with open_async(conn) as target_session:
                taken, due = await _snapshot(
                    target_session, store_session, name, helper, timeout, lock_ms
                )
        if due:
            await _roll_up_after(store_session, name, helper, timeout, lock_ms)
        return taken


async def _roll_up_after(
    store: AsyncSession, name: str, schema: str, timeout: int, lock_ms: int
) -> None:
    """After a snapshot that closed an hour (its write read the frontier): the closed
    hours into the roll-ups. A failure leaves the snapshot written and is logged; the next
    snapshot tries again (changes() reads raw deltas wherever roll-ups are missing)."""
    op = _h.roll_up(
        schema=schema, target=name, buckets=_h.ROLL_UP_BUCKETS, timeout_ms=timeout, lock_ms=lock_ms
    )
    try:
        await run_async(store, op)
    except Exception:  # any failure: the snapshot is written, the next one retries
        logger.warning("roll-up of target %r failed after its snapshot", name, exc_info=True)


async def _snapshot(
    target: AsyncSession,
    store: AsyncSession,
    name: str,
    schema: str,
    timeout: int,
    lock_ms: int,
) -> tuple[Snapshot, bool]:
    """The snapshot, and whether a roll-up run is due after it."""
    prepared = await run_async(store, _h.prepare(schema, name, timeout, lock_ms))
    reading = await run_async(target, _h.read_target(prepared, timeout, lock_ms))
    written = await run_async(store, _h.write(schema, name, prepared, reading, timeout, lock_ms))
    if not (written.text_dbid or written.want_names):
        return written.snapshot, written.roll_up_due
    # The snapshot is written; texts are a cache: if this part fails, the next snapshot
    # asks again for every moved statement without a text.
    texts = await run_async(target, _h.read_texts(written, timeout))
    count = await run_async(store, _h.write_texts(schema, written, texts, timeout, lock_ms))
    return dataclasses.replace(written.snapshot, texts_read=count), written.roll_up_due


async def changes(
    conn: Any,
    *,
    since: _dt.datetime | _dt.timedelta,
    until: _dt.datetime | _dt.timedelta | None = None,
    target: str | None = None,
    order_by: str = "total_exec_time_ms",
    limit: int = 100,
    queryid: int | None = None,
    include_pgstatkit: bool = False,
    schema: str = "pgstatkit",
    timeout_ms: float | None = None,
    group_by: str = "queryid",
) -> HistoryChanges:
    """What each statement did in the window (since, until]: the sum of its deltas.

    Args:
        conn: the store's connection.
        since: start of the window: a zone-aware datetime, or a timedelta before now.
        until: end of the window (default now): a datetime or a timedelta before now.
        target: one target's name; ``None``: every target of the store.
        order_by: one of :data:`pgstatkit._history.CHANGE_ORDERS` (descending).
        limit: at most this many statements, 1 to 10,000.
        queryid: only this statement.
        include_pgstatkit: also pgstatkit's own statements.
        schema: the store's helper schema.
        timeout_ms: statement timeout (default 5000 ms).
        group_by: ``"fingerprint"`` sums the entries of one query fingerprint (and
            target, user, database, level) as the statement listings do: calls-weighted
            means, a combined stddev (IN lists of any length, other aliases; reads the
            window's top 10,000 entries first). Needs ``pip install "pgstatkit[advisor]"``
            (:class:`~pgstatkit.errors.ExtraNotInstalledError`, nothing sent).

    Returns the window's intervals summed up (how many were complete, reset, lossy,
    and the evictions) and the entries that moved, as :class:`StatementChange`.
    """
    start, end = _h.window(since, until, _now())
    grouped, rows = fingerprints.changes_grouping(group_by), _validate.limit(limit)
    op = _h.changes(
        schema=_install.schema_name(schema),
        target=_h.optional_target(target),
        since=start,
        until=end,
        order_by=_validate.choice(order_by, "order_by", _h.CHANGE_ORDERS),
        limit=fingerprints.CHANGES_ENTRIES if grouped else rows,
        include_pgstatkit=_validate.flag(include_pgstatkit, "include_pgstatkit"),
        queryid=_validate.queryid(queryid),
        timeout_ms=_validate.timeout_ms(timeout_ms),
    )
    if grouped:
        op = fingerprints.group_changes(op, order_by, rows)
    return await _run(conn, op)


async def timeline(
    conn: Any,
    *,
    queryid: int,
    since: _dt.datetime | _dt.timedelta,
    until: _dt.datetime | _dt.timedelta | None = None,
    target: str | None = None,
    dbid: int | None = None,
    userid: int | None = None,
    schema: str = "pgstatkit",
    timeout_ms: float | None = None,
) -> list[StatementInterval]:
    """One statement, interval by interval: its deltas in every snapshot of the window
    (zero where it did not run), summed over its entries (roles, databases, nesting
    levels) unless ``dbid`` / ``userid`` narrow them. Oldest first, per target."""
    start, end = _h.window(since, until, _now())
    found = _validate.queryid(queryid)
    if found is None:
        raise InvalidArgumentError("queryid is required: the statement to follow")
    op = _h.timeline(
        schema=_install.schema_name(schema),
        target=_h.optional_target(target),
        queryid=found,
        since=start,
        until=end,
        dbid=_h.oid(dbid, "dbid"),
        userid=_h.oid(userid, "userid"),
        timeout_ms=_validate.timeout_ms(timeout_ms),
    )
    return await _run(conn, op)


async def database_timeline(
    conn: Any,
    *,
    since: _dt.datetime | _dt.timedelta,
    until: _dt.datetime | _dt.timedelta | None = None,
    target: str | None = None,
    schema: str = "pgstatkit",
    timeout_ms: float | None = None,
) -> list[DatabaseInterval]:
    """The target database's ``pg_stat_database``, interval by interval (oldest first)."""
    start, end = _h.window(since, until, _now())
    op = _h.database_timeline(
        schema=_install.schema_name(schema),
        target=_h.optional_target(target),
        since=start,
        until=end,
        timeout_ms=_validate.timeout_ms(timeout_ms),
    )
    return await _run(conn, op)


async def snapshots(
    conn: Any,
    *,
    since: _dt.datetime | _dt.timedelta,
    until: _dt.datetime | _dt.timedelta | None = None,
    target: str | None = None,
    schema: str = "pgstatkit",
    timeout_ms: float | None = None,
) -> list[Snapshot]:
    """The snapshots of the window (baselines included), oldest first."""
    start, end = _h.window(since, until, _now())
    op = _h.snapshots(
        schema=_install.schema_name(schema),
        target=_h.optional_target(target),
        since=start,
        until=end,
        timeout_ms=_validate.timeout_ms(timeout_ms),
    )
    return await _run(conn, op)


async def prune(
    conn: Any,
    *,
    keep: _dt.timedelta = DEFAULT_KEEP,
    schema: str = "pgstatkit",
    timeout_ms: float | None = None,
    lock_timeout_ms: float | None = None,
) -> PruneResult:
    """Drop what is older than ``keep`` (default 14 days), every target of the store.

    Whole daily partitions of deltas are dropped (no row-by-row delete); the cutoff is
    the start of the UTC day holding now minus ``keep``, so up to a day more is kept.
    Texts nothing refers to any more go too; the state of each target stays.
    """
    op = _h.prune(
        schema=_install.schema_name(schema),
        keep=_h.keep(keep),
        timeout_ms=_validate.timeout_ms(timeout_ms),
        lock_ms=_h.lock_timeout_ms(lock_timeout_ms),
    )
    return await _run(conn, op)


async def roll_up(
    conn: Any,
    *,
    target: str | None = None,
    max_buckets: int = _h.ROLL_UP_BUCKETS,
    schema: str = "pgstatkit",
    timeout_ms: float | None = None,
    lock_timeout_ms: float | None = None,
) -> list[RollUp]:
    """Sum the closed hours of each target's deltas into its hourly roll-ups.

    :func:`snapshot` does this after each snapshot; call it to catch up at once (after
    upgrading a store with days of history, or for a store written by other means). An
    hour is closed once the target has a snapshot at or after its end; each run sums
    the closed hours from the target's frontier on, at most ``max_buckets`` of them, in
    one committed transaction per target, and moves the frontier
    (``history_targets.rolled_up_until``). Running it again, or concurrently, never
    counts anything twice. :func:`changes` returns the same sums with or without
    roll-ups; they only make long windows fast.

    Args:
        conn: the store's connection.
        target: one target's name; ``None``: every target of the store.
        max_buckets: at most this many hours per target and run (1 to 744, default 24);
            :attr:`RollUp.pending` says when more are left.
        schema: the store's helper schema.
        timeout_ms: statement timeout (default 5000 ms): each hour is one statement.
        lock_timeout_ms: lock timeout (default 1000 ms).

    Returns one :class:`RollUp` per target, by name (none for an unknown name).
    """
    name = _h.optional_target(target)
    buckets = _h.max_buckets(max_buckets)
    helper = _install.schema_name(schema)
    timeout = _validate.timeout_ms(timeout_ms)
    lock_ms = _h.lock_timeout_ms(lock_timeout_ms)
    async with open_async(conn) as session:
        names = await run_async(
            session, _h.roll_up_targets(schema=helper, target=name, timeout_ms=timeout)
        )
        return [
            await run_async(
                session,
                _h.roll_up(
                    schema=helper, target=one, buckets=buckets, timeout_ms=timeout, lock_ms=lock_ms
                ),
            )
            for one in names
        ]

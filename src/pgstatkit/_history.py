# ruff: noqa: E501 - the field meanings are table cells, one line each
"""The sans-I/O half of :mod:`pgstatkit.history`: its models, arguments and operations.

A snapshot is four operations, run by :mod:`pgstatkit.history` on two sessions (the
*target*, read-only, and the *store*; the same one when the store is the target):

1. :func:`prepare` (store): the schema is there, the day partitions exist, the
   target's id, its last snapshot and the fingerprint of every entry it knows (its
   key and one hash of the key with calls, plans and stats_since);
2. :func:`read_target` (target): one pass over ``pg_stat_statements(showtext :=
   false)`` against the hashes: only the entries that moved, appeared or were
   re-created are sent, the others counted; the keys of every entry only when some
   the store knows are gone; ``pg_stat_statements_info`` and ``pg_stat_database``;
3. :func:`write` (store, one transaction): under the target's advisory lock, and only
   if no other snapshot of the target was written since step 1, the snapshot's row,
   the deltas (computed by the store against its state) and the new state;
4. only when the store lacks texts (new statements) or entries were re-created:
   :func:`read_texts` (target: the one read of the query-text file) and
   :func:`write_texts` (store).

The delta rules (docs/history.md) are in ``sql/queries/history.sql``, block
``store_statements``; the interval's status is decided here (:func:`interval_status`)
and by ``store_finish``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pgstatkit import _sql, _validate
from pgstatkit._columns import COLUMNS, Version, _expression, parse_version
from pgstatkit._fielddoc import F, describe
from pgstatkit._own import statement_filter
from pgstatkit._protocol import Context, Operation, Query, Result, ServerError, Steps
from pgstatkit.errors import InvalidArgumentError, PgStatKitError

__all__ = [
    "CHANGE_ORDERS",
    "DEFAULT_KEEP",
    "DEFAULT_TARGET",
    "DatabaseInterval",
    "HistoryChanges",
    "HistoryNotInstalledError",
    "PruneResult",
    "RollUp",
    "Snapshot",
    "SnapshotConflictError",
    "StatementChange",
    "StatementInterval",
]

DEFAULT_TARGET = "local"
"""The target name of a snapshot that names none."""

DEFAULT_KEEP = _dt.timedelta(days=14)
"""How long :func:`pgstatkit.history.prune` keeps snapshots by default (PgHero's 14 days)."""

CHANGES_WORK_MEM = "64MB"
"""``work_mem`` of :func:`changes` and :func:`roll_up` (``SET LOCAL``): their aggregation
hashes every entry of the window (of the hour) in memory instead of sorting on disk."""

ROLL_UP_BUCKETS = 24
"""How many hours one roll-up run (:func:`pgstatkit.history.roll_up`, and the step after
each snapshot) sums at most, per target: a store upgraded with days of history catches
up over several runs, never in one long transaction."""

ROLL_UP_LOCK_SPACE = 0x70677372  # b'pgsr': the first key of the per-target roll-up locks

LOCK_SPACE = 0x70677368  # b'pgsh': the first key of the per-target advisory locks
DEFAULT_LOCK_TIMEOUT_MS = 1000
MAX_KEEP = _dt.timedelta(days=3660)

Status = Literal["baseline", "complete", "reset", "lossy"]


class HistoryNotInstalledError(PgStatKitError):
    """The store database has no history tables (pgstatkit schema versions 3 and 4).

    Run ``pgstatkit install`` (or :func:`pgstatkit.stats.install`) on the store
    database, with the same ``schema``: it applies the missing migrations.
    """


class NoHistoryError(PgStatKitError):
    """The store has history tables but no snapshot of the target in the window other
    than baselines: no interval to read.

    Take snapshots of the target (:func:`pgstatkit.history.snapshot`, the collector
    or a cron job; the first one is a baseline, the second closes the first interval),
    widen the window, or name the ``target`` the snapshots were taken under.
    """


class SnapshotConflictError(PgStatKitError):
    """Another collector is snapshotting the same target, or wrote a snapshot of it
    while this one read the target; this snapshot was not written.

    Nothing to fix when two collectors are meant to run: the other one's snapshot
    covers the interval. Otherwise stop the second collector.
    """


# ------------------------------------------------------------------------ counters

_NON_COUNTERS = {
    "userid",
    "dbid",
    "queryid",
    "query",
    "toplevel",
    "mean_exec_time_ms",
    "min_exec_time_ms",
    "max_exec_time_ms",
    "stddev_exec_time_ms",
    "mean_plan_time_ms",
    "min_plan_time_ms",
    "max_plan_time_ms",
    "stddev_plan_time_ms",
    "stats_since",
    "minmax_stats_since",
}

_SUMSQ = {
    "exec_time_sumsq": "(p.calls * (p.stddev_exec_time ^ 2 + p.mean_exec_time ^ 2))::float8",
    "plan_time_sumsq": "(p.plans * (p.stddev_plan_time ^ 2 + p.mean_plan_time ^ 2))::float8",
}


def _counters() -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for column in COLUMNS:
        if column.field in _NON_COUNTERS:
            continue
        found.append((column.field, column.sql_type))
        if column.field == "total_exec_time_ms":
            found.append(("exec_time_sumsq", "float8"))
        if column.field == "total_plan_time_ms":
            found.append(("plan_time_sumsq", "float8"))
    return tuple(found)


COUNTERS: tuple[tuple[str, str], ...] = _counters()
"""(column, SQL type) of every counter of history_statements / history_state, in order:
the cumulative ``pg_stat_statements`` counters and the two sums of squares."""

COUNTER_NAMES = tuple(name for name, _ in COUNTERS)
_BY_FIELD = {c.field: c for c in COLUMNS}

ROW_FIELDS = ("dbid", "userid", "queryid", "toplevel", "gone", "stats_since", *COUNTER_NAMES)
"""The arrays of ``read_target``, in the order ``store_statements`` takes them."""

_ROW_TYPES = ("int8", "int8", "int8", "bool", "bool", "timestamptz", *(t for _, t in COUNTERS))


def _target_expression(name: str, version: Version) -> str:
    if name in _SUMSQ:
        return _SUMSQ[name]
    return _expression(_BY_FIELD[name], version)


def present(name: str, version: Version) -> bool:
    """Whether counter ``name`` exists in ``pg_stat_statements`` ``version``."""
    if name in _SUMSQ:
        return True
    return _BY_FIELD[name].source_for(version) is not None


@dataclass(frozen=True, slots=True)
class _Sql:
    """The blocks of ``sql/queries/history.sql`` with their markers filled."""

    schema: str

    def store(self, name: str, **extra: str) -> str:
        text = _sql.load("history.sql", name)
        fragments = {"schema": _sql.quote_ident(self.schema), **extra}
        return _sql.render(text, **{k: v for k, v in fragments.items() if "{{" + k + "}}" in text})


def fingerprint_sql(
    alias: str, *, toplevel: str, plans: str, stats_since: str, cast: str = ""
) -> str:
    """One int8 hash of an entry's key (dbid, userid, queryid, toplevel) with its calls,
    plans and stats_since: the same value from ``pg_stat_statements`` (the target) and
    from ``history_state`` (the store), for the same values, on every server version
    (``hashint8extended`` and ``interval_hash_extended`` are the portable hashes of hash
    partitioning). Two entries, or two states of one, share a hash with probability
    about 2**-64; then the moved entry is taken as unchanged for one snapshot and its
    delta counted in the next one it moves in."""
    a = alias
    return (
        f"(pg_catalog.hashint8extended({a}.calls, {a}.queryid)"
        f" # pg_catalog.hashint8extended(coalesce({plans}, -1),"
        f" {a}.userid{cast} * 2 + ({toplevel})::int4)"
        f" # pg_catalog.hashint8extended({a}.dbid{cast}, coalesce("
        f"pg_catalog.interval_hash_extended({stats_since}"
        " - '2000-01-01 00:00:00+00'::timestamptz, 0), 0)))"
    )


_STORE_FINGERPRINT = fingerprint_sql(
    "h", toplevel="h.toplevel", plans="h.plans", stats_since="h.stats_since"
)


def _target_parts(version: Version) -> dict[str, str]:
    toplevel = "p.toplevel" if version >= (1, 9) else "true"
    stats_since = "p.stats_since" if version >= (1, 11) else "NULL::timestamptz"
    return {
        "toplevel": toplevel,
        "stats_since": stats_since,
        "fingerprint": fingerprint_sql(
            "p",
            toplevel=toplevel,
            plans=_target_expression("plans", version),
            stats_since=stats_since,
            cast="::int8",
        ),
    }


def _read_target_sql(version: Version, pgss_schema: str) -> str:
    pgss = _sql.quote_ident(pgss_schema)
    info = (
        f"(SELECT s.stats_reset, s.dealloc::int8 AS dealloc FROM {pgss}.pg_stat_statements_info() AS s)"
        if version >= (1, 9)
        else "(SELECT NULL::timestamptz AS stats_reset, NULL::int8 AS dealloc)"
    )
    parts = _target_parts(version)
    return _sql.render(
        _sql.load("history.sql", "read_target"),
        info=info,
        pgss=pgss,
        toplevel=parts["toplevel"],
        fingerprint=parts["fingerprint"],
        # microseconds since 1970: exact (extract returns numeric from PostgreSQL 14 on,
        # and stats_since exists from 17 on)
        stats_since_us=(
            "(pg_catalog.extract('epoch', p.stats_since) * 1000000)::int8"
            if version >= (1, 11)
            else "NULL::int8"
        ),
        counters=",\n               ".join(_target_expression(n, version) for n in COUNTER_NAMES),
    )


def _read_keys_sql(version: Version, pgss_schema: str) -> str:
    return _sql.render(
        _sql.load("history.sql", "read_keys"),
        pgss=_sql.quote_ident(pgss_schema),
        toplevel=_target_parts(version)["toplevel"],
    )


def _store_statements_sql(schema: str) -> str:
    first = 6
    unnest = ", ".join(f"pg_catalog.unnest(${first + i}::{t}[])" for i, t in enumerate(_ROW_TYPES))
    deltas = ", ".join(
        f"CASE WHEN w.whole THEN NULLIF(w.{n}, 0) ELSE NULLIF(w.{n} - w.prev_{n}, 0) END"
        for n in COUNTER_NAMES
    )
    return _Sql(schema).store(
        "store_statements",
        unnest=unnest,
        counters=", ".join(COUNTER_NAMES),
        previous=", ".join(f"p.{n} AS prev_{n}" for n in COUNTER_NAMES),
        deltas=deltas,
        w_counters=", ".join(f"w.{n}" for n in COUNTER_NAMES),
        updates=", ".join(f"{n} = EXCLUDED.{n}" for n in COUNTER_NAMES),
    )


def _sums(alias: str) -> str:
    return ",\n           ".join(f"pg_catalog.sum({alias}.{n})::{t} AS {n}" for n, t in COUNTERS)


# -------------------------------------------------------------------------- models


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One snapshot of a target: the interval it closes and what it stored."""

    target: str
    captured_at: _dt.datetime
    previous_captured_at: _dt.datetime | None
    status: str
    evictions: int | None
    stats_reset: _dt.datetime | None
    pgss_version: str
    server_version_num: int
    entries_read: int
    entries_stored: int
    entries_new: int
    entries_recreated: int
    entries_gone: int
    texts_read: int

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class StatementChange:
    """One entry's deltas summed over a window of :func:`pgstatkit.history.changes`."""

    target: str
    dbid: int
    database: str | None
    userid: int
    username: str | None
    queryid: int
    toplevel: bool
    query: str | None
    intervals: int
    recreated: bool
    calls: int
    rows: int
    total_exec_time_ms: float
    mean_exec_time_ms: float | None
    stddev_exec_time_ms: float | None
    plans: int
    total_plan_time_ms: float
    mean_plan_time_ms: float | None
    stddev_plan_time_ms: float | None
    shared_blks_hit: int
    shared_blks_read: int
    shared_blks_dirtied: int
    shared_blks_written: int
    local_blks_hit: int
    local_blks_read: int
    local_blks_dirtied: int
    local_blks_written: int
    temp_blks_read: int
    temp_blks_written: int
    shared_blk_read_time_ms: float
    shared_blk_write_time_ms: float
    local_blk_read_time_ms: float | None
    local_blk_write_time_ms: float | None
    temp_blk_read_time_ms: float | None
    temp_blk_write_time_ms: float | None
    wal_records: int
    wal_fpi: int
    wal_bytes: int
    wal_buffers_full: int | None
    jit_functions: int | None
    jit_generation_time_ms: float | None
    jit_inlining_count: int | None
    jit_inlining_time_ms: float | None
    jit_optimization_count: int | None
    jit_optimization_time_ms: float | None
    jit_emission_count: int | None
    jit_emission_time_ms: float | None
    jit_deform_count: int | None
    jit_deform_time_ms: float | None
    parallel_workers_to_launch: int | None
    parallel_workers_launched: int | None

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class HistoryChanges:
    """What :func:`pgstatkit.history.changes` returns: the window's intervals, summed
    up, and the entries that moved in it."""

    target: str | None
    since: _dt.datetime
    until: _dt.datetime
    status: str
    intervals: int
    complete_intervals: int
    reset_intervals: int
    lossy_intervals: int
    evictions: int | None
    statements: tuple[StatementChange, ...]

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class StatementInterval:
    """One interval of :func:`pgstatkit.history.timeline`: one statement's deltas."""

    target: str
    queryid: int
    captured_at: _dt.datetime
    previous_captured_at: _dt.datetime | None
    status: str
    evictions: int | None
    recreated: bool
    calls: int
    rows: int
    total_exec_time_ms: float
    mean_exec_time_ms: float | None
    stddev_exec_time_ms: float | None
    plans: int
    total_plan_time_ms: float
    mean_plan_time_ms: float | None
    stddev_plan_time_ms: float | None
    shared_blks_hit: int
    shared_blks_read: int
    shared_blks_dirtied: int
    shared_blks_written: int
    local_blks_hit: int
    local_blks_read: int
    local_blks_dirtied: int
    local_blks_written: int
    temp_blks_read: int
    temp_blks_written: int
    shared_blk_read_time_ms: float
    shared_blk_write_time_ms: float
    local_blk_read_time_ms: float | None
    local_blk_write_time_ms: float | None
    temp_blk_read_time_ms: float | None
    temp_blk_write_time_ms: float | None
    wal_records: int
    wal_fpi: int
    wal_bytes: int
    wal_buffers_full: int | None
    jit_functions: int | None
    jit_generation_time_ms: float | None
    jit_inlining_count: int | None
    jit_inlining_time_ms: float | None
    jit_optimization_count: int | None
    jit_optimization_time_ms: float | None
    jit_emission_count: int | None
    jit_emission_time_ms: float | None
    jit_deform_count: int | None
    jit_deform_time_ms: float | None
    parallel_workers_to_launch: int | None
    parallel_workers_launched: int | None

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


DATABASE_COUNTERS: tuple[tuple[str, str], ...] = (
    ("xact_commit", "xact_commit"),
    ("xact_rollback", "xact_rollback"),
    ("blks_read", "blks_read"),
    ("blks_hit", "blks_hit"),
    ("tup_returned", "tup_returned"),
    ("tup_fetched", "tup_fetched"),
    ("tup_inserted", "tup_inserted"),
    ("tup_updated", "tup_updated"),
    ("tup_deleted", "tup_deleted"),
    ("conflicts", "conflicts"),
    ("temp_files", "temp_files"),
    ("temp_bytes", "temp_bytes"),
    ("deadlocks", "deadlocks"),
    ("blk_read_time_ms", "blk_read_time"),
    ("blk_write_time_ms", "blk_write_time"),
    ("session_time_ms", "session_time"),
    ("active_time_ms", "active_time"),
    ("idle_in_transaction_time_ms", "idle_in_transaction_time"),
    ("sessions", "sessions"),
    ("sessions_abandoned", "sessions_abandoned"),
    ("sessions_fatal", "sessions_fatal"),
    ("sessions_killed", "sessions_killed"),
)
"""(field, ``pg_stat_database`` column) of the counters :class:`DatabaseInterval` has."""


@dataclass(frozen=True, slots=True)
class DatabaseInterval:
    """One interval of :func:`pgstatkit.history.database_timeline`: the target
    database's ``pg_stat_database`` deltas."""

    target: str
    database: str | None
    captured_at: _dt.datetime
    previous_captured_at: _dt.datetime
    status: str
    numbackends: int | None
    xact_commit: int | None
    xact_rollback: int | None
    blks_read: int | None
    blks_hit: int | None
    tup_returned: int | None
    tup_fetched: int | None
    tup_inserted: int | None
    tup_updated: int | None
    tup_deleted: int | None
    conflicts: int | None
    temp_files: int | None
    temp_bytes: int | None
    deadlocks: int | None
    blk_read_time_ms: float | None
    blk_write_time_ms: float | None
    session_time_ms: float | None
    active_time_ms: float | None
    idle_in_transaction_time_ms: float | None
    sessions: int | None
    sessions_abandoned: int | None
    sessions_fatal: int | None
    sessions_killed: int | None

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What :func:`pgstatkit.history.prune` removed."""

    cutoff: _dt.datetime
    partitions_dropped: int
    snapshots_deleted: int
    texts_deleted: int
    hourly_rows_deleted: int

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class RollUp:
    """What :func:`pgstatkit.history.roll_up` did for one target."""

    target: str
    buckets: int
    rows_read: int
    rows_written: int
    rolled_up_until: _dt.datetime | None
    pending: bool
    skipped: bool

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


_COUNTER_DOCS: dict[str, str | F] = {
    "calls": "times executed in the interval",
    "rows": "rows retrieved or affected in the interval",
    "total_exec_time_ms": "ms, execution time in the interval",
    "mean_exec_time_ms": "ms per call in the interval; `None` without calls",
    "stddev_exec_time_ms": "ms, population standard deviation of the interval's calls, rebuilt from the snapshots' mean and stddev (sum of squares); `None` without calls",
    "plans": "times planned in the interval",
    "total_plan_time_ms": "ms, planning time in the interval",
    "mean_plan_time_ms": "ms per planning in the interval; `None` without plans",
    "stddev_plan_time_ms": "ms, population standard deviation of the interval's plannings; `None` without plans",
    "shared_blks_hit": "shared buffer hits",
    "shared_blks_read": "shared blocks read",
    "shared_blks_dirtied": "shared blocks dirtied",
    "shared_blks_written": "shared blocks written",
    "local_blks_hit": "local buffer hits",
    "local_blks_read": "local blocks read",
    "local_blks_dirtied": "local blocks dirtied",
    "local_blks_written": "local blocks written",
    "temp_blks_read": "temp blocks read",
    "temp_blks_written": "temp blocks written",
    "shared_blk_read_time_ms": "ms reading shared blocks (`track_io_timing`)",
    "shared_blk_write_time_ms": "ms writing shared blocks (`track_io_timing`)",
    "local_blk_read_time_ms": F("ms reading local blocks", since="1.11"),
    "local_blk_write_time_ms": F("ms writing local blocks", since="1.11"),
    "temp_blk_read_time_ms": F("ms reading temp blocks", since="1.10"),
    "temp_blk_write_time_ms": F("ms writing temp blocks", since="1.10"),
    "wal_records": "WAL records generated",
    "wal_fpi": "WAL full-page images generated",
    "wal_bytes": "bytes of WAL generated",
    "wal_buffers_full": F("times the WAL buffers were full", since="1.12"),
    "jit_functions": F("functions JIT-compiled", since="1.10"),
    "jit_generation_time_ms": F("ms generating JIT code", since="1.10"),
    "jit_inlining_count": F("times functions were inlined", since="1.10"),
    "jit_inlining_time_ms": F("ms inlining", since="1.10"),
    "jit_optimization_count": F("times JIT-optimized", since="1.10"),
    "jit_optimization_time_ms": F("ms JIT-optimizing", since="1.10"),
    "jit_emission_count": F("times code was emitted", since="1.10"),
    "jit_emission_time_ms": F("ms emitting code", since="1.10"),
    "jit_deform_count": F("tuple deform functions JIT-compiled", since="1.11"),
    "jit_deform_time_ms": F("ms JIT-compiling deform functions", since="1.11"),
    "parallel_workers_to_launch": F("parallel workers planned", since="1.12"),
    "parallel_workers_launched": F("parallel workers launched", since="1.12"),
}
_PARTIAL = " (a field the extension version lacks in any snapshot of the window is `None`)"
_STATUS = (
    '`"complete"`: nothing lost; `"reset"`: the instance was reset (`stats_reset` changed) '
    'in the interval, counts since the reset are in it, earlier ones lost; `"lossy"`: '
    "entries were evicted (`dealloc` rose) or re-created (`stats_since` changed, or a "
    "counter went down), their counts before that are lost"
)

describe(
    Snapshot,
    "PostgreSQL",
    {
        "target": "the target's name in the store",
        "captured_at": "when the target's statistics were read (the target's clock)",
        "previous_captured_at": "the previous snapshot of the target: the interval is (previous_captured_at, captured_at]; `None` for the first (a baseline)",
        "status": '`"baseline"` (first snapshot of the target: no interval, nothing stored but the state) or the interval\'s status: '
        + _STATUS,
        "evictions": "entries evicted in the interval (the rise of `pg_stat_statements_info.dealloc`); `None` where unknown (1.8, a baseline)",
        "stats_reset": F(
            "`pg_stat_statements_info.stats_reset` when read; `None` before PostgreSQL 14",
            since="14",
        ),
        "pgss_version": "`pg_stat_statements` version of the target database",
        "server_version_num": "the target's `server_version_num`",
        "entries_read": "entries `pg_stat_statements` held (visible to the role)",
        "entries_stored": "delta rows stored: the entries whose calls or plans moved",
        "entries_new": "entries seen for the first time (a baseline: all)",
        "entries_recreated": "entries evicted and re-created in the interval (counted from their re-creation)",
        "entries_gone": "entries the previous snapshot had and this one no longer finds",
        "texts_read": "statement texts read in this snapshot (0: the query-text file was not read)",
    },
)

_IDENTITY_DOCS: dict[str, str | F] = {
    "target": "the target's name in the store",
    "dbid": "OID of the database",
    "database": "its name (as last seen); `None` if never seen",
    "userid": "OID of the role",
    "username": "its name (as last seen; kept after the role is dropped); `None` if never seen",
    "queryid": F("the statement's hash id (a signed 64-bit integer)", id64=True),
    "toplevel": "executed at top level (always true before pg_stat_statements 1.9)",
    "query": "normalized text (the latest stored for this queryid); `None` if not read yet",
    "intervals": "intervals of the window in which the entry moved",
    "recreated": "the entry was re-created in the window (evicted or reset alone): counts before that are lost",
}

describe(
    StatementChange,
    "pg_stat_statements",
    {**_IDENTITY_DOCS, **{k: (v if isinstance(v, F) else F(v)) for k, v in _COUNTER_DOCS.items()}},
)

describe(
    HistoryChanges,
    None,
    {
        "target": "the target asked for; `None`: every target",
        "since": "start of the window (exclusive)",
        "until": "end of the window (inclusive)",
        "status": "the worst status of the window's intervals (`lossy` over `reset` over `complete`); `complete` when there is none",
        "intervals": "snapshots (intervals) in the window",
        "complete_intervals": "intervals with nothing lost",
        "reset_intervals": "intervals with an instance reset",
        "lossy_intervals": "intervals with evictions or re-created entries",
        "evictions": "entries evicted in the window (sum of the intervals'); `None` where unknown",
        "statements": "the entries that moved, as `StatementChange` objects, in the order asked"
        + _PARTIAL,
    },
)

describe(
    StatementInterval,
    "pg_stat_statements",
    {
        "target": "the target's name in the store",
        "queryid": F("the statement's hash id (a signed 64-bit integer)", id64=True),
        "captured_at": "end of the interval (the snapshot)",
        "previous_captured_at": "start of the interval (the previous snapshot)",
        "status": _STATUS,
        "evictions": "entries evicted in the interval; `None` where unknown",
        "recreated": "one of the statement's entries was re-created in the interval",
        **{k: (v if isinstance(v, F) else F(v)) for k, v in _COUNTER_DOCS.items()},
    },
)

describe(
    DatabaseInterval,
    "PostgreSQL",
    {
        "target": "the target's name in the store",
        "database": "the database the snapshots were taken in",
        "captured_at": "end of the interval",
        "previous_captured_at": "start of the interval",
        "status": '`"complete"`, or `"reset"` when `pg_stat_database.stats_reset` changed or a counter went down (then the interval counts from the reset)',
        "numbackends": "backends connected when the interval ended (a gauge, not a delta)",
        "xact_commit": "transactions committed",
        "xact_rollback": "transactions rolled back",
        "blks_read": "blocks read",
        "blks_hit": "buffer hits",
        "tup_returned": "rows returned by scans",
        "tup_fetched": "rows fetched",
        "tup_inserted": "rows inserted",
        "tup_updated": "rows updated",
        "tup_deleted": "rows deleted",
        "conflicts": "queries cancelled by recovery conflicts",
        "temp_files": "temporary files created",
        "temp_bytes": "bytes written to temporary files",
        "deadlocks": "deadlocks detected",
        "blk_read_time_ms": "ms reading blocks (`track_io_timing`)",
        "blk_write_time_ms": "ms writing blocks (`track_io_timing`)",
        "session_time_ms": F("ms spent in sessions", since="14"),
        "active_time_ms": F("ms executing statements", since="14"),
        "idle_in_transaction_time_ms": F("ms idle in transactions", since="14"),
        "sessions": F("sessions established", since="14"),
        "sessions_abandoned": F("sessions ended by a lost client", since="14"),
        "sessions_fatal": F("sessions ended by fatal errors", since="14"),
        "sessions_killed": F("sessions ended by operator intervention", since="14"),
    },
)
describe(
    PruneResult,
    None,
    {
        "cutoff": "snapshots captured before this time were removed (the start of the UTC day holding now minus `keep`)",
        "partitions_dropped": "daily partitions of deltas dropped",
        "snapshots_deleted": "snapshots deleted",
        "texts_deleted": "statement texts no stored delta refers to any more",
        "hourly_rows_deleted": "rows of hourly roll-ups of the hours before the cutoff",
    },
)
describe(
    RollUp,
    None,
    {
        "target": "the target's name in the store",
        "buckets": "closed UTC hours summed into hourly roll-ups by this run (empty hours at the frontier skipped, not counted)",
        "rows_read": "delta rows summed into the hourly rows written",
        "rows_written": "hourly rows written (one per entry and hour)",
        "rolled_up_until": "the frontier after the run: every hour before it is rolled up; `None`: the target has no snapshot yet",
        "pending": "closed hours are left after the frontier (the run stopped at its limit): run again",
        "skipped": "another roll-up of the target held its lock: nothing was done",
    },
)


# ---------------------------------------------------------------------- arguments

ChangeOrder = Literal[
    "total_exec_time_ms",
    "calls",
    "mean_exec_time_ms",
    "rows",
    "shared_blks_read",
    "temp_blks_written",
    "wal_bytes",
    "total_plan_time_ms",
]
CHANGE_ORDERS: dict[str, str] = {
    "total_exec_time_ms": "a.total_exec_time_ms",
    "calls": "a.calls",
    "mean_exec_time_ms": "a.total_exec_time_ms / NULLIF(a.calls, 0)",
    "rows": "a.rows",
    "shared_blks_read": "a.shared_blks_read",
    "temp_blks_written": "a.temp_blks_written",
    "wal_bytes": "a.wal_bytes",
    "total_plan_time_ms": "a.total_plan_time_ms",
}
"""``changes(order_by=...)``: the choices and the SQL each orders by (descending)."""


def target_name(value: object, name: str = "target") -> str:
    """A target's name: 1-200 characters, no control characters."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str, got {type(value).__name__}")
    if not value or len(value) > 200 or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidArgumentError(
            f"{name} must be 1 to 200 characters without control characters, got {value!r}"
        )
    return value


def optional_target(value: object) -> str | None:
    return None if value is None else target_name(value)


def lock_timeout_ms(value: object) -> int:
    """The lock timeout of a snapshot: ``None`` for 1000 ms, else 1 ms to 1 hour."""
    if value is None:
        return DEFAULT_LOCK_TIMEOUT_MS
    try:
        return _validate.timeout_ms(value)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(str(exc).replace("timeout_ms", "lock_timeout_ms")) from None


def _aware(value: object, name: str) -> _dt.datetime:
    if not isinstance(value, _dt.datetime):
        raise InvalidArgumentError(
            f"{name} must be a datetime with a time zone or a timedelta, got "
            f"{type(value).__name__} {value!r}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(
            f"{name} must carry a time zone (datetime.now(datetime.timezone.utc)), got a naive {value!r}"
        )
    return value


def now() -> _dt.datetime:
    """The current time, zone-aware (UTC)."""
    return _dt.datetime.now(_dt.timezone.utc)


def window(since: object, until: object, now: _dt.datetime) -> tuple[_dt.datetime, _dt.datetime]:
    """(since, until): each a zone-aware datetime, or a timedelta before ``now``; until
    ``None`` is ``now``. Raises InvalidArgumentError when since is not before until."""
    end = (
        now
        if until is None
        else (now - until if isinstance(until, _dt.timedelta) else _aware(until, "until"))
    )
    if isinstance(since, _dt.timedelta):
        if since <= _dt.timedelta(0):
            raise InvalidArgumentError(f"since must be a positive timedelta, got {since!r}")
        start = now - since
    else:
        start = _aware(since, "since")
    if start >= end:
        raise InvalidArgumentError(
            f"since ({start.isoformat()}) must be before until ({end.isoformat()})"
        )
    return start, end


def keep(value: object) -> _dt.timedelta:
    """``prune(keep=...)``: a timedelta from one hour to ten years."""
    if not isinstance(value, _dt.timedelta):
        raise InvalidArgumentError(
            f"keep must be a datetime.timedelta, got {type(value).__name__} {value!r}"
        )
    if not _dt.timedelta(hours=1) <= value <= MAX_KEEP:
        raise InvalidArgumentError(f"keep must be from 1 hour to 3660 days, got {value!r}")
    return value


def oid(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**32:
        raise InvalidArgumentError(
            f"{name} must be an OID (1 to 4294967295) or None, got {value!r}"
        )
    return value


# ---------------------------------------------------------------------- operations


def _named(result: Result) -> dict[str, Any]:
    """The first row of ``result`` as column -> value (the queries here return one)."""
    return dict(zip(result.columns, result.rows[0], strict=True)) if result.rows else {}


def _rows(result: Result) -> list[dict[str, Any]]:
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


Key = tuple[int, int, int, bool]
"""An entry's key: (dbid, userid, queryid, toplevel)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the store knows of a target before a snapshot (step 1)."""

    target_id: int
    captured_at: _dt.datetime | None
    stats_reset: _dt.datetime | None
    dealloc: int | None
    pgss_version: str | None
    keys: tuple[Key, ...]
    """Every entry the store knows."""
    fingerprint: list[int]
    """:func:`fingerprint_sql` of each of :attr:`keys`, in the same order."""


@dataclass(frozen=True, slots=True)
class Reading:
    """What the target said (step 2)."""

    captured_at: _dt.datetime
    stats_reset: _dt.datetime | None
    dealloc: int | None
    full_read: bool
    entries: int
    server_version_num: int
    pgss_version: str
    datid: int | None
    database_stats: str | None
    arrays: tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Written:
    """What the store wrote (step 3), and what it still wants."""

    snapshot_id: int
    snapshot: Snapshot
    text_dbid: list[int]
    text_queryid: list[int]
    want_names: bool
    roll_up_due: bool
    """The target's roll-up frontier is before the UTC hour of this snapshot: an hour
    closed, or nothing is rolled up yet (:func:`roll_up` has work, or sets the frontier)."""


def _try(sql: str, *sqlstates: str) -> Steps[None]:
    """Run ``sql`` in a savepoint; a failure with one of ``sqlstates`` is ignored."""
    yield Query("SAVEPOINT pgstatkit_history_try")
    try:
        yield Query(sql)
    except ServerError as exc:
        if exc.sqlstate not in sqlstates:
            raise
        yield Query("ROLLBACK TO SAVEPOINT pgstatkit_history_try")
    yield Query("RELEASE SAVEPOINT pgstatkit_history_try")


def _require_store(sql: _Sql) -> Steps[None]:
    ready = _named((yield Query(sql.store("store_ready"), (sql.schema,))))
    if not ready.get("ready"):
        raise HistoryNotInstalledError(
            f"the store database has no pgstatkit history tables in schema {sql.schema!r}: "
            "run `pgstatkit install` (or stats.install()) on it first; it applies schema "
            "versions 3 and 4"
        )


def prepare(schema: str, target: str, timeout_ms: int, lock_ms: int) -> Operation[Prepared]:
    """Step 1 (store, committed): partitions, the target's id, its last snapshot and
    fingerprint."""
    sql = _Sql(schema)

    def steps(ctx: Context) -> Steps[Prepared]:
        yield from _require_store(sql)
        now = _named((yield Query("SELECT pg_catalog.now() AS now")))["now"]
        for row in _rows((yield Query(sql.store("partitions"), (schema, now)))):
            # 42P07: made meanwhile by another collector; 23505: the same race in pg_class
            yield from _try(str(row["sql"]), "42P07", "23505")
        target_id = int(_named((yield Query(sql.store("store_target"), (target,))))["id"])
        previous = sql.store("store_previous", fingerprint=_STORE_FINGERPRINT)
        row = _named((yield Query(previous, (target_id,))))
        keys = tuple(
            zip(
                row["dbid"] or (),
                row["userid"] or (),
                row["queryid"] or (),
                row["toplevel"] or (),
                strict=True,
            )
        )
        return Prepared(
            target_id,
            row["captured_at"],
            row["stats_reset"],
            None if row["dealloc"] is None else int(row["dealloc"]),
            None if row["pgss_version"] is None else str(row["pgss_version"]),
            keys,
            list(row["fingerprint"] or ()),
        )

    return Operation(
        "history_snapshot", steps, timeout_ms, read_only=False, commit=True, lock_timeout_ms=lock_ms
    )


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_FLOAT_COLUMNS = frozenset(name for name, sql_type in COUNTERS if sql_type == "float8")


def _moved_arrays(moved: list[list[Any]]) -> list[list[Any]]:
    """The rows of read_target's ``moved`` (JSON) as the arrays of :data:`ROW_FIELDS`,
    each value of its column's Python type (floats exact: the target prints them with
    ``extra_float_digits = 3``)."""
    arrays: list[list[Any]] = [[] for _ in ROW_FIELDS]
    dbid, userid, queryid, toplevel, gone, since, *counters = arrays
    floats = [name in _FLOAT_COLUMNS for name in COUNTER_NAMES]
    for row in moved:
        dbid.append(int(row[0]))
        userid.append(int(row[1]))
        queryid.append(int(row[2]))
        toplevel.append(bool(row[3]))
        gone.append(False)
        since.append(None if row[4] is None else _EPOCH + _dt.timedelta(microseconds=row[4]))
        for column, is_float, value in zip(counters, floats, row[5:], strict=True):
            column.append(None if value is None else float(value) if is_float else int(value))
    return arrays


def read_target(prepared: Prepared, timeout_ms: int, lock_ms: int) -> Operation[Reading]:
    """Step 2 (target, read-only): the entries that moved, the info, the database row."""

    def steps(ctx: Context) -> Steps[Reading]:
        version, pgss_schema = ctx.require_pg_stat_statements()
        params = (prepared.fingerprint, prepared.captured_at is None, prepared.stats_reset)
        row = _named((yield Query(_read_target_sql(version, pgss_schema), params)))
        arrays = _moved_arrays(json.loads(row["moved"]) if row["moved"] else [])
        moved = set(zip(*arrays[:4], strict=True))
        known = set(prepared.keys)
        gone: list[Key] = []
        if row["full_read"]:
            gone = [k for k in prepared.keys if k not in moved]
        elif len(known) - int(row["unchanged"]) - len(moved & known) > 0:
            # some entries the store knows are neither unchanged nor moved: which ones
            now = _named((yield Query(_read_keys_sql(version, pgss_schema))))
            present = set(
                zip(
                    now["dbid"] or (),
                    now["userid"] or (),
                    now["queryid"] or (),
                    now["toplevel"] or (),
                    strict=True,
                )
            )
            gone = [k for k in prepared.keys if k not in present and k not in moved]
        for key in gone:
            for column, value in zip(arrays, (*key, True), strict=False):
                column.append(value)
            for column in arrays[5:]:
                column.append(None)
        fresh = len(moved - known)
        return Reading(
            captured_at=row["captured_at"],
            stats_reset=row["stats_reset"],
            dealloc=None if row["dealloc"] is None else int(row["dealloc"]),
            full_read=bool(row["full_read"]),
            entries=len(known) + fresh - len(gone),
            server_version_num=int(row["server_version_num"]),
            pgss_version=f"{version[0]}.{version[1]}",
            datid=None if row["datid"] is None else int(row["datid"]),
            database_stats=None if row["database_stats"] is None else str(row["database_stats"]),
            arrays=tuple(arrays),
        )

    return Operation(
        "history_snapshot", steps, timeout_ms, lock_timeout_ms=lock_ms, settings=READ_SETTINGS
    )


def interval_status(prepared: Prepared, reading: Reading) -> tuple[Status, int | None]:
    """The interval's status before the store looks at the entries, and its evictions."""
    if prepared.captured_at is None:
        return "baseline", None
    if reading.full_read:
        return "reset", reading.dealloc
    if reading.dealloc is None or prepared.dealloc is None:
        return "complete", None
    evictions = reading.dealloc - prepared.dealloc
    return ("lossy" if evictions > 0 else "complete"), evictions


def write(
    schema: str,
    target: str,
    prepared: Prepared,
    reading: Reading,
    timeout_ms: int,
    lock_ms: int,
) -> Operation[Written]:
    """Step 3 (store, one committed transaction): the snapshot, its deltas, the state."""
    sql = _Sql(schema)
    status, evictions = interval_status(prepared, reading)

    def steps(ctx: Context) -> Steps[Written]:
        locked = _named((yield Query(sql.store("store_lock"), (LOCK_SPACE, prepared.target_id))))
        last = _named((yield Query(sql.store("store_last"), (prepared.target_id,))))
        if not locked["locked"] or last["captured_at"] != prepared.captured_at:
            raise SnapshotConflictError(
                f"another collector is snapshotting target {target!r} (or wrote a snapshot "
                "of it meanwhile): this snapshot was not written; the other one covers the "
                "interval"
            )
        if prepared.captured_at is not None and reading.captured_at <= prepared.captured_at:
            raise SnapshotConflictError(
                f"target {target!r} answered with a time ({reading.captured_at.isoformat()}) "
                f"not after its last snapshot ({prepared.captured_at.isoformat()}): is another "
                "server using the same target name? Give each server its own name"
            )
        snapshot_id = int(
            _named(
                (
                    yield Query(
                        sql.store("store_snapshot"),
                        (
                            prepared.target_id,
                            reading.captured_at,
                            prepared.captured_at,
                            status,
                            evictions,
                            reading.stats_reset,
                            reading.dealloc,
                            reading.pgss_version,
                            reading.server_version_num,
                            reading.entries,
                            prepared.pgss_version,
                        ),
                    )
                )
            )["id"]
        )
        counts = _named(
            (
                yield Query(
                    _store_statements_sql(schema),
                    (
                        prepared.target_id,
                        snapshot_id,
                        reading.captured_at,
                        status == "reset",
                        status == "baseline",
                        *reading.arrays,
                    ),
                )
            )
        )
        if reading.database_stats is not None and reading.datid is not None:
            yield Query(
                sql.store("store_database"),
                (
                    snapshot_id,
                    prepared.target_id,
                    reading.captured_at,
                    reading.datid,
                    reading.database_stats,
                ),
            )
        final = _named(
            (
                yield Query(
                    sql.store("store_finish"),
                    (
                        snapshot_id,
                        counts["stored"],
                        counts["new"],
                        counts["recreated"],
                        counts["gone"],
                        0,
                    ),
                )
            )
        )
        snapshot = Snapshot(
            target=target,
            captured_at=reading.captured_at,
            previous_captured_at=prepared.captured_at,
            status=str(final["status"]),
            evictions=evictions,
            stats_reset=reading.stats_reset,
            pgss_version=reading.pgss_version,
            server_version_num=reading.server_version_num,
            entries_read=reading.entries,
            entries_stored=int(counts["stored"]),
            entries_new=int(counts["new"]),
            entries_recreated=int(counts["recreated"]),
            entries_gone=int(counts["gone"]),
            texts_read=0,
        )
        frontier = last["rolled_up_until"]
        hour = _utc(reading.captured_at).replace(minute=0, second=0, microsecond=0)
        return Written(
            snapshot_id,
            snapshot,
            list(counts["text_dbid"] or []),
            list(counts["text_queryid"] or []),
            int(counts["new"]) > 0,
            frontier is None or _utc(frontier) < hour,
        )

    return Operation(
        "history_snapshot",
        steps,
        timeout_ms,
        read_only=False,
        commit=True,
        lock_timeout_ms=lock_ms,
        settings=WRITE_SETTINGS,
    )


@dataclass(frozen=True, slots=True)
class Texts:
    """Step 4a: texts and names read from the target."""

    dbid: list[int]
    queryid: list[int]
    query: list[str]
    names: tuple[list[str], list[int], list[str]] | None


def read_texts(written: Written, timeout_ms: int) -> Operation[Texts]:
    """Step 4a (target, read-only): the texts the store asked for, the names."""

    def steps(ctx: Context) -> Steps[Texts]:
        _, pgss_schema = ctx.require_pg_stat_statements()
        dbid: list[int] = []
        queryid: list[int] = []
        query: list[str] = []
        if written.text_dbid:
            sql = _sql.render(
                _sql.load("history.sql", "read_texts"), pgss=_sql.quote_ident(pgss_schema)
            )
            row = _named((yield Query(sql, (written.text_dbid, written.text_queryid))))
            dbid, queryid, query = row["dbid"] or [], row["queryid"] or [], row["query"] or []
        names = None
        if written.want_names:
            row = _named((yield Query(_sql.load("history.sql", "read_names"))))
            names = (row["kind"] or [], row["oid"] or [], row["name"] or [])
        return Texts(list(dbid), list(queryid), list(query), names)

    return Operation("history_snapshot", steps, timeout_ms)


def write_texts(
    schema: str, written: Written, texts: Texts, timeout_ms: int, lock_ms: int
) -> Operation[int]:
    """Step 4b (store, committed): the texts and names; returns the texts read."""
    sql = _Sql(schema)

    def steps(ctx: Context) -> Steps[int]:
        target_id = yield from _target_id(sql, written.snapshot.target)
        if texts.query:
            yield Query(
                sql.store("store_texts"),
                (target_id, written.snapshot.captured_at, texts.dbid, texts.queryid, texts.query),
            )
        if texts.names is not None:
            yield Query(sql.store("store_names"), (target_id, *texts.names))
        yield Query(
            "UPDATE " + _sql.quote_ident(schema) + ".history_snapshots SET texts_read = $2::int4"
            " WHERE id = $1::int8",
            (written.snapshot_id, len(texts.query)),
        )
        return len(texts.query)

    return Operation(
        "history_snapshot", steps, timeout_ms, read_only=False, commit=True, lock_timeout_ms=lock_ms
    )


def _target_id(sql: _Sql, target: str) -> Steps[int]:
    row = _named((yield Query(sql.store("store_target"), (target,))))
    return int(row["id"])


# ----------------------------------------------------------------------- reading


def _oldest(versions: Sequence[object] | None) -> Version | None:
    parsed = [parse_version(str(v)) for v in versions or () if v is not None]
    return min(parsed) if parsed else None


def _stddev(n: object, total: object, sumsq: object) -> float | None:
    if not n or total is None or sumsq is None:
        return None
    count = float(str(n))
    mean = float(str(total)) / count
    variance = float(str(sumsq)) / count - mean * mean
    return math.sqrt(max(variance, 0.0))  # float rounding can make a zero variance -0.0001


def _metrics(row: Mapping[str, Any], version: Version | None) -> dict[str, object]:
    """The counter fields of a model from summed rows: 0 where nothing moved, None where
    the oldest extension version of the window lacks the column."""
    out: dict[str, object] = {}
    for name, sql_type in COUNTERS:
        if name in _SUMSQ:
            continue
        value = row.get(name)
        if version is not None and not present(name, version):
            out[name] = None
        elif value is None:
            out[name] = 0.0 if sql_type == "float8" else 0
        else:
            out[name] = float(value) if sql_type == "float8" else int(value)
    calls, plans = out["calls"], out["plans"]
    out["mean_exec_time_ms"] = (
        float(str(out["total_exec_time_ms"])) / float(str(calls)) if calls else None
    )
    out["stddev_exec_time_ms"] = _stddev(
        calls, out["total_exec_time_ms"], row.get("exec_time_sumsq")
    )
    out["mean_plan_time_ms"] = (
        float(str(out["total_plan_time_ms"])) / float(str(plans)) if plans else None
    )
    out["stddev_plan_time_ms"] = _stddev(
        plans, out["total_plan_time_ms"], row.get("plan_time_sumsq")
    )
    return out


def _worst(complete: int, reset: int, lossy: int) -> str:
    if lossy:
        return "lossy"
    if reset:
        return "reset"
    return "complete"


def changes_query(schema: str, order_by: str) -> str:
    """The ``changes`` block, its markers filled; parameters: $1 target name or NULL,
    $2 since, $3 until, $4 limit, $5 include pgstatkit's statements, $6 queryid or NULL,
    $7 dbid or NULL (benchmarks/history.py shows its plan)."""
    return _Sql(schema).store(
        "changes",
        h_counters=", ".join(f"h.{n}" for n in COUNTER_NAMES),
        r_counters=", ".join(f"r.{n}" for n in COUNTER_NAMES),
        sums=_sums("u"),
        a_sums=", ".join(f"a.{n}" for n in COUNTER_NAMES),
        order=CHANGE_ORDERS[order_by],
        own_filter=statement_filter("x.query"),
    )


def changes(
    *,
    schema: str,
    target: str | None,
    since: _dt.datetime,
    until: _dt.datetime,
    order_by: str,
    limit: int,
    include_pgstatkit: bool,
    queryid: int | None,
    timeout_ms: int,
    dbid: int | None = None,
) -> Operation[HistoryChanges]:
    """The window's entries summed; ``dbid``: only the statements of that database
    (its OID on the target)."""
    sql = _Sql(schema)
    changes_sql = changes_query(schema, order_by)

    def steps(ctx: Context) -> Steps[HistoryChanges]:
        yield from _require_store(sql)
        summary = _named((yield Query(sql.store("window_summary"), (target, since, until))))
        version = _oldest(summary["pgss_versions"])
        result = yield Query(
            changes_sql, (target, since, until, limit, include_pgstatkit, queryid, dbid)
        )
        statements = [
            StatementChange(
                target=str(row["target"]),
                dbid=int(row["dbid"]),
                database=row["database"],
                userid=int(row["userid"]),
                username=row["username"],
                queryid=int(row["queryid"]),
                toplevel=bool(row["toplevel"]),
                query=row["query"],
                intervals=int(row["intervals"]),
                recreated=bool(row["recreated"]),
                **_metrics(row, version),  # type: ignore[arg-type]
            )
            for row in _rows(result)
        ]
        complete, reset, lossy = (
            int(summary["complete"]),
            int(summary["reset"]),
            int(summary["lossy"]),
        )
        return HistoryChanges(
            target=target,
            since=since,
            until=until,
            status=_worst(complete, reset, lossy),
            intervals=int(summary["snapshots"]),
            complete_intervals=complete,
            reset_intervals=reset,
            lossy_intervals=lossy,
            evictions=None if summary["evictions"] is None else int(summary["evictions"]),
            statements=tuple(statements),
        )

    return Operation("history_changes", steps, timeout_ms, settings=AGGREGATE_SETTINGS)


def timeline(
    *,
    schema: str,
    target: str | None,
    queryid: int,
    since: _dt.datetime,
    until: _dt.datetime,
    dbid: int | None,
    userid: int | None,
    timeout_ms: int,
) -> Operation[list[StatementInterval]]:
    sql = _Sql(schema)
    timeline_sql = sql.store("timeline", sums=_sums("h"))

    def steps(ctx: Context) -> Steps[list[StatementInterval]]:
        yield from _require_store(sql)
        result = yield Query(timeline_sql, (target, since, until, queryid, dbid, userid))
        out = []
        for row in _rows(result):
            version = _oldest([row["pgss_version"], row["previous_pgss_version"]])
            out.append(
                StatementInterval(
                    target=str(row["target"]),
                    queryid=queryid,
                    captured_at=row["captured_at"],
                    previous_captured_at=row["previous_captured_at"],
                    status=str(row["status"]),
                    evictions=None if row["evictions"] is None else int(row["evictions"]),
                    recreated=bool(row["recreated"]),
                    **_metrics(row, version),  # type: ignore[arg-type]
                )
            )
        return out

    return Operation("history_timeline", steps, timeout_ms)


def _json(text: object) -> dict[str, Any]:
    value = json.loads(str(text))
    return value if isinstance(value, dict) else {}


def database_interval(
    target: str,
    captured_at: _dt.datetime,
    previous_captured_at: _dt.datetime,
    now: Mapping[str, Any],
    before: Mapping[str, Any],
) -> DatabaseInterval:
    """One interval of pg_stat_database rows: the deltas, or the values since a reset."""
    reset = now.get("stats_reset") != before.get("stats_reset") or any(
        now.get(column) is not None
        and before.get(column) is not None
        and float(now[column]) < float(before[column])
        for _, column in DATABASE_COUNTERS
    )
    values: dict[str, object] = {}
    for field, column in DATABASE_COUNTERS:
        current, previous = now.get(column), before.get(column)
        floating = field.endswith("_ms")
        if current is None:
            values[field] = None
            continue
        delta = float(current) if reset or previous is None else float(current) - float(previous)
        values[field] = delta if floating else int(delta)
    backends = now.get("numbackends")
    return DatabaseInterval(
        target=target,
        database=now.get("datname"),
        captured_at=captured_at,
        previous_captured_at=previous_captured_at,
        status="reset" if reset else "complete",
        numbackends=None if backends is None else int(backends),
        **values,  # type: ignore[arg-type]
    )


def database_timeline(
    *,
    schema: str,
    target: str | None,
    since: _dt.datetime,
    until: _dt.datetime,
    timeout_ms: int,
) -> Operation[list[DatabaseInterval]]:
    sql = _Sql(schema)

    def steps(ctx: Context) -> Steps[list[DatabaseInterval]]:
        yield from _require_store(sql)
        result = yield Query(sql.store("database_timeline"), (target, since, until))
        return [
            database_interval(
                str(row["target"]),
                row["captured_at"],
                row["previous_captured_at"],
                _json(row["stats"]),
                _json(row["previous"]),
            )
            for row in _rows(result)
        ]

    return Operation("history_database_timeline", steps, timeout_ms)


def snapshots(
    *,
    schema: str,
    target: str | None,
    since: _dt.datetime,
    until: _dt.datetime,
    timeout_ms: int,
) -> Operation[list[Snapshot]]:
    sql = _Sql(schema)

    def steps(ctx: Context) -> Steps[list[Snapshot]]:
        yield from _require_store(sql)
        result = yield Query(sql.store("snapshots"), (target, since, until))
        return [
            Snapshot(
                target=str(r["target"]),
                captured_at=r["captured_at"],
                previous_captured_at=r["previous_captured_at"],
                status=str(r["status"]),
                evictions=None if r["evictions"] is None else int(r["evictions"]),
                stats_reset=r["stats_reset"],
                pgss_version=str(r["pgss_version"]),
                server_version_num=int(r["server_version_num"]),
                entries_read=int(r["entries_read"]),
                entries_stored=int(r["entries_stored"]),
                entries_new=int(r["entries_new"]),
                entries_recreated=int(r["entries_recreated"]),
                entries_gone=int(r["entries_gone"]),
                texts_read=int(r["texts_read"]),
            )
            for r in _rows(result)
        ]

    return Operation("history_snapshots", steps, timeout_ms)


def prune(
    *, schema: str, keep: _dt.timedelta, timeout_ms: int, lock_ms: int
) -> Operation[PruneResult]:
    sql = _Sql(schema)

    def steps(ctx: Context) -> Steps[PruneResult]:
        yield from _require_store(sql)
        plan = _rows((yield Query(sql.store("prune_partitions"), (schema, keep.total_seconds()))))
        cutoff = plan[0]["cutoff"]
        dropped = 0
        for row in plan:
            if row["sql"] is not None:
                yield Query(str(row["sql"]))
                dropped += 1
        rows = _named((yield Query(sql.store("prune_rows"), (cutoff,))))
        texts = _named((yield Query(sql.store("prune_texts"))))
        return PruneResult(
            cutoff, dropped, int(rows["snapshots"]), int(texts["texts"]), int(rows["hourly"])
        )

    return Operation(
        "history_prune", steps, timeout_ms, read_only=False, commit=True, lock_timeout_ms=lock_ms
    )


# ----------------------------------------------------------------------- roll-ups


AGGREGATE_SETTINGS = (
    ("work_mem", CHANGES_WORK_MEM),
    ("jit", "off"),
    ("plan_cache_mode", "force_custom_plan"),
)
"""The settings of an aggregation over many delta rows: a hash aggregate of every
entry fits in ``work_mem`` (not 4 MB: it would sort on disk), no JIT (compiling some
forty aggregates costs more than it saves at this size), and a custom plan (planned for
the window's times; a driver's cached statement would otherwise get a generic plan
after five runs: about a millisecond of planning against hundreds)."""

READ_SETTINGS = (("extra_float_digits", "3"), ("plan_cache_mode", "force_custom_plan"))
"""The settings of the target's read: the counters travel as JSON, so floats are printed
shortest-exact whatever the session says; a custom plan makes the store's hashes a
constant array, looked up by hash (a driver's cached statement would otherwise get a
generic plan after five runs, and a generic plan scans the array for every entry)."""

WRITE_SETTINGS = (("enable_hashjoin", "off"), ("enable_mergejoin", "off"))
"""The settings of the store's write: the ~1,000 moved entries look their state up by
its primary key; hashing every state row of the target (10,000 wide rows) cost twice as
much."""


def max_buckets(value: object) -> int:
    """``roll_up(max_buckets=...)``: 1 to 744 hours (31 days)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 744:
        raise InvalidArgumentError(f"max_buckets must be an int from 1 to 744, got {value!r}")
    return value


def _utc(value: _dt.datetime) -> _dt.datetime:
    # hour arithmetic in UTC: a driver may return the session's zone (with DST)
    return value.astimezone(_dt.timezone.utc)


def roll_up_targets(*, schema: str, target: str | None, timeout_ms: int) -> Operation[list[str]]:
    """The names of the targets to roll up (``target``, or every target)."""
    sql = _Sql(schema)

    def steps(ctx: Context) -> Steps[list[str]]:
        yield from _require_store(sql)
        result = yield Query(sql.store("rollup_targets"), (target,))
        return [str(row["name"]) for row in _rows(result)]

    return Operation("history_roll_up", steps, timeout_ms)


def roll_up(
    *, schema: str, target: str, buckets: int, timeout_ms: int, lock_ms: int
) -> Operation[RollUp]:
    """One roll-up run of ``target`` (store, one committed transaction): the closed
    hours from its frontier on, at most ``buckets`` of them, one statement per hour;
    then the frontier moves. Nothing happens (one read) when the frontier is current
    (:func:`history.snapshot` does not even send it then: its write read the frontier);
    ``skipped`` when another run holds the target's roll-up lock (not the snapshot's:
    a roll-up never makes a snapshot fail)."""
    sql = _Sql(schema)
    hour = _dt.timedelta(hours=1)
    hour_sql = sql.store("rollup_hour", counters=", ".join(COUNTER_NAMES), sums=_sums("h"))

    def plan() -> Steps[dict[str, Any]]:
        return _named((yield Query(sql.store("rollup_plan"), (target,))))

    def steps(ctx: Context) -> Steps[RollUp]:
        row = yield from plan()
        if not row or row["closed_until"] is None:
            return RollUp(
                target, 0, 0, 0, None if not row else row["rolled_up_until"], False, False
            )
        if row["rolled_up_until"] is not None and row["rolled_up_until"] >= row["closed_until"]:
            return RollUp(target, 0, 0, 0, row["rolled_up_until"], False, False)
        target_id = int(row["id"])
        locked = _named((yield Query(sql.store("store_lock"), (ROLL_UP_LOCK_SPACE, target_id))))
        if not locked["locked"]:
            return RollUp(target, 0, 0, 0, row["rolled_up_until"], True, True)
        row = yield from plan()  # again under the lock: another run may have moved it
        closed = _utc(row["closed_until"])
        first = row["first_hour"]
        start = closed if first is None else min(_utc(first), closed)
        end = min(start + buckets * hour, closed)
        rolled, read, written = 0, 0, 0
        at = start
        while at < end:
            counts = _named((yield Query(hour_sql, (target_id, at))))
            rolled, read, written = (
                rolled + 1,
                read + int(counts["summed"]),
                written + int(counts["written"]),
            )
            at += hour
        frontier = _named((yield Query(sql.store("rollup_advance"), (target_id, end))))
        return RollUp(
            target, rolled, read, written, frontier["rolled_up_until"], end < closed, False
        )

    return Operation(
        "history_roll_up",
        steps,
        timeout_ms,
        read_only=False,
        commit=True,
        lock_timeout_ms=lock_ms,
        settings=AGGREGATE_SETTINGS,
    )

"""``health``: the health checks, as one sans-I/O operation.

Each check (:data:`CHECKS`) is a generator of queries (``sql/queries/health.sql``) that
returns its findings: one per object with a problem, each with its evidence (numbers
with units), one sentence of explanation, the SQL that fixes it and the fix's risk; or
one ``ok`` finding when it found nothing. The operation runs the selected checks in
order, each inside a savepoint: a check the role may not run (SQLSTATE ``42501``), one
that needs what the server lacks (an undefined function or table, a library not
loaded), or one that ran out of time (``57014``, ``55P03``) becomes an ``unknown``
finding that says why and which grant it needs, and the next check runs. Everything is
read-only and bounded by the call's statement timeout (each statement) and a lock
timeout of at most :data:`LOCK_TIMEOUT_MS`.

Thresholds (:data:`THRESHOLDS`) have defaults taken from PgHero, check_postgres and the
PostgreSQL documentation (``docs/health.md`` gives the source of each); ``thresholds=``
overrides them by name, validated before anything is sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pgstatkit import _sql, _validate
from pgstatkit._protocol import Context, Operation, Query, Result, ServerError, Steps
from pgstatkit.errors import InvalidArgumentError
from pgstatkit.models import HealthFinding, HealthReport, HealthSeverity, Measure

__all__ = [
    "CHECKS",
    "THRESHOLDS",
    "Check",
    "Threshold",
    "check_names",
    "health",
    "threshold_values",
]

LOCK_TIMEOUT_MS = 2000
"""The lock timeout of a health call (lower if its statement timeout is lower)."""

MAX_OBJECTS = 50
"""At most this many findings per check (the worst first)."""

HARD_LIMIT = 2**31
"""Transaction IDs and multixact IDs wrap around after 2^31 (PostgreSQL docs, 24.1.5)."""

_SAVEPOINT = "pgstatkit_health"

Unit = Literal["ratio", "bytes", "ms", "count", "days", "factor"]


@dataclass(frozen=True, slots=True)
class Threshold:
    """One overridable threshold: its default, unit, meaning and where the default
    comes from. ``worse``: ``"higher"`` when a larger value is worse (most), ``"lower"``
    for the cache hit ratio."""

    name: str
    default: float
    unit: Unit
    help: str
    source: str


_T = Threshold
_KIB = 1024
_MIB = 1024 * _KIB
_GIB = 1024 * _MIB

THRESHOLDS: dict[str, Threshold] = {
    t.name: t
    for t in (
        _T(
            "unused_index_min_bytes",
            _MIB,
            "bytes",
            "unused indexes smaller than this are not reported",
            "pgstatkit (PgHero lists every unused index)",
        ),
        _T(
            "unused_index_min_stats_age_days",
            7,
            "days",
            "statistics younger than this cannot call an index unused (the result is unknown)",
            "pgstatkit: a weekly job should have run once",
        ),
        _T(
            "bloat_min_bytes",
            100 * _MIB,
            "bytes",
            "relations smaller than this are not estimated",
            "PgHero (index bloat, min_size 100 MB)",
        ),
        _T(
            "bloat_warning_ratio",
            0.5,
            "ratio",
            "estimated bloat / size for a warning",
            "pgstatkit (about what check_postgres' default 1 GB wasted means on mid-size tables)",
        ),
        _T(
            "bloat_critical_ratio",
            0.8,
            "ratio",
            "estimated bloat / size for critical",
            "pgstatkit",
        ),
        _T(
            "wraparound_warning_ratio",
            0.5,
            "ratio",
            "transaction ID (or multixact) age / 2^31 for a warning (0.5: about 1.07 billion)",
            "check_postgres txn_wraparound (warning 1.3 billion), PostgreSQL docs 24.1.5",
        ),
        _T(
            "wraparound_critical_ratio",
            0.75,
            "ratio",
            "the same for critical (0.75: about 1.61 billion)",
            "check_postgres txn_wraparound (critical 1.4 billion); PostgreSQL stops at 2^31 - 3M",
        ),
        _T(
            "sequence_warning_ratio",
            0.85,
            "ratio",
            "share of a sequence's (or its column's) range used, for a warning",
            "check_postgres sequence (warning 85%)",
        ),
        _T(
            "sequence_critical_ratio",
            0.95,
            "ratio",
            "the same for critical",
            "check_postgres sequence (critical 95%)",
        ),
        _T(
            "long_query_warning_ms",
            60_000,
            "ms",
            "a statement running longer than this is a warning",
            "PgHero (long_running_query_sec 60)",
        ),
        _T(
            "long_query_critical_ms",
            300_000,
            "ms",
            "the same for critical",
            "check_postgres query_time (critical 5 minutes)",
        ),
        _T(
            "idle_in_transaction_warning_ms",
            60_000,
            "ms",
            "a session idle in an open transaction longer than this is a warning",
            "pgstatkit (PgHero lists idle-in-transaction sessions over 1 minute)",
        ),
        _T(
            "idle_in_transaction_critical_ms",
            600_000,
            "ms",
            "the same for critical",
            "pgstatkit",
        ),
        _T(
            "blocked_warning_ms",
            5_000,
            "ms",
            "a statement waiting for another session's lock longer than this is a warning",
            "pgstatkit (PostgreSQL's deadlock_timeout is 1 s; log_lock_waits reports after it)",
        ),
        _T(
            "blocked_critical_ms",
            60_000,
            "ms",
            "the same for critical",
            "pgstatkit",
        ),
        _T(
            "connections_warning_ratio",
            0.9,
            "ratio",
            "client connections / (max_connections - reserved) for a warning",
            "check_postgres backends (warning 90%)",
        ),
        _T(
            "connections_critical_ratio",
            0.95,
            "ratio",
            "the same for critical",
            "check_postgres backends (critical 95%)",
        ),
        _T(
            "vacuum_min_rows",
            10_000,
            "count",
            "dead rows (or rows changed) a table needs before the vacuum check looks at it",
            "pgstatkit",
        ),
        _T(
            "vacuum_factor",
            2.0,
            "factor",
            "dead rows (or changes) above this many times autovacuum's own threshold",
            "pgstatkit; autovacuum's threshold is threshold + scale_factor * reltuples "
            "(PostgreSQL docs 24.1.6)",
        ),
        _T(
            "slot_retained_warning_bytes",
            0,
            "bytes",
            "an inactive replication slot keeping at least this much WAL is a warning",
            "PgHero (every inactive slot)",
        ),
        _T(
            "slot_retained_critical_bytes",
            _GIB,
            "bytes",
            "the same for critical",
            "pgstatkit",
        ),
        _T(
            "replica_lag_warning_ms",
            60_000,
            "ms",
            "replay lag of a standby for a warning",
            "pgstatkit (check_postgres hot_standby_delay takes bytes or time, no default)",
        ),
        _T(
            "replica_lag_critical_ms",
            300_000,
            "ms",
            "the same for critical",
            "pgstatkit",
        ),
        _T(
            "prepared_transaction_warning_ms",
            300_000,
            "ms",
            "a prepared transaction older than this is a warning (orphaned)",
            "pgstatkit (check_postgres prepared_txns warns after 1 s, too early for XA users)",
        ),
        _T(
            "prepared_transaction_critical_ms",
            3_600_000,
            "ms",
            "the same for critical",
            "pgstatkit",
        ),
        _T(
            "pgss_fill_warning_ratio",
            0.9,
            "ratio",
            "pg_stat_statements entries / pg_stat_statements.max for a warning",
            "pgstatkit (entries are evicted at the maximum)",
        ),
        _T(
            "pgss_dealloc_warning",
            1,
            "count",
            "deallocations since the statistics were reset for a warning",
            "pgstatkit (pg_stat_statements docs: evictions lose statistics)",
        ),
        _T(
            "pgss_text_file_warning_bytes",
            100 * _MIB,
            "bytes",
            "size of pg_stat_statements' query-text file for a warning",
            "pgstatkit",
        ),
        _T(
            "cache_hit_warning_ratio",
            0.99,
            "ratio",
            "a database cache hit ratio below this is a warning",
            "PgHero (cache_hit_rate_threshold 99)",
        ),
        _T(
            "cache_hit_critical_ratio",
            0.95,
            "ratio",
            "below this it is critical",
            "pgstatkit",
        ),
        _T(
            "cache_min_blocks",
            100_000,
            "count",
            "blocks read or hit before the ratio is judged",
            "pgstatkit",
        ),
    )
}
"""Every threshold, by name."""

_LOWER_IS_WORSE = frozenset({"cache_hit_warning_ratio", "cache_hit_critical_ratio"})

_PAIRS = (
    ("bloat_warning_ratio", "bloat_critical_ratio"),
    ("wraparound_warning_ratio", "wraparound_critical_ratio"),
    ("sequence_warning_ratio", "sequence_critical_ratio"),
    ("long_query_warning_ms", "long_query_critical_ms"),
    ("idle_in_transaction_warning_ms", "idle_in_transaction_critical_ms"),
    ("blocked_warning_ms", "blocked_critical_ms"),
    ("connections_warning_ratio", "connections_critical_ratio"),
    ("slot_retained_warning_bytes", "slot_retained_critical_bytes"),
    ("replica_lag_warning_ms", "replica_lag_critical_ms"),
    ("prepared_transaction_warning_ms", "prepared_transaction_critical_ms"),
    ("cache_hit_warning_ratio", "cache_hit_critical_ratio"),
)

_MAX_MS = 10 * 365 * 86_400_000.0


# --------------------------------------------------------------------------- the environment


@dataclass(frozen=True, slots=True)
class _Env:
    """What every check may use: the server's settings, the role, the thresholds."""

    ctx: Context
    row: Mapping[str, Any]
    t: Mapping[str, float]
    timeout_ms: int
    pgstattuple: bool = False

    def int(self, name: str) -> int:
        return int(self.row[name])

    def float(self, name: str) -> float | None:
        value = self.row[name]
        return None if value is None else float(value)

    @property
    def role(self) -> str:
        return str(self.row["role"])

    @property
    def database(self) -> str:
        return str(self.row["database"])

    @property
    def read_all_stats(self) -> bool:
        return bool(self.row["read_all_stats"]) or bool(self.row["superuser"])


CheckSteps = Generator[Query, Result, list[HealthFinding]]


@dataclass(frozen=True, slots=True)
class Check:
    """One health check: its name, what it looks at, its thresholds and the grant a
    role needs to run it fully."""

    name: str
    title: str
    run: Callable[[_Env], CheckSteps]
    thresholds: tuple[str, ...]
    grant: str


def _q(name: str) -> str:
    return _sql.load("health.sql", name)


def _rows(result: Result) -> list[dict[str, Any]]:
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def _m(name: str, value: float | None, unit: str) -> Measure:
    return Measure(name, None if value is None else float(value), unit)


def _finding(
    check: str,
    severity: HealthSeverity,
    obj: str | None,
    evidence: Iterable[Measure],
    explanation: str,
    fix: str | None = None,
    risk: str | None = None,
    detail: str | None = None,
) -> HealthFinding:
    return HealthFinding(check, severity, obj, tuple(evidence), explanation, fix, risk, detail)


def _grade(value: float | None, warning: float, critical: float) -> HealthSeverity | None:
    """``critical``/``warning`` when ``value`` reaches the threshold, else None."""
    if value is None:
        return None
    if value >= critical:
        return "critical"
    if value >= warning:
        return "warning"
    return None


def _bytes(n: float) -> str:
    value = float(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover


def _duration(ms: float) -> str:
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _lit(value: str) -> str:
    return _sql.quote_literal(value)


def _ident(value: str) -> str:
    return _sql.quote_ident(value)


_CONCURRENTLY_RISK = "CONCURRENTLY cannot run inside a transaction block (run it on its own)"


# --------------------------------------------------------------------------- indexes


def _unused_indexes(env: _Env) -> CheckSteps:
    name = "unused_indexes"
    age_s = env.float("stats_age_s") or 0.0
    min_age_s = env.t["unused_index_min_stats_age_days"] * 86400
    result = yield Query(_q(name), (int(env.t["unused_index_min_bytes"]), MAX_OBJECTS))
    rows = _rows(result)
    age = _m("statistics_age_s", age_s, "s")
    if not rows:
        return [
            _finding(
                name,
                "ok",
                None,
                [age],
                "No index of at least "
                f"{_bytes(env.t['unused_index_min_bytes'])} outside unique and constraint "
                f"indexes is unscanned in statistics {_duration(age_s * 1000)} old.",
            )
        ]
    if age_s < min_age_s:
        return [
            _finding(
                name,
                "unknown",
                None,
                [_m("candidate_indexes", len(rows), "count"), age, _m("min_age_s", min_age_s, "s")],
                f"{len(rows)} index(es) have no scans, but the statistics are only "
                f"{_duration(age_s * 1000)} old: too recent to call an index unused.",
                detail=", ".join(str(r["index"]) for r in rows),
            )
        ]
    return [
        _finding(
            name,
            "warning",
            str(r["index"]),
            [_m("size_bytes", r["size_bytes"], "bytes"), _m("idx_scan", 0, "count"), age],
            f"{r['index']} on {r['table']} has not been scanned in statistics "
            f"{_duration(age_s * 1000)} old, yet every write to the table maintains it.",
            f"DROP INDEX CONCURRENTLY {r['index']};",
            "Queries that need it rarely (a monthly report) or only on a replica (its scans "
            "are counted there) become slow; keep its definition to recreate it; "
            + _CONCURRENTLY_RISK
            + ".",
            str(r["definition"]),
        )
        for r in rows
    ]


def _duplicate_indexes(env: _Env) -> CheckSteps:
    name = "duplicate_indexes"
    rows = _rows((yield Query(_q(name), (MAX_OBJECTS,))))
    if not rows:
        return [
            _finding(name, "ok", None, [], "No btree index is a duplicate or a prefix of another.")
        ]
    return [
        _finding(
            name,
            "warning",
            str(r["index"]),
            [_m("size_bytes", r["size_bytes"], "bytes")],
            f"{r['index']} is {'identical to' if r['identical'] else 'a prefix of'} "
            f"{r['covered_by']} (same operator classes, collations and predicate), which "
            "answers the same queries.",
            f"DROP INDEX CONCURRENTLY {r['index']};",
            "Queries on its columns use the covering index instead, a little larger; "
            + _CONCURRENTLY_RISK
            + ".",
            f"{r['definition']}\ncovered by: {r['covered_by_definition']}",
        )
        for r in rows
    ]


def _invalid_indexes(env: _Env) -> CheckSteps:
    name = "invalid_indexes"
    rows = _rows((yield Query(_q(name), (MAX_OBJECTS,))))
    if not rows:
        return [_finding(name, "ok", None, [], "No index is invalid.")]
    return [
        _finding(
            name,
            "warning",
            str(r["index"]),
            [_m("size_bytes", r["size_bytes"], "bytes")],
            f"{r['index']} on {r['table']} is invalid (a failed CREATE INDEX CONCURRENTLY or "
            "REINDEX CONCURRENTLY): no query uses it, but writes may still maintain it.",
            f"DROP INDEX CONCURRENTLY {r['index']};",
            "If the index is needed, recreate it afterwards from its definition (a unique "
            "index that failed on duplicate values fails again until they are removed); "
            "REINDEX INDEX CONCURRENTLY rebuilds it in place once the cause is gone; "
            + _CONCURRENTLY_RISK
            + ".",
            str(r["definition"]),
        )
        for r in rows
    ]


def _foreign_keys(env: _Env) -> CheckSteps:
    name = "foreign_keys_without_index"
    rows = _rows((yield Query(_q(name), (MAX_OBJECTS,))))
    if not rows:
        return [_finding(name, "ok", None, [], "Every foreign key has an index on its columns.")]
    found = []
    for r in rows:
        columns = ", ".join(str(c) for c in r["columns"])
        partitioned = r["relkind"] == "p"
        create = "CREATE INDEX" if partitioned else "CREATE INDEX CONCURRENTLY"
        risk = (
            "Builds a new index (disk space, and a cost on every write); on a partitioned "
            "table it cannot be CONCURRENTLY and blocks writes while it builds."
            if partitioned
            else "Builds a new index (disk space, and a cost on every write); "
            + _CONCURRENTLY_RISK
            + " and a failure leaves an invalid index to drop."
        )
        found.append(
            _finding(
                name,
                "warning",
                str(r["table"]),
                [
                    _m("table_bytes", r["table_bytes"], "bytes"),
                    _m("table_rows", r["table_rows"], "count"),
                ],
                f"Foreign key {r['constraint']} of {r['table']} ({columns}) references "
                f"{r['referenced']}, but no index of {r['table']} starts with those columns: "
                f"each DELETE or key UPDATE on {r['referenced']} scans {r['table']}.",
                f"{create} ON {r['table']} ({columns});",
                risk,
                f"constraint {r['constraint']}",
            )
        )
    return found


# --------------------------------------------------------------------------- bloat


def _align(n: float, to: int = 8) -> float:
    return math.ceil(n / to) * to


def _estimate(row: Mapping[str, Any], block_size: int) -> tuple[float, float]:
    """(estimated bloat in bytes, its share of the size) of one row of the bloat query."""
    size = float(row["size_bytes"])
    width = float(row["width"] or 0)
    fill = float(row["fillfactor"]) / 100
    if row["relkind"] == "i":
        tuple_bytes = _align(8 + width) + 4
        usable = (block_size - 24 - 16) * fill
        extra_pages = 1  # the metapage
    else:
        tuple_bytes = _align(24 + width) + 4
        usable = (block_size - 24) * fill
        extra_pages = 0
    per_page = max(1.0, math.floor(usable / tuple_bytes))
    expected = (math.ceil(float(row["reltuples"]) / per_page) + extra_pages) * block_size
    bloat = max(0.0, size - expected)
    return bloat, (bloat / size if size > 0 else 0.0)


def _exact(
    row: Mapping[str, Any], schema: str
) -> Generator[Query, Result, tuple[float, float] | None]:
    """(bloat in bytes, its share) of one relation measured with pgstattuple, or None
    when there is nothing to measure (an index without leaf pages)."""
    fill = float(row["fillfactor"]) / 100
    if row["relkind"] == "i":
        sql = _sql.render(_q("pgstattuple_index"), schema=schema)
        found = _rows((yield Query(sql, (str(row["relation"]),))))[0]
        density, size = found["avg_leaf_density"], float(found["index_size"])
        if density is None or math.isnan(float(density)) or size <= 0:
            return None
        share = max(0.0, 1.0 - float(density) / 100 / fill)
        return share * size, share
    sql = _sql.render(_q("pgstattuple_table"), schema=schema)
    found = _rows((yield Query(sql, (str(row["relation"]),))))[0]
    size = float(found["table_len"])
    if size <= 0:
        return None
    wasted = float(found["dead_tuple_len"]) + float(found["free_space"])
    bloat = max(0.0, wasted - size * (1.0 - fill))
    return bloat, bloat / size


def _bloat(env: _Env) -> CheckSteps:
    name = "bloat"
    minimum = int(env.t["bloat_min_bytes"])
    rows = _rows((yield Query(_q(name), (minimum, 1000))))
    block_size = env.int("block_size")
    found: list[HealthFinding] = []
    schema: str | None = None
    if env.pgstattuple:
        located = _rows((yield Query(_q("pgstattuple_schema"))))
        if located:
            schema = _ident(str(located[0]["schema"]))
        else:
            found.append(
                _finding(
                    name,
                    "unknown",
                    None,
                    [],
                    "Exact figures were asked for (pgstattuple=True), but the pgstattuple "
                    "extension is not created in this database: the figures below are "
                    "estimates.",
                    "CREATE EXTENSION pgstattuple;",
                    "Creating an extension needs the CREATE privilege on the database; its "
                    "functions read whole relations (pg_stat_scan_tables may call them).",
                )
            )
    method = "measured with pgstattuple" if schema else "estimated from pg_stats"
    for r in rows:
        measured = (yield from _exact(r, schema)) if schema else _estimate(r, block_size)
        if measured is None:
            continue
        bloat, share = measured
        severity = _grade(share, env.t["bloat_warning_ratio"], env.t["bloat_critical_ratio"])
        if severity is None:
            continue
        index = r["relkind"] == "i"
        evidence = [
            _m("size_bytes", r["size_bytes"], "bytes"),
            _m("bloat_bytes", bloat, "bytes"),
            _m("bloat_ratio", share, "ratio"),
            _m("rows", r["reltuples"], "count"),
        ]
        what = f"index {r['relation']} of {r['table']}" if index else f"table {r['relation']}"
        found.append(
            _finding(
                name,
                severity,
                str(r["relation"]),
                evidence,
                f"The {what} takes {_bytes(float(r['size_bytes']))}, {share:.0%} of it "
                f"({_bytes(bloat)}, {method}) more than its rows need.",
                f"REINDEX INDEX CONCURRENTLY {r['relation']};"
                if index
                else f"VACUUM FULL {r['relation']};",
                "Builds a new copy of the index beside the old one (disk space); "
                + _CONCURRENTLY_RISK
                + ", it waits for running transactions, and a failure leaves an invalid "
                "index to drop."
                if index
                else "Rewrites the table and its indexes under an ACCESS EXCLUSIVE lock: no "
                "reads or writes until it is done, and it needs free disk for a full copy "
                "(pg_repack does the same online).",
                method,
            )
        )
    found.sort(key=lambda f: -(f.measure("bloat_bytes") or 0) if f.evidence else 0)
    found = found[:MAX_OBJECTS]
    if not found:
        return [
            _finding(
                name,
                "ok",
                None,
                [_m("relations_looked_at", len(rows), "count")],
                f"No table or btree index of at least {_bytes(minimum)} is "
                f"{env.t['bloat_warning_ratio']:.0%} bloated ({method}).",
            )
        ]
    return found


# --------------------------------------------------------------------------- wraparound


def _wraparound(env: _Env, multixact: bool) -> CheckSteps:
    name = "multixact_wraparound" if multixact else "xid_wraparound"
    setting = "autovacuum_multixact_freeze_max_age" if multixact else "autovacuum_freeze_max_age"
    freeze_max = env.int(setting)
    warning = env.t["wraparound_warning_ratio"] * HARD_LIMIT
    critical = env.t["wraparound_critical_ratio"] * HARD_LIMIT
    what = "multixact" if multixact else "transaction ID"
    column = "mxid_age" if multixact else "xid_age"
    databases = _rows((yield Query(_q("wraparound_databases"))))
    tables = _rows(
        (
            yield Query(
                _q("mxid_tables" if multixact else "xid_tables"),
                (math.ceil(warning), MAX_OBJECTS),
            )
        )
    )
    found = []
    oldest = 0.0

    def evidence(age: float) -> list[Measure]:
        return [
            _m("age_xids", age, "xids"),
            _m(f"{setting}_xids", freeze_max, "xids"),
            _m("age_to_freeze_max_age_ratio", age / freeze_max if freeze_max else None, "ratio"),
            _m("remaining_xids", HARD_LIMIT - age, "xids"),
        ]

    risk = (
        "Reads and writes every page not yet frozen (heavy I/O, long on big tables); it "
        "does not block reads or writes, but holds a SHARE UPDATE EXCLUSIVE lock (DDL and "
        "other vacuums wait). Long transactions, prepared transactions and stale "
        "replication slots hold the horizon back: fix those first."
    )
    for d in databases:
        age = float(d[column])
        oldest = max(oldest, age)
        severity = _grade(age, warning, critical)
        if severity is None:
            continue
        database = str(d["database"])
        if d["allows_connections"]:
            fix: str | None = (
                f"VACUUM (FREEZE, VERBOSE);  -- connected to database {_ident(database)}"
            )
        else:
            fix = None
        found.append(
            _finding(
                name,
                severity,
                f"database {database}",
                evidence(age),
                f"The oldest {what} of database {database} is {age:,.0f} old, "
                f"{age / HARD_LIMIT:.0%} of the way to wraparound (2^31), where PostgreSQL "
                "stops accepting writes.",
                fix,
                risk
                if fix
                else "The database does not accept connections; autovacuum freezes it on its own.",
            )
        )
    for t in tables:
        age = float(t["age"])
        severity = _grade(age, warning, critical)
        if severity is None:
            continue
        found.append(
            _finding(
                name,
                severity,
                str(t["table"]),
                evidence(age),
                f"Table {t['table']} has a {what} age of {age:,.0f}, "
                f"{age / HARD_LIMIT:.0%} of the way to wraparound.",
                f"VACUUM (FREEZE, VERBOSE) {t['table']};",
                risk,
            )
        )
    if not found:
        return [
            _finding(
                name,
                "ok",
                None,
                [_m("oldest_age_xids", oldest, "xids"), _m(f"{setting}_xids", freeze_max, "xids")],
                f"The oldest {what} age of any database is {oldest:,.0f}, "
                f"{oldest / HARD_LIMIT:.1%} of the way to wraparound.",
            )
        ]
    return found


def _xid(env: _Env) -> CheckSteps:
    return (yield from _wraparound(env, multixact=False))


def _mxid(env: _Env) -> CheckSteps:
    return (yield from _wraparound(env, multixact=True))


# --------------------------------------------------------------------------- sequences

_TYPE_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}


def _sequences(env: _Env) -> CheckSteps:
    name = "sequences"
    rows = _rows((yield Query(_q(name))))
    warning, critical = env.t["sequence_warning_ratio"], env.t["sequence_critical_ratio"]
    found: list[HealthFinding] = []
    unreadable: list[str] = []
    by_sequence: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_sequence.setdefault(str(r["sequence"]), []).append(r)
    worst = 0.0
    for sequence, feeds in by_sequence.items():
        first = feeds[0]
        if not first["readable"]:
            unreadable.append(sequence)
            continue
        if first["seqcycle"] or first["last_value"] is None:
            continue
        last = int(first["last_value"])
        seq_min, seq_max = int(first["seqmin"]), int(first["seqmax"])
        ascending = int(first["seqincrement"]) > 0
        for feed in feeds:
            column_type = feed["column_type"]
            column_max = _TYPE_MAX.get(str(column_type)) if column_type else None
            if ascending:
                limit = min(seq_max, column_max) if column_max is not None else seq_max
                span = limit - seq_min
                used = (last - seq_min) / span if span > 0 else 1.0
            else:
                limit = max(seq_min, -column_max - 1) if column_max is not None else seq_min
                span = seq_max - limit
                used = (seq_max - last) / span if span > 0 else 1.0
            worst = max(worst, used)
            severity = _grade(used, warning, critical)
            if severity is None:
                continue
            found.append(_sequence_finding(name, severity, feed, last, limit, used, ascending))
    if unreadable:
        listed = ", ".join(unreadable[:MAX_OBJECTS])
        found.append(
            _finding(
                name,
                "unknown",
                None,
                [_m("unreadable_sequences", len(unreadable), "count")],
                f"{len(unreadable)} sequence(s) cannot be read by role {env.role} "
                "(pg_monitor does not include sequences): grant SELECT on them to check them.",
                f"GRANT SELECT ON SEQUENCE {listed} TO {_ident(env.role)};",
                "Lets the role read the sequences' current values (not change them).",
                listed,
            )
        )
    if not found:
        return [
            _finding(
                name,
                "ok",
                None,
                [_m("sequences", len(by_sequence), "count"), _m("max_used_ratio", worst, "ratio")],
                f"No sequence (or integer column it feeds) has used {warning:.0%} of its range; "
                f"the fullest has used {worst:.1%}.",
            )
        ]
    return found


def _sequence_finding(
    name: str,
    severity: HealthSeverity,
    feed: Mapping[str, Any],
    last: int,
    limit: int,
    used: float,
    ascending: bool,
) -> HealthFinding:
    sequence = str(feed["sequence"])
    sequence_type = str(feed["sequence_type"])
    column_type = feed["column_type"]
    table, column = feed["table"], feed["column"]
    statements = []
    risks = []
    narrow_column = column_type in ("smallint", "integer")
    if narrow_column and column is not None:
        statements.append(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE bigint;")
        risks.append(
            f"rewrites {table} and rebuilds its indexes under an ACCESS EXCLUSIVE lock (no "
            "reads or writes until done; foreign keys referencing the column must change too)"
        )
    bound = "NO MAXVALUE" if ascending else "NO MINVALUE"
    if not feed["identity"]:
        if sequence_type in ("smallint", "integer"):
            statements.append(f"ALTER SEQUENCE {sequence} AS bigint {bound};")
        elif int(feed["seqmax" if ascending else "seqmin"]) != (
            _TYPE_MAX["bigint"] if ascending else -_TYPE_MAX["bigint"] - 1
        ):
            statements.append(f"ALTER SEQUENCE {sequence} {bound};")
    if statements and not risks:
        risks.append(
            "changes only the sequence (a short lock); the columns it feeds must hold "
            "the larger values"
        )
    where = f" feeding {table}.{column} ({column_type})" if column is not None else ""
    limiter = (
        f"its {column_type} column"
        if narrow_column and column is not None and limit == _bound_of(str(column_type), ascending)
        else f"its {sequence_type} range"
    )
    return _finding(
        name,
        severity,
        sequence if column is None else f"{table}.{column}",
        [
            _m("last_value", last, "count"),
            _m("max_value", limit, "count"),
            _m("used_ratio", used, "ratio"),
        ],
        f"Sequence {sequence}{where} is at {last:,}, {used:.1%} of the way to {limit:,} "
        f"(the limit of {limiter}); inserts fail when it gets there.",
        "\n".join(statements) if statements else None,
        (_sentence("; ".join(risks)))
        if statements
        else "Already bigint at its limit: only a new key design (or CYCLE, if old values "
        "are gone) helps.",
        f"sequence {sequence}",
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _bound_of(type_name: str, ascending: bool) -> int:
    top = _TYPE_MAX[type_name]
    return top if ascending else -top - 1


# --------------------------------------------------------------------------- activity


def _activity(env: _Env) -> Generator[Query, Result, list[dict[str, Any]]]:
    return _rows((yield Query(_q("activity"))))


def _hidden(env: _Env, name: str, rows: Sequence[Mapping[str, Any]]) -> list[HealthFinding]:
    """An ``unknown`` finding when other roles' sessions are hidden from this role."""
    hidden = [r for r in rows if r["backend_type"] is None]
    if env.read_all_stats or not hidden:
        return []
    return [
        _finding(
            name,
            "unknown",
            None,
            [_m("hidden_sessions", len(hidden), "count")],
            f"{len(hidden)} session(s) of other roles are hidden from role {env.role}: grant "
            "pg_read_all_stats (or pg_monitor) to see them.",
            f"GRANT pg_monitor TO {_ident(env.role)};",
            "Lets the role read every session's statistics and query text.",
        )
    ]


def _session(r: Mapping[str, Any]) -> str:
    query = " ".join(str(r["query"] or "").split())
    return f"{r['role']}@{r['database']} ({r['state']}): {query}"


def _long_running(env: _Env) -> CheckSteps:
    name = "long_running_queries"
    rows = yield from _activity(env)
    warning, critical = env.t["long_query_warning_ms"], env.t["long_query_critical_ms"]
    found = _hidden(env, name, rows)
    for r in rows:
        if r["state"] != "active" or r["backend_type"] != "client backend":
            continue
        severity = _grade(r["query_ms"], warning, critical)
        if severity is None:
            continue
        found.append(
            _finding(
                name,
                severity,
                f"pid {r['pid']}",
                [_m("running_ms", r["query_ms"], "ms")],
                f"Session {r['pid']} ({r['role']}) has been running one statement for "
                f"{_duration(float(r['query_ms']))}.",
                f"SELECT pg_cancel_backend({int(r['pid'])});",
                "Cancels the statement: its transaction fails and the client sees an error; "
                f"pg_terminate_backend({int(r['pid'])}) closes the whole session if that is not "
                "enough.",
                _session(r),
            )
        )
    if not found:
        return [
            _finding(
                name,
                "ok",
                None,
                [_m("threshold_ms", warning, "ms")],
                f"No statement has been running longer than {_duration(warning)}.",
            )
        ]
    return found


def _idle_in_transaction(env: _Env) -> CheckSteps:
    name = "idle_in_transaction"
    rows = yield from _activity(env)
    warning = env.t["idle_in_transaction_warning_ms"]
    critical = env.t["idle_in_transaction_critical_ms"]
    found = _hidden(env, name, rows)
    for r in rows:
        if not str(r["state"] or "").startswith("idle in transaction"):
            continue
        severity = _grade(r["state_ms"], warning, critical)
        if severity is None:
            continue
        found.append(
            _finding(
                name,
                severity,
                f"pid {r['pid']}",
                [_m("idle_ms", r["state_ms"], "ms"), _m("transaction_ms", r["xact_ms"], "ms")],
                f"Session {r['pid']} ({r['role']}) has been idle in an open transaction for "
                f"{_duration(float(r['state_ms']))}, holding its locks and keeping vacuum "
                "from removing dead rows.",
                f"SELECT pg_terminate_backend({int(r['pid'])});",
                "Closes the session and rolls back its transaction (the client loses the "
                "connection); idle_in_transaction_session_timeout prevents it for good.",
                _session(r),
            )
        )
    if not found:
        return [
            _finding(
                name,
                "ok",
                None,
                [_m("threshold_ms", warning, "ms")],
                f"No session has been idle in a transaction longer than {_duration(warning)}.",
            )
        ]
    return found


def _roots(pid: int, blockers: Mapping[int, Sequence[int]]) -> tuple[list[int], list[int]]:
    """The chain from ``pid`` to a root blocker (following the first blocker at each
    step) and every root blocker reachable from it (sessions not blocked themselves)."""
    chain = [pid]
    seen = {pid}
    current = pid
    while blockers.get(current):
        nxt = blockers[current][0]
        if nxt in seen:
            break
        chain.append(nxt)
        seen.add(nxt)
        current = nxt
    roots: list[int] = []
    todo = list(blockers.get(pid, ()))
    visited: set[int] = {pid}
    while todo:
        other = todo.pop(0)
        if other in visited:
            continue
        visited.add(other)
        if blockers.get(other):
            todo.extend(blockers[other])
        elif other not in roots:
            roots.append(other)
    return chain, roots


def _blocked(env: _Env) -> CheckSteps:
    name = "blocked_queries"
    rows = yield from _activity(env)
    warning, critical = env.t["blocked_warning_ms"], env.t["blocked_critical_ms"]
    found = _hidden(env, name, rows)
    by_pid = {int(r["pid"]): r for r in rows}
    blockers = {int(r["pid"]): [int(p) for p in (r["blocked_by"] or ())] for r in rows}
    for r in rows:
        pid = int(r["pid"])
        if not blockers.get(pid):
            continue
        waited = r["query_ms"]
        severity = _grade(waited, warning, critical)
        if severity is None:
            continue
        chain, roots = _roots(pid, blockers)
        root_text = []
        for root in roots:
            info = by_pid.get(root)
            root_text.append(
                f"root blocker pid {root}: " + (_session(info) if info else "(not visible)")
            )
        fixes = []
        for root in roots:
            info = by_pid.get(root)
            idle = info is not None and str(info["state"] or "").startswith("idle")
            call = "pg_terminate_backend" if idle or info is None else "pg_cancel_backend"
            fixes.append(f"SELECT {call}({root});")
        found.append(
            _finding(
                name,
                severity,
                f"pid {pid}",
                [
                    _m("waiting_ms", waited, "ms"),
                    _m("blocking_sessions", len(blockers[pid]), "count"),
                    _m("chain_length", len(chain) - 1, "count"),
                ],
                f"Session {pid} has waited {_duration(float(waited or 0))} for a lock; the "
                f"chain {' <- '.join(str(p) for p in chain)} ends at "
                f"{', '.join(str(p) for p in roots) or 'an unknown session'}.",
                "\n".join(fixes) or None,
                "Cancelling the root blocker's statement (pg_cancel_backend) fails its "
                "transaction; terminating it (pg_terminate_backend, needed when it is idle "
                "in a transaction) closes its session and rolls its work back.",
                "\n".join([f"blocked: {_session(r)}", *root_text]),
            )
        )
    if not found:
        return [
            _finding(
                name,
                "ok",
                None,
                [_m("threshold_ms", warning, "ms")],
                f"No statement has waited for another session's lock longer than "
                f"{_duration(warning)}.",
            )
        ]
    return found


def _connections(env: _Env) -> CheckSteps:
    name = "connections"
    rows = yield from _activity(env)
    # sessions hidden from a role without pg_read_all_stats have no backend_type; those
    # with a role name are counted as clients (background processes have none)
    clients = 1 + sum(
        1
        for r in rows
        if r["backend_type"] == "client backend"
        or (r["backend_type"] is None and r["role"] is not None)
    )
    max_connections = env.int("max_connections")
    available = max(1, max_connections - env.int("reserved_connections"))
    used = clients / available
    severity = _grade(used, env.t["connections_warning_ratio"], env.t["connections_critical_ratio"])
    evidence = [
        _m("connections", clients, "count"),
        _m("available_connections", available, "count"),
        _m("used_ratio", used, "ratio"),
    ]
    if severity is None:
        return [
            _finding(
                name,
                "ok",
                None,
                evidence,
                f"{clients} of {available} connections are in use ({used:.0%}).",
            )
        ]
    return [
        _finding(
            name,
            severity,
            None,
            evidence,
            f"{clients} of the {available} connections ordinary roles may open are in use "
            f"({used:.0%}); new clients are refused at 100%.",
            f"ALTER SYSTEM SET max_connections = {max_connections * 2};",
            "Takes effect only after a restart and every connection costs memory "
            "(work_mem per sort); a connection pooler (PgBouncer) in front of the server, or "
            "closing idle sessions, is usually the better fix.",
        )
    ]


# --------------------------------------------------------------------------- vacuum


def _options(reloptions: Sequence[str]) -> dict[str, str]:
    found = {}
    for item in reloptions:
        key, _, value = str(item).partition("=")
        found[key] = value
    return found


def _autovacuum_limit(
    opts: Mapping[str, str],
    tuples: float,
    kind: str,
    default_threshold: float | None,
    default_scale: float | None,
) -> float:
    """Autovacuum's trigger for ``kind`` (``vacuum``, ``analyze``, ``vacuum_insert``):
    threshold + scale_factor * reltuples, the table's reloptions over the settings."""
    threshold = float(opts.get(f"autovacuum_{kind}_threshold", default_threshold or 0))
    scale = float(opts.get(f"autovacuum_{kind}_scale_factor", default_scale or 0))
    return threshold + scale * tuples


def _vacuum(env: _Env) -> CheckSteps:
    name = "vacuum"
    minimum = int(env.t["vacuum_min_rows"])
    factor = env.t["vacuum_factor"]
    rows = _rows((yield Query(_q(name), (minimum, 1000))))
    found = []
    for r in rows:
        opts = _options(r["reloptions"])
        tuples = float(r["reltuples"])

        reasons = []
        dead, mod, ins = r["n_dead_tup"], r["n_mod_since_analyze"], r["n_ins_since_vacuum"]
        vac_limit = _autovacuum_limit(
            opts, tuples, "vacuum", env.float("vacuum_threshold"), env.float("vacuum_scale_factor")
        )
        ana_limit = _autovacuum_limit(
            opts,
            tuples,
            "analyze",
            env.float("analyze_threshold"),
            env.float("analyze_scale_factor"),
        )
        if dead >= minimum and dead > factor * vac_limit:
            reasons.append(
                f"{dead:,} dead rows, {dead / max(vac_limit, 1):.0f} times autovacuum's threshold"
            )
        never_analyzed = not r["analyzed"] and mod >= minimum and mod > factor * ana_limit
        if never_analyzed:
            reasons.append(f"never analyzed with {mod:,} rows changed")
        if (
            not r["vacuumed"]
            and ins is not None
            and env.float("insert_threshold") is not None
            and ins >= minimum
            and ins
            > factor
            * _autovacuum_limit(
                opts,
                tuples,
                "vacuum_insert",
                env.float("insert_threshold"),
                env.float("insert_scale_factor"),
            )
        ):
            reasons.append(f"never vacuumed with {ins:,} rows inserted")
        if not reasons:
            continue
        off = opts.get("autovacuum_enabled", "true").lower() in ("false", "off", "0", "no")
        only_analyze = never_analyzed and len(reasons) == 1
        fix = (
            f"ANALYZE {r['table']};" if only_analyze else f"VACUUM (ANALYZE, VERBOSE) {r['table']};"
        )
        found.append(
            _finding(
                name,
                "warning",
                str(r["table"]),
                [
                    _m("dead_rows", dead, "count"),
                    _m("autovacuum_threshold_rows", vac_limit, "count"),
                    _m("rows_changed_since_analyze", mod, "count"),
                    _m("rows_inserted_since_vacuum", ins, "count"),
                    _m("live_rows", r["n_live_tup"], "count"),
                ],
                f"Table {r['table']}: {'; '.join(reasons)}"
                + (" (autovacuum is disabled for it)." if off else "."),
                fix,
                "Reads the whole table (I/O); it does not block reads or writes but holds a "
                "SHARE UPDATE EXCLUSIVE lock (DDL and other vacuums wait). "
                + (
                    "Autovacuum is off for this table (ALTER TABLE ... RESET "
                    "(autovacuum_enabled) turns it back on): the rows come back otherwise."
                    if off
                    else "Long transactions or stale slots can keep vacuum from removing "
                    "dead rows; if they recur, lower autovacuum_vacuum_scale_factor for it."
                ),
                "autovacuum_enabled = false" if off else None,
            )
        )
        if len(found) >= MAX_OBJECTS:
            break
    if not found:
        return [
            _finding(
                name,
                "ok",
                None,
                [_m("tables_looked_at", len(rows), "count")],
                f"No table has dead rows (or unanalyzed changes) {factor:g} times above "
                "autovacuum's threshold.",
            )
        ]
    return found


# --------------------------------------------------------------------------- replication


def _replication_slots(env: _Env) -> CheckSteps:
    name = "replication_slots"
    rows = _rows((yield Query(_q(name))))
    warning = env.t["slot_retained_warning_bytes"]
    critical = env.t["slot_retained_critical_bytes"]
    found = []
    for r in rows:
        lost = r["wal_status"] == "lost"
        if r["active"] and not lost:
            continue
        retained = r["retained_bytes"]
        severity: HealthSeverity | None = (
            "critical"
            if lost
            else _grade(retained if retained is not None else 0, warning, critical)
        )
        if severity is None or (retained is None and not lost):
            continue
        slot = str(r["slot"])
        where = (
            f"  -- connected to database {_ident(str(r['database']))}"
            if r["slot_type"] == "logical" and r["database"]
            else ""
        )
        found.append(
            _finding(
                name,
                severity,
                slot,
                [_m("retained_bytes", retained, "bytes")],
                f"The {r['slot_type']} replication slot {slot} is "
                + (
                    "lost (its WAL is gone)."
                    if lost
                    else f"inactive and keeps {_bytes(float(retained or 0))} of WAL from removal"
                    " (and, for a logical slot, vacuum from removing dead catalog rows)."
                ),
                f"SELECT pg_drop_replication_slot({_lit(slot)});{where}",
                "The replica or consumer using the slot can no longer resume from it: a "
                "standby needs a new base backup, a logical consumer a new snapshot.",
            )
        )
    if not found:
        return [
            _finding(
                name,
                "ok",
                None,
                [_m("slots", len(rows), "count")],
                f"{len(rows)} replication slot(s), none inactive with WAL retained.",
            )
        ]
    return found


def _replica_lag(env: _Env) -> CheckSteps:
    name = "replica_lag"
    replicas = _rows((yield Query(_q("replicas"))))
    standby = _rows((yield Query(_q("standby_lag"))))[0]
    warning, critical = env.t["replica_lag_warning_ms"], env.t["replica_lag_critical_ms"]
    found = []
    if replicas and not env.read_all_stats:
        found.append(
            _finding(
                name,
                "unknown",
                None,
                [_m("replicas", len(replicas), "count")],
                f"Role {env.role} cannot see the replicas' positions: grant "
                "pg_read_all_stats (or pg_monitor).",
                f"GRANT pg_monitor TO {_ident(env.role)};",
                "Lets the role read every session's statistics and query text.",
            )
        )
    for r in replicas:
        severity = _grade(r["replay_lag_ms"], warning, critical)
        if severity is None:
            continue
        found.append(
            _finding(
                name,
                severity,
                str(r["replica"]),
                [
                    _m("replay_lag_ms", r["replay_lag_ms"], "ms"),
                    _m("lag_bytes", r["lag_bytes"], "bytes"),
                ],
                f"Standby {r['replica']} replays {_duration(float(r['replay_lag_ms']))} behind "
                "this server: reads there are stale, and a failover to it would lose or wait "
                "for that much.",
                None,
                "Look at the standby: its disk and network, and queries there that conflict "
                "with replay (max_standby_streaming_delay).",
            )
        )
    delay, backlog = standby["replay_delay_ms"], standby["replay_backlog_bytes"]
    if delay is not None and backlog:
        severity = _grade(delay, warning, critical)
        if severity is not None:
            found.append(
                _finding(
                    name,
                    severity,
                    "this standby",
                    [
                        _m("replay_delay_ms", delay, "ms"),
                        _m("replay_backlog_bytes", backlog, "bytes"),
                    ],
                    f"This standby has {_bytes(float(backlog))} of WAL received but not replayed, "
                    f"its last replayed transaction {_duration(float(delay))} ago.",
                    None,
                    "Queries on this standby conflicting with replay hold it back "
                    "(max_standby_streaming_delay, hot_standby_feedback).",
                )
            )
    if not found:
        where = (
            f"{len(replicas)} standby(s) stream from this server"
            if replicas
            else "No standby streams from this server"
        )
        return [
            _finding(
                name,
                "ok",
                None,
                [_m("replicas", len(replicas), "count")],
                f"{where}; none lags {_duration(warning)} or more.",
            )
        ]
    return found


def _prepared(env: _Env) -> CheckSteps:
    name = "prepared_transactions"
    rows = _rows((yield Query(_q(name))))
    warning = env.t["prepared_transaction_warning_ms"]
    critical = env.t["prepared_transaction_critical_ms"]
    found = []
    for r in rows:
        severity = _grade(r["age_ms"], warning, critical)
        if severity is None:
            continue
        gid, database = str(r["gid"]), str(r["database"])
        where = "" if database == env.database else f"  -- connected to database {_ident(database)}"
        found.append(
            _finding(
                name,
                severity,
                gid,
                [_m("age_ms", r["age_ms"], "ms"), _m("xid_age", r["xid_age"], "xids")],
                f"Transaction {gid!r} of {r['owner']} in database {database} was prepared "
                f"{_duration(float(r['age_ms']))} ago and never committed or rolled back: it "
                "holds its locks and keeps vacuum from removing dead rows.",
                f"ROLLBACK PREPARED {_lit(gid)};{where}",
                "Discards the transaction's work; if its transaction manager still means to "
                f"commit it, COMMIT PREPARED {_lit(gid)} is the other choice.",
            )
        )
    if not found:
        return [
            _finding(
                name,
                "ok",
                None,
                [_m("prepared_transactions", len(rows), "count")],
                f"No prepared transaction is older than {_duration(warning)}.",
            )
        ]
    return found


# --------------------------------------------------------------------------- statistics


def _pg_stat_statements(env: _Env) -> CheckSteps:
    name = "pg_stat_statements"
    ctx = env.ctx
    if ctx.pgss_version is None or ctx.pgss_schema is None:
        loaded = ctx.pgss_loaded is not False
        return [
            _finding(
                name,
                "unknown",
                None,
                [],
                "pg_stat_statements is not created in this database"
                + ("" if loaded else " and not loaded")
                + ": nothing to check.",
                "CREATE EXTENSION pg_stat_statements;"
                if loaded
                else "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';",
                None
                if loaded
                else "Takes effect after a restart; keep the libraries already listed.",
            )
        ]
    schema = _ident(ctx.pgss_schema)
    row = _rows((yield Query(_sql.render(_q(name), schema=schema))))[0]
    dealloc = None
    if ctx.pgss_version >= (1, 9):
        info = _rows((yield Query(_sql.render(_q("pg_stat_statements_info"), schema=schema))))
        dealloc = int(info[0]["dealloc"]) if info else None
    entries = int(row["entries"])
    maximum = int(env.row["pgss_max"]) if env.row["pgss_max"] else None
    fill = entries / maximum if maximum else None
    text_bytes: int | None = None
    if row["may_stat_file"]:
        text_bytes = _rows((yield Query(_q("pgss_text_file"))))[0]["text_file_bytes"]
    evidence = [
        _m("entries", entries, "count"),
        _m("max_entries", maximum, "count"),
        _m("fill_ratio", fill, "ratio"),
        _m("deallocations", dealloc, "count"),
        _m("text_file_bytes", text_bytes, "bytes"),
    ]
    problems = []
    if fill is not None and fill >= env.t["pgss_fill_warning_ratio"]:
        problems.append(f"{entries:,} of {maximum:,} entries are used ({fill:.0%})")
    if dealloc is not None and dealloc >= env.t["pgss_dealloc_warning"]:
        problems.append(f"{dealloc:,} deallocations evicted entries since the last reset")
    text_big = text_bytes is not None and text_bytes >= env.t["pgss_text_file_warning_bytes"]
    if text_big:
        problems.append(f"the query-text file takes {_bytes(float(text_bytes or 0))}")
    if not problems:
        return [
            _finding(
                name,
                "ok",
                None,
                evidence,
                f"{entries:,} of {maximum or 0:,} entries used; "
                f"{dealloc if dealloc is not None else 'no'} deallocations reported.",
            )
        ]
    sizing = len(problems) > 1 or not text_big
    return [
        _finding(
            name,
            "warning",
            None,
            evidence,
            "pg_stat_statements: " + "; ".join(problems) + ".",
            f"ALTER SYSTEM SET pg_stat_statements.max = {max(2 * (maximum or 5000), 10000)};"
            if sizing
            else "SELECT pg_stat_statements_reset();",
            "Takes effect after a restart; each entry costs a little shared memory."
            if sizing
            else "Discards every statistic collected so far (pgstatkit never runs it for you).",
        )
    ]


_SIZE = re.compile(r"^(\d+)\s*(kB|MB|GB|TB)?$")
_SIZE_UNITS = {None: 8192, "kB": _KIB, "MB": _MIB, "GB": _GIB, "TB": 1024 * _GIB}


def _doubled(setting: str) -> str:
    match = _SIZE.match(setting.strip())
    if not match:
        return setting
    size = int(match.group(1)) * _SIZE_UNITS[match.group(2)] * 2
    for unit in ("TB", "GB", "MB", "kB"):
        if size % _SIZE_UNITS[unit] == 0:
            return f"{size // _SIZE_UNITS[unit]}{unit}"
    return f"{size // _KIB}kB"  # pragma: no cover


TREND_HOURS = 24
"""The cache hit ratio's recent window, when pgstatkit's history has snapshots."""


def _cache_trend(
    env: _Env, hit: int, read: int
) -> Generator[Query, Result, tuple[float | None, float | None]]:
    """(the ratio over the last :data:`TREND_HOURS` hours, that window in seconds) from
    pgstatkit's history store in this database; (None, None) without one, without a
    snapshot in the window, after a statistics reset, or when several targets recorded
    this database (the store cannot tell which one is this server)."""
    store = _rows((yield Query(_q("cache_history"))))
    if not store or not store[0]["readable"]:
        return None, None
    sql = _sql.render(_q("cache_trend"), schema=_ident(str(store[0]["schema"])))
    rows = _rows((yield Query(sql, (TREND_HOURS,))))
    if len(rows) != 1 or rows[0]["blks_hit"] is None or rows[0]["blks_read"] is None:
        return None, None
    d_hit = hit - int(rows[0]["blks_hit"])
    d_read = read - int(rows[0]["blks_read"])
    if d_hit < 0 or d_read < 0 or d_hit + d_read == 0:
        return None, None
    return d_hit / (d_hit + d_read), float(rows[0]["age_s"])


def _cache_hit(env: _Env) -> CheckSteps:
    name = "cache_hit_ratio"
    row = _rows((yield Query(_q("cache_hit"))))[0]
    hit, read = int(row["blks_hit"] or 0), int(row["blks_read"] or 0)
    total = hit + read
    ratio = hit / total if total else None
    recent, window_s = yield from _cache_trend(env, hit, read)
    evidence = [
        _m("cache_hit_ratio", ratio, "ratio"),
        _m("recent_cache_hit_ratio", recent, "ratio"),
        _m("recent_window_s", window_s, "s"),
        _m("blocks_hit", hit, "count"),
        _m("blocks_read", read, "count"),
    ]
    # the trend, where pgstatkit's history has it, judges: the recent hours rather than
    # everything since the statistics were reset
    judged_ratio = recent if recent is not None else ratio
    since = (
        f"in the last {_duration((window_s or 0) * 1000)} (pgstatkit's history; "
        f"{ratio:.2%} since the statistics were reset)"
        if recent is not None and ratio is not None
        else "since the statistics were reset"
    )
    minimum = env.t["cache_min_blocks"]
    warning, critical = env.t["cache_hit_warning_ratio"], env.t["cache_hit_critical_ratio"]
    if judged_ratio is None or total < minimum or judged_ratio >= warning:
        judged = (
            f"{judged_ratio:.2%} of block reads were cache hits {since}"
            if judged_ratio is not None
            else "No blocks were read"
        )
        extra = " (too few to judge)" if judged_ratio is not None and total < minimum else ""
        return [
            _finding(name, "ok", None, evidence, f"{judged}{extra} in database {env.database}.")
        ]
    severity: HealthSeverity = "critical" if judged_ratio < critical else "warning"
    shared = str(env.row["shared_buffers"])
    return [
        _finding(
            name,
            severity,
            f"database {env.database}",
            evidence,
            f"Only {judged_ratio:.2%} of database {env.database}'s block reads were served "
            f"from shared_buffers ({shared}) {since}; the rest went to the operating "
            "system or the disk.",
            f"ALTER SYSTEM SET shared_buffers = {_lit(_doubled(shared))};",
            "Takes effect after a restart and takes memory from the OS page cache (more than "
            "about 40% of RAM rarely helps, PostgreSQL docs); a working set larger than RAM, "
            "or a few queries reading a lot (queries_with_low_cache_hit), are the other "
            "causes.",
        )
    ]


# --------------------------------------------------------------------------- the checks

_PG_MONITOR = "pg_monitor (or pg_read_all_stats)"

CHECKS: dict[str, Check] = {
    c.name: c
    for c in (
        Check(
            "unused_indexes",
            "indexes never scanned since the statistics were reset",
            _unused_indexes,
            ("unused_index_min_bytes", "unused_index_min_stats_age_days"),
            "none",
        ),
        Check(
            "duplicate_indexes",
            "btree indexes identical to, or a prefix of, another",
            _duplicate_indexes,
            (),
            "none",
        ),
        Check("invalid_indexes", "indexes left invalid", _invalid_indexes, (), "none"),
        Check(
            "foreign_keys_without_index",
            "foreign keys with no index on the referencing columns",
            _foreign_keys,
            (),
            "none",
        ),
        Check(
            "bloat",
            "estimated table and btree index bloat",
            _bloat,
            ("bloat_min_bytes", "bloat_warning_ratio", "bloat_critical_ratio"),
            "SELECT on the tables (pg_stats shows only readable columns)",
        ),
        Check(
            "xid_wraparound",
            "transaction ID age per database and table",
            _xid,
            ("wraparound_warning_ratio", "wraparound_critical_ratio"),
            "none",
        ),
        Check(
            "multixact_wraparound",
            "multixact ID age per database and table",
            _mxid,
            ("wraparound_warning_ratio", "wraparound_critical_ratio"),
            "none",
        ),
        Check(
            "sequences",
            "sequences and the integer columns they feed near their maximum",
            _sequences,
            ("sequence_warning_ratio", "sequence_critical_ratio"),
            "SELECT on the sequences",
        ),
        Check(
            "long_running_queries",
            "statements running for long",
            _long_running,
            ("long_query_warning_ms", "long_query_critical_ms"),
            _PG_MONITOR,
        ),
        Check(
            "idle_in_transaction",
            "sessions idle in an open transaction",
            _idle_in_transaction,
            ("idle_in_transaction_warning_ms", "idle_in_transaction_critical_ms"),
            _PG_MONITOR,
        ),
        Check(
            "blocked_queries",
            "statements waiting for another session's lock, with the blocking chain",
            _blocked,
            ("blocked_warning_ms", "blocked_critical_ms"),
            _PG_MONITOR,
        ),
        Check(
            "connections",
            "connections against max_connections",
            _connections,
            ("connections_warning_ratio", "connections_critical_ratio"),
            "none",
        ),
        Check(
            "vacuum",
            "dead rows far above autovacuum's threshold; tables never vacuumed or analyzed",
            _vacuum,
            ("vacuum_min_rows", "vacuum_factor"),
            "none",
        ),
        Check(
            "replication_slots",
            "inactive replication slots retaining WAL",
            _replication_slots,
            ("slot_retained_warning_bytes", "slot_retained_critical_bytes"),
            "none",
        ),
        Check(
            "replica_lag",
            "standby replay lag",
            _replica_lag,
            ("replica_lag_warning_ms", "replica_lag_critical_ms"),
            _PG_MONITOR,
        ),
        Check(
            "prepared_transactions",
            "orphaned prepared transactions",
            _prepared,
            ("prepared_transaction_warning_ms", "prepared_transaction_critical_ms"),
            "none",
        ),
        Check(
            "pg_stat_statements",
            "pg_stat_statements entries, deallocations and query-text file",
            _pg_stat_statements,
            ("pgss_fill_warning_ratio", "pgss_dealloc_warning", "pgss_text_file_warning_bytes"),
            "EXECUTE on pg_stat_file(text, boolean) for the text file size",
        ),
        Check(
            "cache_hit_ratio",
            "the database's buffer cache hit ratio",
            _cache_hit,
            ("cache_hit_warning_ratio", "cache_hit_critical_ratio", "cache_min_blocks"),
            "none",
        ),
    )
}
"""Every check, by name, in the order they run and are reported."""


# --------------------------------------------------------------------------- validation


def check_names(checks: object) -> tuple[str, ...]:
    """The checks to run, in :data:`CHECKS` order (``None``: all of them).

    Raises:
        InvalidArgumentError: not a string or a collection of strings, empty, or a name
            that is not a check (the message lists them).
    """
    if checks is None:
        return tuple(CHECKS)
    names = [checks] if isinstance(checks, str) else checks
    if not isinstance(names, Collection) or isinstance(names, Mapping | bytes):
        raise InvalidArgumentError(
            f"checks must be a list of check names or None, got {type(checks).__name__}"
        )
    wanted = list(names)
    unknown = [n for n in wanted if not isinstance(n, str) or n not in CHECKS]
    if unknown or not wanted:
        what = f"unknown check(s) {', '.join(repr(n) for n in unknown)}" if unknown else "no check"
        raise InvalidArgumentError(
            f"checks: {what}; the checks are {', '.join(CHECKS)} (or None for all)"
        )
    return tuple(n for n in CHECKS if n in wanted)


def _threshold_value(threshold: Threshold, value: object) -> float:
    name = threshold.name
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidArgumentError(
            f"thresholds[{name!r}] must be a number ({threshold.unit}), got "
            f"{type(value).__name__} {value!r}"
        )
    number = float(value)
    if threshold.unit == "ratio":
        return _validate.ratio(value, f"thresholds[{name!r}]")
    if not math.isfinite(number) or number < 0:
        raise InvalidArgumentError(
            f"thresholds[{name!r}] must be a finite number >= 0 ({threshold.unit}), got {value!r}"
        )
    if threshold.unit == "factor" and number < 1:
        raise InvalidArgumentError(f"thresholds[{name!r}] must be at least 1, got {value!r}")
    if threshold.unit == "ms" and number > _MAX_MS:
        raise InvalidArgumentError(
            f"thresholds[{name!r}] must be at most {_MAX_MS:.0f} ms (ten years), got {value!r}"
        )
    return number


def threshold_values(values: object) -> dict[str, float]:
    """Every threshold: the defaults, overridden by ``values`` (a mapping by name).

    Raises:
        InvalidArgumentError: not a mapping, an unknown name (the message lists them), a
            value of the wrong type or range, or a warning threshold beyond its critical one.
    """
    merged = {name: float(t.default) for name, t in THRESHOLDS.items()}
    if values is None:
        return merged
    if not isinstance(values, Mapping):
        raise InvalidArgumentError(
            f"thresholds must be a dict of threshold name to number, got {type(values).__name__}"
        )
    unknown = [k for k in values if k not in THRESHOLDS]
    if unknown:
        raise InvalidArgumentError(
            f"thresholds: unknown name(s) {', '.join(repr(k) for k in unknown)}; the "
            f"thresholds are {', '.join(THRESHOLDS)}"
        )
    for name, value in values.items():
        merged[name] = _threshold_value(THRESHOLDS[name], value)
    for warning, critical in _PAIRS:
        lower = warning in _LOWER_IS_WORSE
        if (merged[warning] < merged[critical]) if lower else (merged[warning] > merged[critical]):
            relation = "at least" if lower else "at most"
            raise InvalidArgumentError(
                f"thresholds: {warning} ({merged[warning]:g}) must be {relation} {critical} "
                f"({merged[critical]:g})"
            )
    return merged


# --------------------------------------------------------------------------- the operation

_UNKNOWN_WHEN = {
    "42501": "the role lacks a privilege",
    "57014": "it ran past the statement timeout",
    "55P03": "it waited too long for a lock",
    "55000": "the server is not set up for it (a library not loaded)",
    "42883": "the server lacks a function it needs",
    "42P01": "the server lacks a table or view it needs",
    "3F000": "the server lacks a schema it needs",
    "0A000": "the server does not support it",
}
"""SQLSTATEs that make a check ``unknown`` instead of failing the call."""


def _failed(check: Check, exc: ServerError, env: _Env) -> HealthFinding:
    sqlstate = exc.sqlstate or ""
    why = _UNKNOWN_WHEN[sqlstate]
    fix = None
    if sqlstate == "42501":
        explanation = f"The check could not run: {why} (role {env.role}); it needs {check.grant}."
        if check.grant.startswith("pg_monitor"):
            fix = f"GRANT pg_monitor TO {_ident(env.role)};"
    elif sqlstate in ("57014", "55P03"):
        explanation = f"The check could not finish: {why} ({env.timeout_ms} ms); raise timeout_ms."
    else:
        explanation = f"The check could not run: {why}."
    return _finding(
        check.name,
        "unknown",
        None,
        [],
        explanation,
        fix,
        None,
        f"SQLSTATE {sqlstate}: {exc.message}",
    )


def health(
    *,
    checks: object = None,
    thresholds: object = None,
    pgstattuple: object = False,
    timeout_ms: object = None,
) -> Operation[HealthReport]:
    """The health checks ``checks`` (default all) with ``thresholds`` over the defaults;
    ``pgstattuple``: the bloat check measures with the extension instead of estimating."""
    names = check_names(checks)
    exact = _validate.flag(pgstattuple, "pgstattuple")
    limits = threshold_values(thresholds)
    timeout = _validate.timeout_ms(timeout_ms)

    def steps(ctx: Context) -> Steps[HealthReport]:
        env_rows = _rows((yield Query(_q("environment"))))
        env = _Env(ctx, env_rows[0], limits, timeout, exact)
        findings: list[HealthFinding] = []
        for name in names:
            check = CHECKS[name]
            yield Query(f"SAVEPOINT {_SAVEPOINT}")
            try:
                found = yield from check.run(env)
            except ServerError as exc:
                if exc.connection_lost or exc.sqlstate not in _UNKNOWN_WHEN:
                    raise
                yield Query(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
                found = [_failed(check, exc, env)]
            yield Query(f"RELEASE SAVEPOINT {_SAVEPOINT}")
            findings.extend(found)
        return HealthReport(names, tuple(findings))

    return Operation("health", steps, timeout, lock_timeout_ms=min(timeout, LOCK_TIMEOUT_MS))

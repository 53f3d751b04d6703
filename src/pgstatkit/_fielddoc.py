# ruff: noqa: E501 - the meanings are table cells, one line each
"""What each field of the result models means: one source for two readers.

``docs/models.md`` shows each model's fields as a table that ``tools/gen_model_docs.py``
writes from here (a unit test runs it with ``--check``), and the admin API's OpenAPI
document gives each field the same text as its description (``pgstatkit.http._schema``).

For every model, :func:`describe` records what its versions count in (the
``pg_stat_statements`` extension version, the PostgreSQL version, or nothing when every
version has every field) and, for each field in order, its unit and meaning (Markdown;
``None`` is written as Python says it, the OpenAPI text says ``null``) and the first
version that has it. A model of a new subsystem calls :func:`describe` in its own module;
``tests/unit/test_field_docs.py`` fails for a result model without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pgstatkit.models import (
    DatabaseStatistics,
    HealthFinding,
    HealthReport,
    HelpedStatement,
    IndexSuggestion,
    IndexUsage,
    Measure,
    QueryPlan,
    QueryStat,
    SetupFinding,
    SetupReport,
    StatementCounters,
    StatementTotals,
    TableStatistics,
)

__all__ = ["MODELS", "PG_OF_PGSS", "F", "FieldDoc", "ModelDoc", "describe"]

Basis = Literal["pg_stat_statements", "PostgreSQL"]

PG_OF_PGSS = {"1.8": 13, "1.9": 14, "1.10": 15, "1.11": 17, "1.12": 18}
"""The PostgreSQL major that ships each ``pg_stat_statements`` version."""

OLDEST_PG = 13
NEWEST_PG = 18


@dataclass(frozen=True, slots=True)
class FieldDoc:
    """One field: its unit and meaning, the first version that has it (``None``: every
    supported version), and whether it is a 64-bit identifier (a string in JSON, where
    numbers above 2**53 lose precision)."""

    meaning: str
    since: str | None = None
    id64: bool = False


F = FieldDoc


@dataclass(frozen=True, slots=True)
class ModelDoc:
    """The documentation of one model's fields."""

    model: type[Any]
    basis: Basis | None
    fields: Mapping[str, FieldDoc]

    def exists(self, name: str) -> str:
        """The "exists" cell of a docs table: ``all``, ``1.11+ (PG 17)`` or ``PG 14+``."""
        since = self.fields[name].since
        if since is None:
            return "all"
        if self.basis == "pg_stat_statements":
            return f"{since}+ (PG {PG_OF_PGSS[since]})"
        return f"PG {since}+"

    def versions(self, name: str) -> str:
        """The versions that have the field, as a sentence for the OpenAPI description."""
        since = self.fields[name].since
        if since is None:
            return f"Every supported version (PostgreSQL {OLDEST_PG} to {NEWEST_PG})."
        if self.basis == "pg_stat_statements":
            pg = PG_OF_PGSS[since]
            return f"pg_stat_statements {since}+ (PostgreSQL {pg}+); `None` on older versions."
        return f"PostgreSQL {since}+; `None` on older versions."


MODELS: dict[type[Any], ModelDoc] = {}
"""Every described model, by class."""


def describe(
    model: type[Any], basis: Basis | None, fields: Mapping[str, str | FieldDoc]
) -> ModelDoc:
    """Record the documentation of ``model``'s fields (every field, in order).

    Raises:
        ValueError: a field missing, unknown or out of order; a ``since`` with no
            ``basis``, or one that is not a known version.
    """
    names = [f.name for f in dataclasses.fields(model)]
    if list(fields) != names:
        raise ValueError(
            f"describe({model.__name__}): fields {list(fields)} are not the model's {names}"
        )
    docs = {name: F(value) if isinstance(value, str) else value for name, value in fields.items()}
    for name, doc in docs.items():
        if doc.since is None:
            continue
        known = PG_OF_PGSS if basis == "pg_stat_statements" else {str(v): v for v in range(10, 30)}
        if basis is None or doc.since not in known:
            raise ValueError(f"{model.__name__}.{name}: since={doc.since!r} with basis {basis!r}")
    found = ModelDoc(model, basis, docs)
    MODELS[model] = found
    return found


describe(
    QueryStat,
    "pg_stat_statements",
    {
        "userid": "OID of the role that ran it (`pg_stat_statements.userid`); set also where `queryid` is hidden, and tells apart the entries of roles dropped since (`username` `None`)",
        "dbid": "OID of the database (`pg_stat_statements.dbid`)",
        "queryid": F(
            "the statement's hash id (a signed 64-bit integer); `None` for another user's statement the role may not read ([privileges](privileges.md))",
            id64=True,
        ),
        "query": "normalized text; `None` as for `queryid`",
        "toplevel": F("executed at top level (false: inside a function)", since="1.9"),
        "calls": "times executed",
        "rows": "rows retrieved or affected, summed",
        "total_exec_time_ms": "ms, execution time summed over calls",
        "mean_exec_time_ms": "ms per call",
        "min_exec_time_ms": "ms, fastest call",
        "max_exec_time_ms": "ms, slowest call",
        "stddev_exec_time_ms": "ms, population standard deviation",
        "plans": "times planned (0 without `track_planning`)",
        "total_plan_time_ms": "ms, planning time summed",
        "mean_plan_time_ms": "ms per planning",
        "min_plan_time_ms": "ms, fastest planning",
        "max_plan_time_ms": "ms, slowest planning",
        "stddev_plan_time_ms": "ms, population standard deviation of planning",
        "shared_blks_hit": "blocks found in shared buffers",
        "shared_blks_read": "blocks read into shared buffers (from the OS, possibly its page cache)",
        "shared_blks_dirtied": "blocks dirtied",
        "shared_blks_written": "blocks written by the backend",
        "local_blks_hit": "temporary-table blocks hit",
        "local_blks_read": "temporary-table blocks read",
        "local_blks_dirtied": "temporary-table blocks dirtied",
        "local_blks_written": "temporary-table blocks written",
        "temp_blks_read": "temporary-file blocks read (sorts, hashes)",
        "temp_blks_written": "temporary-file blocks written",
        "shared_blk_read_time_ms": "ms reading blocks; before 1.11 the view's `blk_read_time`, which **also includes local blocks**",
        "shared_blk_write_time_ms": "ms writing blocks; before 1.11 `blk_write_time`, also including local blocks",
        "local_blk_read_time_ms": F("ms reading local blocks", since="1.11"),
        "local_blk_write_time_ms": F("ms writing local blocks", since="1.11"),
        "temp_blk_read_time_ms": F("ms reading temporary files", since="1.10"),
        "temp_blk_write_time_ms": F("ms writing temporary files", since="1.10"),
        "wal_records": "WAL records generated",
        "wal_fpi": "WAL full-page images",
        "wal_bytes": "bytes of WAL",
        "wal_buffers_full": F("times the WAL buffers were full", since="1.12"),
        "jit_functions": F("functions JIT-compiled", since="1.10"),
        "jit_generation_time_ms": F("ms generating JIT code", since="1.10"),
        "jit_inlining_count": F("times functions were inlined", since="1.10"),
        "jit_inlining_time_ms": F("ms inlining", since="1.10"),
        "jit_optimization_count": F("times the query was optimized", since="1.10"),
        "jit_optimization_time_ms": F("ms optimizing", since="1.10"),
        "jit_emission_count": F("times code was emitted", since="1.10"),
        "jit_emission_time_ms": F("ms emitting code", since="1.10"),
        "jit_deform_count": F("tuple-deform functions JIT-compiled", since="1.11"),
        "jit_deform_time_ms": F("ms JIT-compiling tuple deforming", since="1.11"),
        "parallel_workers_to_launch": F("parallel workers planned", since="1.12"),
        "parallel_workers_launched": F("parallel workers actually launched", since="1.12"),
        "stats_since": F("when this entry started collecting", since="1.11"),
        "minmax_stats_since": F("when the min/max fields were last reset", since="1.11"),
        "database": "database name; `None` if the database was dropped since",
        "username": "role name; `None` if the role was dropped since",
        "cache_hit_ratio": "0..1: `shared_blks_hit / (shared_blks_hit + shared_blks_read)`; `None` when no shared block was touched",
        "percent_of_total_time": "**0..100**, a percentage: this entry's `total_exec_time_ms` over the total execution time of **every** entry in scope (the current database, or every database with `all_databases=True`; top-level and nested; without pgstatkit's own statements unless included), not only the rows returned; `None` when that total is 0",
    },
)

describe(
    StatementTotals,
    None,
    {
        "queryid": F("the statement's hash id (a signed 64-bit integer)", id64=True),
        "database": "database name",
        "username": "role name; `None` for roles dropped since (their entries are summed)",
        "calls": "count, summed",
        "rows": "count, summed",
        "total_exec_time_ms": "ms, summed",
        "total_plan_time_ms": "ms, summed",
        "shared_blks_hit": "blocks, summed",
        "shared_blks_read": "blocks, summed",
        "temp_blks_written": "blocks, summed",
        "query": "one of the entries' texts, only when texts were asked for",
    },
)

describe(
    StatementCounters,
    "pg_stat_statements",
    {
        "queryid": F("the statement's hash id (a signed 64-bit integer)", id64=True),
        "toplevel": F(
            "whether run directly by a client (`False`: inside a function, with `pg_stat_statements.track = all`)",
            since="1.9",
        ),
        "calls": "count: executions, summed over roles (in the plugin: during the test)",
        "rows": "count: rows returned or affected",
        "shared_blks_hit": "blocks found in shared buffers",
        "shared_blks_read": "blocks read into shared buffers (from the OS)",
        "total_exec_time_ms": "ms of execution",
        "total_plan_time_ms": "ms of planning (0 unless `pg_stat_statements.track_planning` is on)",
        "query": "the statement's text (the first one `pg_stat_statements` kept for the queryid); `None` when not looked up or no longer there",
    },
)

describe(
    DatabaseStatistics,
    "PostgreSQL",
    {
        "database": "database name",
        "size_bytes": "bytes on disk (`pg_database_size`)",
        "backends": "sessions connected now",
        "commits": "transactions committed",
        "rollbacks": "transactions rolled back (pgstatkit's own calls on an idle connection end in a rollback and count here)",
        "blks_read": "blocks read into shared buffers",
        "blks_hit": "blocks found in shared buffers",
        "cache_hit_ratio": "0..1: `blks_hit / (blks_hit + blks_read)`; `None` before any block access",
        "tup_returned": "rows returned by sequential scans and index entries read",
        "tup_fetched": "rows fetched by index scans",
        "tup_inserted": "rows inserted",
        "tup_updated": "rows updated",
        "tup_deleted": "rows deleted",
        "conflicts": "queries cancelled by recovery conflicts (standbys)",
        "temp_files": "temporary files created",
        "temp_bytes": "bytes written to temporary files",
        "deadlocks": "deadlocks detected",
        "checksum_failures": "data page checksum failures; `None` when data checksums are off",
        "blk_read_time_ms": "ms reading blocks (0 without `track_io_timing`)",
        "blk_write_time_ms": "ms writing blocks (0 without `track_io_timing`)",
        "session_time_ms": F("ms spent by sessions", since="14"),
        "active_time_ms": F("ms executing statements", since="14"),
        "idle_in_transaction_time_ms": F("ms idle inside a transaction", since="14"),
        "sessions": F("sessions established", since="14"),
        "sessions_abandoned": F("sessions ended because the client went away", since="14"),
        "sessions_fatal": F("sessions ended by fatal errors", since="14"),
        "sessions_killed": F("sessions terminated by an operator", since="14"),
        "parallel_workers_to_launch": F("parallel workers planned", since="18"),
        "parallel_workers_launched": F("parallel workers launched", since="18"),
        "stats_reset": "when these counters were last reset; `None` if never",
    },
)

describe(
    TableStatistics,
    "PostgreSQL",
    {
        "schema": "schema name",
        "table": "table name",
        "seq_scan": "sequential scans",
        "seq_tup_read": "rows read by sequential scans",
        "idx_scan": "index scans; `None` for a table without indexes",
        "idx_tup_fetch": "rows fetched by index scans; `None` without indexes",
        "n_tup_ins": "rows inserted",
        "n_tup_upd": "rows updated (HOT included)",
        "n_tup_del": "rows deleted",
        "n_tup_hot_upd": "rows HOT-updated",
        "n_live_tup": "estimated live rows",
        "n_dead_tup": "estimated dead rows",
        "dead_tuple_ratio": "0..1: `n_dead_tup / (n_live_tup + n_dead_tup)`; `None` for an empty table",
        "n_mod_since_analyze": "rows modified since the last analyze",
        "n_ins_since_vacuum": "rows inserted since the last vacuum",
        "last_vacuum": "last manual `VACUUM`",
        "last_autovacuum": "last autovacuum",
        "last_analyze": "last manual `ANALYZE`",
        "last_autoanalyze": "last autoanalyze",
        "vacuum_count": "manual vacuums",
        "autovacuum_count": "autovacuums",
        "analyze_count": "manual analyzes",
        "autoanalyze_count": "autoanalyzes",
        "last_seq_scan": F("time of the last sequential scan", since="16"),
        "last_idx_scan": F("time of the last index scan", since="16"),
        "total_size_bytes": "bytes: heap, TOAST and indexes",
        "table_size_bytes": "bytes: main heap fork only",
        "indexes_size_bytes": "bytes: the table's indexes",
        "heap_blks_read": "heap blocks read into shared buffers",
        "heap_blks_hit": "heap blocks found in shared buffers",
        "cache_hit_ratio": "0..1: heap `hit / (hit + read)`; `None` before any heap block access",
    },
)

describe(
    IndexUsage,
    "PostgreSQL",
    {
        "schema": "schema name",
        "table": "table name",
        "index": "index name",
        "idx_scan": "scans of this index",
        "idx_tup_read": "index entries returned",
        "idx_tup_fetch": "live table rows fetched through it",
        "size_bytes": "bytes",
        "is_unique": "unique index",
        "is_primary": "primary-key index",
        "unused": "never scanned since the last reset and backing no unique, primary-key or exclusion constraint: a candidate to drop (check replicas and the age of `stats_reset` first)",
        "last_idx_scan": F("time of the last scan", since="16"),
        "definition": "`CREATE INDEX ...` statement (`pg_get_indexdef`)",
    },
)

describe(
    QueryPlan,
    None,
    {
        "query": "the statement explained, without a trailing semicolon",
        "plan": 'PostgreSQL\'s JSON document for the statement: the object holding `"Plan"` (and with `analyze` also `"Planning Time"`, `"Execution Time"`)',
        "total_cost": "planner cost units, top node, to return all rows",
        "startup_cost": "planner cost units, top node, before the first row",
        "plan_rows": "rows the planner expects from the top node",
        "node_type": 'top node, e.g. `"Index Scan"`, `"ModifyTable"`, `"Result"`',
        "analyzed": "the statement was executed (`analyze=True`)",
        "generic": "a generic plan, made without parameter values (a normalized `$1` text without `params`)",
        "planning_time_ms": "ms; only with `analyze`",
        "execution_time_ms": "ms; only with `analyze`",
        "actual_rows": "rows the top node returned (per loop); only with `analyze`",
        "shared_blks_hit": "shared buffers hit by the whole plan; only with `analyze`",
        "shared_blks_read": "shared blocks read by the whole plan; only with `analyze`",
    },
)

describe(
    SetupFinding,
    None,
    {
        "check": "what is checked: a server setting (`shared_preload_libraries`, `track_io_timing`...) or a condition (`extension`, `read_all_stats`, `evictions`...)",
        "severity": '`"ok"`, `"info"`, `"warning"` or `"error"`',
        "found": "what the server has, in words",
        "why": "why it matters",
        "fix": 'the exact statement or `postgresql.conf` line, or what else to do; `None` when the severity is `"ok"`',
        "restart_required": "the fix needs a server restart (`True`), a reload or nothing (`False`); `None` when the fix changes no setting",
        "recommended": "the value the check recommends for the setting named by `check`; `None` when it names no setting",
    },
)

describe(
    SetupReport,
    None,
    {
        "findings": "every check, in a fixed order: `SetupFinding` objects",
    },
)

describe(
    HelpedStatement,
    None,
    {
        "fingerprint": "the query fingerprint (16 hex digits, `pgstatkit.fingerprints.fingerprint`) of the statement; its `pg_stat_statements` entries are summed",
        "queryid": F(
            "`pg_stat_statements` queryid of the fingerprint's heaviest entry; `None` when hidden",
            id64=True,
        ),
        "query": "the normalized text of that entry (`$1` placeholders)",
        "calls": "executions in the suggestion's window (`source`: the history window, or since `pg_stat_statements` was reset), all entries of the fingerprint",
        "mean_exec_time_ms": "ms, calls-weighted mean execution time",
        "plan_cost_before": "planner cost units of the generic plan without the index; `None` when not validated (no hypopg)",
        "plan_cost_after": "planner cost units of the generic plan with the hypothetical index; `None` when not validated",
        "cost_reduction_ratio": "0..1: 1 - after / before (validated), else the `pg_stats` estimate (docs/advisor.md)",
        "time_saved_ms_per_day": "ms per day this index saves this statement beyond the suggestions listed before it: calls per day x mean time x cost reduction",
    },
)

describe(
    IndexSuggestion,
    None,
    {
        "schema": "schema of the table",
        "table": "the table to index",
        "columns": "the index's key columns in order: equality columns first, then one range or sort column",
        "create_statement": '`CREATE INDEX CONCURRENTLY ON "schema"."table" USING btree ("a", "b")`, identifiers quoted; pgstatkit never runs it',
        "estimated_size_bytes": "bytes: hypopg's estimate when validated, else from `pg_stats` (row count x key widths)",
        "time_saved_ms_per_day": "ms per day saved over the statements it helps (each counted once, beyond the suggestions listed before it)",
        "write_overhead_ms_per_day": "ms per day the index would cost the table's inserts and non-HOT updates (10 us a row, at the rate since the table statistics were reset)",
        "validated": "the costs come from plans with a hypothetical index (hypopg); `False`: ranked by the `pg_stats` estimate only",
        "source": '`"history"`: the workload is the deltas of pgstatkit\'s history over the window (`suggest_indexes(since=..., target=...)`); `"since_reset"`: the `pg_stat_statements` counters since their last reset (no history, or `source="reset"`)',
        "window_start": "when the counters the suggestion rests on start: history, the snapshot before the window's first interval; since_reset, the `pg_stat_statements` reset (before 1.9: the server's start)",
        "window_end": "when they end: history, the window's last snapshot; since_reset, the time of the call. Per day means per day of `window_end - window_start` (at least a minute)",
        "statements": "the statements it helps: `HelpedStatement` objects, the most time saved first",
    },
)

describe(
    Measure,
    None,
    {
        "name": "what the number is (`size_bytes`, `age_xids`, `waiting_ms`...; the unit is also the name's suffix where it has one)",
        "value": "the number; `None` where the server or the role's privileges do not give it (`text_file_bytes` without `pg_stat_file`)",
        "unit": '`"bytes"`, `"ms"`, `"s"`, `"ratio"` (0 to 1), `"count"` or `"xids"` (transaction or multixact IDs)',
    },
)

describe(
    HealthFinding,
    None,
    {
        "check": "the check's name (`unused_indexes`, `xid_wraparound`... see [Health checks](health.md))",
        "severity": '`"ok"`, `"unknown"` (the check could not run or judge: the explanation says why and which grant it needs), `"warning"` or `"critical"`',
        "object": "what the finding concerns: a relation (schema-qualified, quoted as SQL needs), `database <name>`, `pid <n>`, a slot name, a prepared transaction's gid, `table.column`; `None` for a finding about the whole check (its `ok` line)",
        "evidence": "the numbers the finding rests on: `Measure` objects (name, value, unit)",
        "explanation": "one sentence: what was found and why it matters",
        "fix": "the SQL (or `ALTER SYSTEM` setting) that resolves it, ready to paste into psql; `None` when there is nothing to run (an `ok` finding, replica lag)",
        "risk": "what the fix itself can cost: locks, rewrites, restarts, lost work; `None` with no fix",
        "detail": "text from the server that helps: the query, the blocking chain, the index definition; untrusted (escape it for terminals and HTML)",
    },
)

describe(
    HealthReport,
    None,
    {
        "checks": "the names of the checks that ran, in their fixed order",
        "findings": "`HealthFinding` objects, check by check; every check has at least one",
        "worst": 'the highest severity among the findings: `"ok"`, `"unknown"`, `"warning"` or `"critical"` (`pgstatkit health` exits 0, 20, 21 or 22 for it)',
    },
)

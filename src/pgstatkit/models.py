"""Typed results of the pgstatkit monitoring functions.

Every result is a frozen, slotted dataclass. Units are in the field names: ``_ms``
milliseconds, ``_bytes`` bytes, ``_ratio`` a fraction from 0 to 1, ``_blks`` a count of
blocks (``block_size``, normally 8 KiB). One model serves every supported PostgreSQL
and ``pg_stat_statements`` version; a value the version does not have is ``None``,
never a made-up zero. ``to_dict()`` gives a JSON-ready dict (timestamps as ISO 8601
strings).
"""

from __future__ import annotations

import datetime as _dt
import shlex
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from pgstatkit import _sql

__all__ = [
    "DatabaseStatistics",
    "HelpedStatement",
    "IndexSuggestion",
    "HealthFinding",
    "HealthReport",
    "HealthSeverity",
    "Measure",
    "IndexUsage",
    "QueryPlan",
    "QueryStat",
    "SetupFinding",
    "SetupReport",
    "StatementCounters",
    "StatementTotals",
    "TableStatistics",
]


def _json_value(value: object) -> object:
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    return value


class _Model:
    __slots__ = ()
    _FIELD_NAMES: ClassVar[tuple[str, ...]]

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (datetimes become ISO 8601 strings)."""
        return {name: _json_value(getattr(self, name)) for name in type(self)._FIELD_NAMES}


def _register(cls: type[_Model]) -> None:
    cls._FIELD_NAMES = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class QueryStat(_Model):
    """One ``pg_stat_statements`` entry: a normalized statement for one user and database.

    Times are milliseconds, counts are since the entry was created or last reset.
    ``query`` and ``queryid`` are ``None`` for another user's statement when the
    current role may not read it (grant ``pg_read_all_stats`` to fix that). An entry is
    identified by ``(userid, dbid, queryid, toplevel)``; ``userid`` and ``dbid`` keep
    the entries of a dropped role or database apart when ``username`` / ``database``
    are ``None``.

    Version notes (``pg_stat_statements`` extension version, PostgreSQL version):
    ``toplevel`` 1.9+ (PG 14); ``temp_blk_*_time_ms`` and the ``jit_*`` fields 1.10+
    (PG 15); ``local_blk_*_time_ms``, ``jit_deform_*``, ``stats_since`` and
    ``minmax_stats_since`` 1.11+ (PG 17); ``wal_buffers_full`` and
    ``parallel_workers_*`` 1.12+ (PG 18). Before 1.11 ``shared_blk_*_time_ms`` is the
    view's ``blk_*_time``, which also counts local blocks. Block I/O times are 0
    unless ``track_io_timing`` is on; plan times are 0 unless
    ``pg_stat_statements.track_planning`` is on.
    """

    userid: int
    """OID of the role that ran the statement (``pg_stat_statements.userid``; shown on
    every version, also for entries whose text the role may not read)."""
    dbid: int
    """OID of the database the statement ran in (``pg_stat_statements.dbid``)."""
    queryid: int | None
    query: str | None
    toplevel: bool | None
    calls: int
    rows: int
    total_exec_time_ms: float
    mean_exec_time_ms: float
    min_exec_time_ms: float
    max_exec_time_ms: float
    stddev_exec_time_ms: float
    plans: int
    total_plan_time_ms: float
    mean_plan_time_ms: float
    min_plan_time_ms: float
    max_plan_time_ms: float
    stddev_plan_time_ms: float
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
    stats_since: _dt.datetime | None
    minmax_stats_since: _dt.datetime | None
    database: str | None
    """Database name; ``None`` if the database was dropped since."""
    username: str | None
    """Role name; ``None`` if the role was dropped since."""
    cache_hit_ratio: float | None
    """Shared blocks hit / (hit + read), 0..1; ``None`` when no block was touched."""
    percent_of_total_time: float | None
    """Share (0..100, a percentage) of this entry's ``total_exec_time_ms`` in the
    execution time of *all* entries in scope (the current database, or all of them;
    top-level and nested; without pgstatkit's own statements unless included). At most
    100 for every entry, and 100 in total over the scope; with
    ``pg_stat_statements.track = all`` a nested statement's time also counts in its
    caller's. ``None`` when that total is 0."""


@dataclass(frozen=True, slots=True)
class StatementTotals(_Model):
    """One statement's counters for the metrics (:mod:`pgstatkit.prometheus`).

    The sum of every ``pg_stat_statements`` entry of one ``(queryid, database,
    username)``: top-level and nested entries (``toplevel``), and entries of roles
    dropped since (``username`` ``None``). Times are milliseconds; ``query`` is ``None``
    unless the texts were asked for.
    """

    queryid: int
    database: str | None
    username: str | None
    calls: int
    rows: int
    total_exec_time_ms: float
    total_plan_time_ms: float
    shared_blks_hit: int
    shared_blks_read: int
    temp_blks_written: int
    query: str | None


@dataclass(frozen=True, slots=True)
class StatementCounters(_Model):
    """The counters of one statement of the current database, for the pytest plugin.

    One ``(queryid, toplevel)``, summed over roles. As read from the server the
    counters are cumulative; the plugin's per-test results are the difference between
    two reads (never a reset). ``query`` is ``None`` until the text is looked up (the
    counters are read without texts).
    """

    queryid: int
    toplevel: bool | None
    calls: int
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    total_exec_time_ms: float
    total_plan_time_ms: float
    query: str | None

    @property
    def shared_blks(self) -> int:
        """Shared blocks touched: hit plus read."""
        return self.shared_blks_hit + self.shared_blks_read


@dataclass(frozen=True, slots=True)
class DatabaseStatistics(_Model):
    """Cumulative statistics of the current database (``pg_stat_database``).

    Counters are since ``stats_reset``. ``session_time_ms`` through
    ``sessions_killed`` exist from PostgreSQL 14; ``parallel_workers_*`` from 18.
    ``checksum_failures`` is ``None`` when data checksums are off.
    """

    database: str
    size_bytes: int
    backends: int
    commits: int
    rollbacks: int
    blks_read: int
    blks_hit: int
    cache_hit_ratio: float | None
    """blks_hit / (blks_hit + blks_read), 0..1; ``None`` before any block access."""
    tup_returned: int
    tup_fetched: int
    tup_inserted: int
    tup_updated: int
    tup_deleted: int
    conflicts: int
    temp_files: int
    temp_bytes: int
    deadlocks: int
    checksum_failures: int | None
    blk_read_time_ms: float
    blk_write_time_ms: float
    session_time_ms: float | None
    active_time_ms: float | None
    idle_in_transaction_time_ms: float | None
    sessions: int | None
    sessions_abandoned: int | None
    sessions_fatal: int | None
    sessions_killed: int | None
    parallel_workers_to_launch: int | None
    parallel_workers_launched: int | None
    stats_reset: _dt.datetime | None


@dataclass(frozen=True, slots=True)
class TableStatistics(_Model):
    """Access, maintenance and size statistics of one user table.

    From ``pg_stat_user_tables`` and ``pg_statio_user_tables``. ``idx_scan`` and
    ``idx_tup_fetch`` are ``None`` for a table without indexes; ``last_seq_scan`` and
    ``last_idx_scan`` exist from PostgreSQL 16.
    """

    schema: str
    table: str
    seq_scan: int
    seq_tup_read: int
    idx_scan: int | None
    idx_tup_fetch: int | None
    n_tup_ins: int
    n_tup_upd: int
    n_tup_del: int
    n_tup_hot_upd: int
    n_live_tup: int
    n_dead_tup: int
    dead_tuple_ratio: float | None
    """n_dead_tup / (n_live_tup + n_dead_tup), 0..1; ``None`` for an empty table."""
    n_mod_since_analyze: int
    n_ins_since_vacuum: int
    last_vacuum: _dt.datetime | None
    last_autovacuum: _dt.datetime | None
    last_analyze: _dt.datetime | None
    last_autoanalyze: _dt.datetime | None
    vacuum_count: int
    autovacuum_count: int
    analyze_count: int
    autoanalyze_count: int
    last_seq_scan: _dt.datetime | None
    last_idx_scan: _dt.datetime | None
    total_size_bytes: int
    """Heap, TOAST and indexes."""
    table_size_bytes: int
    """Main heap fork only."""
    indexes_size_bytes: int
    heap_blks_read: int | None
    heap_blks_hit: int | None
    cache_hit_ratio: float | None
    """Heap blocks hit / (hit + read), 0..1; ``None`` before any heap block access."""


@dataclass(frozen=True, slots=True)
class IndexUsage(_Model):
    """Usage and size of one user index (``pg_stat_user_indexes``).

    ``unused`` is true for an index never scanned since statistics were reset that
    backs no unique, primary-key or exclusion constraint: a candidate to drop (check
    replicas and the age of ``stats_reset`` first). ``last_idx_scan`` exists from
    PostgreSQL 16.
    """

    schema: str
    table: str
    index: str
    idx_scan: int
    idx_tup_read: int
    idx_tup_fetch: int
    size_bytes: int
    is_unique: bool
    is_primary: bool
    unused: bool
    last_idx_scan: _dt.datetime | None
    definition: str


@dataclass(frozen=True, slots=True)
class QueryPlan(_Model):
    """The plan of one statement, from ``EXPLAIN (FORMAT JSON)``.

    ``plan`` is PostgreSQL's JSON document for the statement (the object holding
    ``"Plan"``, and with ``analyze`` also ``"Planning Time"``, ``"Execution Time"``).
    Costs are in the planner's arbitrary units. ``generic`` is true when the plan was
    made without parameter values (a normalized ``$1`` statement). With ``analyze``,
    ``execution_time_ms``, ``planning_time_ms``, ``actual_rows`` and the shared-buffer
    counts of the whole plan are filled in; otherwise they are ``None``.
    """

    query: str
    plan: dict[str, Any] = field(hash=False)
    total_cost: float
    startup_cost: float
    plan_rows: float
    node_type: str
    analyzed: bool
    generic: bool
    planning_time_ms: float | None
    execution_time_ms: float | None
    actual_rows: float | None
    shared_blks_hit: int | None
    shared_blks_read: int | None


Severity = Literal["ok", "info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class SetupFinding(_Model):
    """One check of :func:`pgstatkit.stats.check_setup`.

    ``found`` is what the server has, ``why`` why it matters, ``fix`` the exact
    statement or ``postgresql.conf`` line, or what else to do: set on every finding
    that is not ``"ok"``, ``None`` on those that are.
    ``restart_required``: the fix needs a server restart (``True``), a reload or nothing
    (``False``), or does not change a setting (``None``). ``recommended`` is the value
    the check recommends for the server setting named by ``check``, if any.
    """

    check: str
    severity: Severity
    found: str
    why: str
    fix: str | None
    restart_required: bool | None
    recommended: str | None = None


@dataclass(frozen=True, slots=True)
class SetupReport(_Model):
    """The findings of :func:`pgstatkit.stats.check_setup`, in a fixed order."""

    findings: tuple[SetupFinding, ...]

    @property
    def ok(self) -> bool:
        """No finding is an error."""
        return not self.errors

    @property
    def errors(self) -> tuple[SetupFinding, ...]:
        """The findings of severity ``"error"``."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[SetupFinding, ...]:
        """The findings of severity ``"warning"``."""
        return tuple(f for f in self.findings if f.severity == "warning")

    def to_dict(self) -> dict[str, Any]:
        """``{"ok": ..., "findings": [finding.to_dict(), ...]}``, JSON-ready."""
        return {"ok": self.ok, "findings": [f.to_dict() for f in self.findings]}

    def _recommended(self) -> list[tuple[str, str, SetupFinding]]:
        return [(f.check, f.recommended, f) for f in self.findings if f.recommended is not None]

    def postgresql_conf(self) -> str:
        """The recommended settings as ``postgresql.conf`` lines (a comment on each)."""
        lines = []
        for name, value, finding in self._recommended():
            quoted = _sql.quote_literal(value)
            when = "restart" if finding.restart_required else "reload"
            state = "already set" if finding.severity == "ok" else f"change, then {when}"
            lines.append(f"{name} = {quoted}  # {state}")
        return "\n".join(lines) + ("\n" if lines else "")

    def docker_compose_command(self) -> str:
        """A ``command:`` for the official ``postgres`` image with the recommended settings."""
        args = ["postgres"]
        for name, value, _ in self._recommended():
            args += ["-c", shlex.quote(f"{name}={value}")]
        return " ".join(args)


HealthSeverity = Literal["ok", "unknown", "warning", "critical"]
"""The severities of a health finding, from best to worst (``unknown``: the check could
not run, or could not judge; its explanation says why and what grant it needs)."""

HEALTH_SEVERITIES: tuple[HealthSeverity, ...] = ("ok", "unknown", "warning", "critical")
"""The severities in rank order: the worst of a report is the highest."""


@dataclass(frozen=True, slots=True)
class Measure(_Model):
    """One number of a finding's evidence, with its unit.

    ``unit`` is one of ``"bytes"``, ``"ms"``, ``"ratio"`` (0 to 1), ``"count"``,
    ``"xids"`` (transaction or multixact IDs), ``"s"``. ``value`` is ``None`` where the
    server or the role's privileges do not give it.
    """

    name: str
    value: float | None
    unit: str


@dataclass(frozen=True, slots=True)
class HealthFinding(_Model):
    """One finding of :func:`pgstatkit.stats.health`.

    ``check`` is the check's name, ``object`` what it concerns (a schema-qualified,
    quoted relation name, ``database <name>``, ``pid <n>``, a slot or a prepared
    transaction), ``None`` for a finding about the whole check (its ``ok`` line).
    ``evidence``: the numbers it rests on, with units. ``explanation``: one sentence.
    ``fix``: the SQL (or setting) that resolves it, ``None`` where there is nothing to
    run; ``risk``: what the fix itself can cost (locks, rewrites, restarts, lost work).
    ``detail``: text from the server that helps (a query, a blocking chain, an index
    definition), untrusted: escape it before showing it on a terminal or in HTML.
    """

    check: str
    severity: HealthSeverity
    object: str | None
    evidence: tuple[Measure, ...]
    explanation: str
    fix: str | None = None
    risk: str | None = None
    detail: str | None = None

    def measure(self, name: str) -> float | None:
        """The value of the evidence ``name``.

        Raises:
            KeyError: the finding has no such evidence.
        """
        for m in self.evidence:
            if m.name == name:
                return m.value
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict; ``evidence`` a list of ``Measure`` dicts."""
        data = {name: getattr(self, name) for name in type(self)._FIELD_NAMES}
        data["evidence"] = [m.to_dict() for m in self.evidence]
        return data


@dataclass(frozen=True, slots=True)
class HealthReport(_Model):
    """The findings of :func:`pgstatkit.stats.health`: every check that ran, in the order
    of the checks, each with at least one finding (one ``ok`` finding when it found
    nothing)."""

    checks: tuple[str, ...]
    findings: tuple[HealthFinding, ...]
    worst: HealthSeverity = field(init=False)
    """The highest severity among the findings (``"ok"`` when there are none)."""

    def __post_init__(self) -> None:
        ranks = [HEALTH_SEVERITIES.index(f.severity) for f in self.findings]
        object.__setattr__(self, "worst", HEALTH_SEVERITIES[max(ranks, default=0)])

    def for_check(self, name: str) -> tuple[HealthFinding, ...]:
        """The findings of the check ``name`` (empty if it did not run)."""
        return tuple(f for f in self.findings if f.check == name)

    def severity_of(self, name: str) -> HealthSeverity:
        """The worst severity of the check ``name`` (``"ok"`` if it found nothing).

        Raises:
            KeyError: the check did not run.
        """
        if name not in self.checks:
            raise KeyError(name)
        ranks = [HEALTH_SEVERITIES.index(f.severity) for f in self.for_check(name)]
        return HEALTH_SEVERITIES[max(ranks, default=0)]

    @property
    def problems(self) -> tuple[HealthFinding, ...]:
        """The findings that are not ``"ok"``, worst first."""
        bad = [f for f in self.findings if f.severity != "ok"]
        return tuple(sorted(bad, key=lambda f: -HEALTH_SEVERITIES.index(f.severity)))

    def to_dict(self) -> dict[str, Any]:
        """``{"checks": [...], "findings": [finding.to_dict(), ...], "worst": ...}``."""
        return {
            "checks": list(self.checks),
            "findings": [f.to_dict() for f in self.findings],
            "worst": self.worst,
        }


for _cls in (
    QueryStat,
    StatementTotals,
    StatementCounters,
    DatabaseStatistics,
    TableStatistics,
    IndexUsage,
    QueryPlan,
    SetupFinding,
    SetupReport,
    Measure,
    HealthFinding,
    HealthReport,
):
    _register(_cls)
del _cls


@dataclass(frozen=True, slots=True)
class HelpedStatement(_Model):
    """A statement an :class:`IndexSuggestion` helps (the entries of one query
    fingerprint, summed), with its plan cost before and after the index."""

    fingerprint: str
    queryid: int | None
    query: str
    calls: int
    mean_exec_time_ms: float
    plan_cost_before: float | None
    plan_cost_after: float | None
    cost_reduction_ratio: float
    time_saved_ms_per_day: float


@dataclass(frozen=True, slots=True)
class IndexSuggestion(_Model):
    """An index :func:`pgstatkit.advisor.suggest_indexes` suggests (never creates)."""

    schema: str
    table: str
    columns: tuple[str, ...]
    create_statement: str
    estimated_size_bytes: int
    time_saved_ms_per_day: float
    write_overhead_ms_per_day: float
    validated: bool
    source: str
    window_start: _dt.datetime
    window_end: _dt.datetime
    statements: tuple[HelpedStatement, ...]

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (the statements as dicts, columns a list,
        datetimes ISO 8601 strings)."""
        found = {name: _json_value(getattr(self, name)) for name in type(self)._FIELD_NAMES}
        found["columns"] = list(self.columns)
        found["statements"] = [s.to_dict() for s in self.statements]
        return found


for _model in (HelpedStatement, IndexSuggestion):
    _register(_model)

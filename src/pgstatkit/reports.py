"""The reports: each described once, read by the command line, the HTTP router and the
Prometheus metrics.

A :class:`Report` names an operation (a sans-I/O :class:`~pgstatkit._protocol.Operation`
factory, as in ``pgstatkit._operations``), its parameters with their limits
(:class:`Param`), its result model and how it reads as text. From the entries of
:data:`REPORTS`:

- ``pgstatkit`` gets one subcommand per report with a ``command`` (its options made
  from the parameters, their values checked by the same functions as the API's);
- :func:`pgstatkit.fastapi.create_router` gets one ``GET /performance/<route>`` per
  report with a ``route`` (its OpenAPI query parameters with their limits, its response
  model and summary);
- :mod:`pgstatkit.prometheus` reads the metric families of the reports that have
  ``metrics``.

Adding a report is one operation and one :func:`register` call (or one entry below, for
a report of pgstatkit itself); ``docs/extending.md`` shows it. This module is for
contributors: the public interface of pgstatkit is :mod:`pgstatkit.stats`, the command
line and the HTTP routes.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, get_args, get_origin

from pgstatkit import _advise, _doctor, _health, _history, _validate, fingerprints
from pgstatkit import _operations as _ops
from pgstatkit._display import (
    INDEX_COLUMNS,
    SUGGESTION_COLUMNS,
    TABLE_COLUMNS,
    Column,
    database_lines,
    query_columns,
)
from pgstatkit._protocol import Operation
from pgstatkit.errors import InvalidArgumentError
from pgstatkit.models import (
    DatabaseStatistics,
    HealthReport,
    IndexSuggestion,
    IndexUsage,
    QueryStat,
    SetupReport,
    StatementTotals,
    TableStatistics,
)

__all__ = [
    "DATABASE",
    "HEALTH",
    "REPORTS",
    "STATEMENT_TOTALS",
    "Metric",
    "Param",
    "Report",
    "register",
    "statement_listing",
    "unregister",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a report: a keyword argument of its operation.

    ``type`` is ``int``, ``float``, ``bool`` or a ``Literal`` of strings (its values are
    the choices). ``help`` is the command line's ``--help`` line, ``description`` the
    OpenAPI one. ``check`` validates a value as the API does (a function of
    :mod:`pgstatkit._validate`, raising ``InvalidArgumentError``); ``minimum`` and
    ``maximum`` are the same limits, for OpenAPI. ``cli`` / ``http``: where the
    parameter exists; ``operation=False`` keeps it from the operation (a filter the
    command line applies to the rows, see :attr:`Report.keep`).
    """

    name: str
    type: Any
    default: Any
    help: str
    description: str
    check: Callable[[Any], object] | None = None
    minimum: float | None = None
    maximum: float | None = None
    metavar: str | None = None
    cli: bool = True
    http: bool = True
    operation: bool = True

    @property
    def option(self) -> str:
        """The command-line option: ``--min-duration-ms`` for ``min_duration_ms``."""
        return "--" + self.name.replace("_", "-")

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The allowed values of a ``Literal`` parameter, else ``None``."""
        return get_args(self.type) if get_origin(self.type) is Literal else None


class Metric(NamedTuple):
    """A Prometheus family of a report: the model attribute it reads, its name (after
    ``pgstatkit_``, without ``_total``), its type, help, and the scale to its unit."""

    attribute: str
    name: str
    type: Literal["gauge", "counter"]
    help: str
    scale: float = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    """One report, described once.

    Attributes:
        name: the API function and operation name (``slow_queries``); the section key
            of ``pgstatkit report --format json``.
        operation: makes the :class:`~pgstatkit._protocol.Operation`; called with the
            parameters' values and ``timeout_ms`` as keyword arguments. It validates
            them (``InvalidArgumentError``) before anything is sent.
        model: the result model; ``many``: the result is a list of it.
        params: the parameters, in the order of the options and query parameters
            (``timeout_ms`` is every report's and not listed).
        command, help, title: the ``pgstatkit`` subcommand, its help line and the title
            above its output (a format string over the parameter values); no command
            if ``None``.
        columns: the table columns of a list; ``lines``: label/value pairs of a single
            result instead.
        route, endpoint, summary: ``GET /performance/<route>``, the name of its
            endpoint (the OpenAPI ``operationId`` starts with it; default: the route
            with ``_``) and its OpenAPI summary; no route if ``None``.
        statements: a statement listing (``QueryStat`` rows): the router applies its
            ``query_text`` mode, the command line adds database and user columns with
            ``--all-databases``.
        needs_pg_stat_statements: reads ``pg_stat_statements`` (``pgstatkit report``
            skips the section, exit 4, when it is not usable).
        overview: the section title in ``pgstatkit report`` (a format string; ``None``:
            not in it).
        keep: which rows the command line keeps, given a row and the parameter
            values (for options with ``operation=False``).
        metrics: the Prometheus families read from the result.
        progress: for a report that may take more than a few seconds, what the command
            line says on a terminal while it runs (nothing when stderr is piped).
    """

    name: str
    operation: Callable[..., Operation[Any]]
    model: type[Any]
    many: bool = True
    params: tuple[Param, ...] = ()
    command: str | None = None
    help: str = ""
    title: str = ""
    columns: tuple[Column, ...] = ()
    lines: Callable[[Any], list[tuple[str, str]]] | None = None
    route: str | None = None
    endpoint: str | None = None
    summary: str = ""
    statements: bool = False
    needs_pg_stat_statements: bool = False
    overview: str | None = None
    keep: Callable[[Any, Mapping[str, Any]], bool] | None = None
    metrics: tuple[Metric, ...] = ()
    progress: str | None = None

    def arguments(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The operation's keyword arguments among ``values`` (by parameter name)."""
        return {p.name: values[p.name] for p in self.params if p.operation and p.name in values}

    def display_columns(self, values: Mapping[str, Any]) -> tuple[Column, ...]:
        """The table columns for these parameter values (database and user columns for a
        statement listing of every database)."""
        if self.statements:
            return query_columns(all_databases=bool(values.get("all_databases")))
        return self.columns


# --------------------------------------------------------------------------- parameters


def limit(default: int, help_text: str | None = None, description: str | None = None) -> Param:
    """The row limit: an int from 1 to 10,000 (``_validate.limit``)."""
    return Param(
        "limit",
        int,
        default,
        help_text or f"at most this many rows (default {default})",
        description or "At most this many rows, 1 to 10,000.",
        check=_validate.limit,
        minimum=1,
        maximum=_validate.MAX_LIMIT,
    )


def min_duration_ms(help_text: str) -> Param:
    """The slow-query threshold in ms, 0 to one day (``_validate.duration_ms``)."""
    return Param(
        "min_duration_ms",
        float,
        1000.0,
        help_text,
        "Threshold on mean execution time in ms, 0 to 86,400,000 (one day).",
        check=lambda v: _validate.duration_ms(v, "min_duration_ms"),
        minimum=0,
        maximum=_validate.MAX_DURATION_MS,
        metavar="MS",
    )


def max_cache_hit_ratio(help_text: str) -> Param:
    """The low-cache-hit threshold, a fraction 0..1 (``_validate.ratio``)."""
    return Param(
        "max_cache_hit_ratio",
        float,
        0.9,
        help_text,
        "A fraction from 0 to 1 (0.9 means 90%).",
        check=lambda v: _validate.ratio(v, "max_cache_hit_ratio"),
        minimum=0,
        maximum=1,
        metavar="RATIO",
    )


ALL_DATABASES = Param(
    "all_databases",
    bool,
    False,
    "statements of every database, not only the connected one (adds database and user columns)",
    "Every database, not only the one the service connects to.",
)
INCLUDE_PGSTATKIT = Param(
    "include_pgstatkit",
    bool,
    False,
    "also pgstatkit's own statements and tables (left out by default)",
    "Also pgstatkit's own statements and tables (left out by default).",
)
GROUP_BY = Param(
    "group_by",
    _ops.GroupBy,
    "queryid",
    "queryid: one row per pg_stat_statements entry (default); fingerprint: one row per "
    "query fingerprint, IN lists of any length and other aliases summed (needs "
    'pip install "pgstatkit[advisor]")',
    "queryid: one row per pg_stat_statements entry; fingerprint: the entries of one query "
    "fingerprint summed into one row (IN lists of any length, other aliases; needs the "
    "advisor extra, else 501).",
)
STATEMENT_SCOPE = (ALL_DATABASES, INCLUDE_PGSTATKIT, GROUP_BY)
"""The scope parameters of the statement listings."""

ORDER_BY = Param(
    "order_by",
    _ops.TableOrder,
    "seq_tup_read",
    "sort order (default seq_tup_read: big tables read without an index first)",
    "Sort order of the tables.",
)
UNUSED = Param(
    "unused",
    bool,
    False,
    "only indexes flagged unused",
    "",
    http=False,
    operation=False,
)


# --------------------------------------------------------------------------- metrics

_S = 0.001  # ms to seconds

DATABASE_METRICS: tuple[Metric, ...] = (
    Metric("size_bytes", "database_size_bytes", "gauge", "Size of the database."),
    Metric("backends", "database_backends", "gauge", "Backends connected to the database."),
    Metric("commits", "database_commits", "counter", "Transactions committed."),
    Metric("rollbacks", "database_rollbacks", "counter", "Transactions rolled back."),
    Metric("blks_read", "database_blks_read", "counter", "Disk blocks read."),
    Metric("blks_hit", "database_blks_hit", "counter", "Buffer cache hits."),
    Metric(
        "cache_hit_ratio",
        "database_cache_hit_ratio",
        "gauge",
        "Buffer cache hit ratio, blks_hit / (blks_hit + blks_read), 0 to 1.",
    ),
    Metric("tup_returned", "database_tup_returned", "counter", "Rows returned by queries."),
    Metric("tup_fetched", "database_tup_fetched", "counter", "Rows fetched by queries."),
    Metric("tup_inserted", "database_tup_inserted", "counter", "Rows inserted."),
    Metric("tup_updated", "database_tup_updated", "counter", "Rows updated."),
    Metric("tup_deleted", "database_tup_deleted", "counter", "Rows deleted."),
    Metric(
        "conflicts", "database_conflicts", "counter", "Queries cancelled by recovery conflicts."
    ),
    Metric("temp_files", "database_temp_files", "counter", "Temporary files created."),
    Metric("temp_bytes", "database_temp_bytes", "counter", "Bytes written to temporary files."),
    Metric("deadlocks", "database_deadlocks", "counter", "Deadlocks detected."),
    Metric(
        "blk_read_time_ms",
        "database_blk_read_time_seconds",
        "counter",
        "Time spent reading data file blocks (0 unless track_io_timing is on).",
        _S,
    ),
    Metric(
        "blk_write_time_ms",
        "database_blk_write_time_seconds",
        "counter",
        "Time spent writing data file blocks (0 unless track_io_timing is on).",
        _S,
    ),
)

STATEMENT_METRICS: tuple[Metric, ...] = (
    Metric("calls", "statement_calls", "counter", "Times the statement was executed."),
    Metric("rows", "statement_rows", "counter", "Rows retrieved or affected."),
    Metric(
        "total_exec_time_ms",
        "statement_exec_time_seconds",
        "counter",
        "Total execution time of the statement.",
        _S,
    ),
    Metric(
        "total_plan_time_ms",
        "statement_plan_time_seconds",
        "counter",
        "Total planning time (0 unless pg_stat_statements.track_planning is on).",
        _S,
    ),
    Metric("shared_blks_hit", "statement_shared_blks_hit", "counter", "Shared buffer hits."),
    Metric("shared_blks_read", "statement_shared_blks_read", "counter", "Shared blocks read."),
    Metric(
        "temp_blks_written",
        "statement_temp_blks_written",
        "counter",
        "Temporary blocks written (sorts or hashes spilling to disk).",
    ),
)


# --------------------------------------------------------------------------- reports


def statement_listing(
    name: str,
    operation: Callable[..., Operation[Any]],
    params: tuple[Param, ...],
    *,
    command: str,
    help: str,
    title: str,
    route: str,
    summary: str,
) -> Report:
    """A report of ``QueryStat`` rows from ``pg_stat_statements`` (with the scope
    parameters, a section of ``pgstatkit report`` under its title)."""
    return Report(
        name,
        operation,
        QueryStat,
        params=(*params, *STATEMENT_SCOPE),
        command=command,
        help=help,
        title=title,
        route=route,
        summary=summary,
        statements=True,
        needs_pg_stat_statements=True,
        overview=title,
    )


SLOW_QUERIES = statement_listing(
    "slow_queries",
    _ops.slow_queries,
    (min_duration_ms("threshold on the mean execution time in ms (default 1000)"), limit(20)),
    command="slow",
    help="statements whose mean execution time is at least --min-duration-ms",
    title="Slow queries (mean >= {min_duration_ms:g} ms)",
    route="slow-queries",
    summary="Slow statements: mean execution time at least min_duration_ms",
)

TOP_QUERIES = statement_listing(
    "top_queries_by_total_time",
    _ops.top_queries_by_total_time,
    (limit(20),),
    command="top",
    help="statements with the highest total execution time",
    title="Top queries by total time",
    route="top-queries",
    summary="Statements with the highest total execution time",
)

LOW_CACHE_HIT = statement_listing(
    "queries_with_low_cache_hit",
    _ops.queries_with_low_cache_hit,
    (max_cache_hit_ratio("a fraction from 0 to 1 (default 0.9, i.e. 90%%)"), limit(20)),
    command="low-cache",
    help="statements with a shared-buffer cache hit ratio <= the threshold",
    title="Queries with a low cache hit ratio (<= {max_cache_hit_ratio:.0%})",
    route="low-cache-hit",
    summary="Statements with a shared-buffer cache hit ratio at most max_cache_hit_ratio",
)

DATABASE = Report(
    "database_statistics",
    _ops.database_statistics,
    DatabaseStatistics,
    many=False,
    command="db",
    help="statistics of the connected database (size, cache hit, transactions...)",
    title="Database",
    lines=database_lines,
    route="database-stats",
    summary="Statistics of the current database",
    metrics=DATABASE_METRICS,
)

TABLES = Report(
    "table_statistics",
    _ops.table_statistics,
    TableStatistics,
    params=(limit(50, description="At most this many tables."), ORDER_BY, INCLUDE_PGSTATKIT),
    command="tables",
    help="user tables: sequential scans, rows read, sizes, dead rows, cache hit",
    title="Tables (by {order_by})",
    columns=TABLE_COLUMNS,
    route="table-stats",
    summary="User tables: scans, tuples, maintenance, sizes",
    overview="Tables (most rows read by sequential scans first)",
)

INDEXES = Report(
    "index_usage",
    _ops.index_usage,
    IndexUsage,
    params=(limit(50, description="At most this many indexes."), UNUSED, INCLUDE_PGSTATKIT),
    command="indexes",
    help="user indexes with scans and size; unused ones first",
    title="Indexes (unused first)",
    columns=INDEX_COLUMNS,
    route="index-usage",
    summary="User indexes with scans, size and an unused flag",
    overview="Indexes (unused first)",
    keep=lambda row, values: row.unused or not values.get("unused"),
)

SETUP = Report(
    "check_setup",
    _doctor.check_setup,
    SetupReport,
    many=False,
    route="setup",
    endpoint="setup_check",
    summary="The server's setup for pg_stat_statements, each finding with its fix",
)
"""The setup check over HTTP; on the command line it is ``pgstatkit doctor`` (its own
command: a ``--schema`` option and exit code 7)."""

CheckName = Literal[tuple(_health.CHECKS)]  # type: ignore[valid-type]
"""The names of the health checks (pgstatkit._health.CHECKS), as a type for OpenAPI."""

HEALTH = Report(
    "health",
    _health.health,
    HealthReport,
    many=False,
    params=(
        Param(
            "checks",
            list[CheckName] | None,  # type: ignore[valid-type]
            None,
            "",
            "Run only these checks (repeat the parameter: ?checks=sequences&checks=vacuum); "
            "all when absent. Thresholds are the defaults (docs/health.md).",
            cli=False,
        ),
        Param(
            "pgstattuple",
            bool,
            False,
            "",
            "Bloat: measure with the pgstattuple extension (reads each relation) instead "
            "of estimating from pg_stats.",
            cli=False,
        ),
    ),
    route="health",
    summary="Health checks: each finding with its evidence, fix and the fix's risk",
)
"""The health checks over HTTP; on the command line it is ``pgstatkit health`` (its own
command: ``--check``, ``--threshold`` and an exit code per severity)."""

STATEMENT_TOTALS = Report(
    "statement_totals",
    _ops.statement_totals,
    StatementTotals,
    needs_pg_stat_statements=True,
    metrics=STATEMENT_METRICS,
)
"""The top statements of the metrics, summed per statement (no command, no route)."""


def _history_window(since_s: object, until_s: object) -> tuple[object, object]:
    import datetime as dt

    for name, value in (("since_s", since_s), ("until_s", until_s)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3660 * 86400:
            raise InvalidArgumentError(
                f"{name} must be whole seconds before now, 0 to 316,224,000, got {value!r}"
            )
    return dt.timedelta(seconds=int(str(since_s))), dt.timedelta(seconds=int(str(until_s)))


def _history_changes(
    *,
    since_s: object = 3600,
    until_s: object = 0,
    target: object = None,
    order_by: object = "total_exec_time_ms",
    limit: object = 100,
    group_by: object = "queryid",
    timeout_ms: object = None,
) -> Operation[Any]:
    """``history.changes`` over (now - since_s, now - until_s] (seconds)."""
    since, until = _history_window(since_s, until_s)
    now = _history.now()
    start, end = _history.window(since, until, now)
    grouped, rows = fingerprints.changes_grouping(group_by), _validate.limit(limit)
    order = _validate.choice(order_by, "order_by", _history.CHANGE_ORDERS)
    op = _history.changes(
        schema="pgstatkit",
        target=_history.optional_target(target),
        since=start,
        until=end,
        order_by=order,
        limit=fingerprints.CHANGES_ENTRIES if grouped else rows,
        include_pgstatkit=False,
        queryid=None,
        timeout_ms=_validate.timeout_ms(timeout_ms),
    )
    return fingerprints.group_changes(op, order, rows) if grouped else op


def _history_timeline(
    *,
    queryid: object = None,
    since_s: object = 3600,
    until_s: object = 0,
    target: object = None,
    timeout_ms: object = None,
) -> Operation[Any]:
    """``history.timeline`` of ``queryid`` over (now - since_s, now - until_s]."""
    found = _validate.queryid(queryid)
    if found is None:
        raise InvalidArgumentError("queryid is required: the statement to follow")
    since, until = _history_window(since_s, until_s)
    start, end = _history.window(since, until, _history.now())
    return _history.timeline(
        schema="pgstatkit",
        target=_history.optional_target(target),
        queryid=found,
        since=start,
        until=end,
        dbid=None,
        userid=None,
        timeout_ms=_validate.timeout_ms(timeout_ms),
    )


_SINCE = Param(
    "since_s",
    int,
    3600,
    "start of the window, in seconds before now",
    "Start of the window: whole seconds before now (default 3600, one hour).",
    minimum=0,
    maximum=3660 * 86400,
)
_UNTIL = Param(
    "until_s",
    int,
    0,
    "end of the window, in seconds before now",
    "End of the window: whole seconds before now (default 0, now).",
    minimum=0,
    maximum=3660 * 86400,
)
_TARGET = Param(
    "target",
    str | None,
    None,
    "one target of the store",
    "Only this target of the store (its name); every target if absent.",
)

HISTORY_CHANGES = Report(
    "history_changes",
    _history_changes,
    _history.HistoryChanges,
    many=False,
    params=(
        _SINCE,
        _UNTIL,
        _TARGET,
        Param(
            "order_by",
            Literal[tuple(_history.CHANGE_ORDERS)],
            "total_exec_time_ms",
            "descending order",
            "Descending order of the statements.",
        ),
        limit(100),
        GROUP_BY,
    ),
    route="history/changes",
    summary="What each statement did in a window of the history (exact deltas, interval flags)",
)
"""``GET /performance/history/changes``: :func:`pgstatkit.history.changes` of the router's
database as the store (schema ``pgstatkit``); no command (``pgstatkit changes`` is
hand-written: it takes spans and ISO times)."""

HISTORY_TIMELINE = Report(
    "history_timeline",
    _history_timeline,
    _history.StatementInterval,
    params=(
        Param(
            "queryid",
            int,
            inspect.Parameter.empty,  # required
            "the statement",
            "The statement to follow: a pg_stat_statements queryid (a signed 64-bit integer).",
            minimum=-(2**63),
            maximum=2**63 - 1,
        ),
        _SINCE,
        _UNTIL,
        _TARGET,
    ),
    route="history/timeline",
    summary="One statement of the history, interval by interval",
)
"""``GET /performance/history/timeline``: :func:`pgstatkit.history.timeline`."""


def _index_suggestions(*, since_s: object = 7 * 86400, **arguments: Any) -> Operation[Any]:
    """``advisor.suggest_indexes`` with its history window as seconds before now."""
    since, _ = _history_window(since_s, 0)
    return _advise.index_suggestions(since=since, **arguments)


INDEX_SUGGESTIONS = Report(
    "suggest_indexes",
    _index_suggestions,
    IndexSuggestion,
    params=(
        Param(
            "max_indexes",
            int,
            5,
            "at most this many suggestions (default 5)",
            "At most this many suggestions, 1 to 100.",
            check=lambda v: _advise.check_count(v, "max_indexes", 1, 100),
            minimum=1,
            maximum=100,
        ),
        Param(
            "statements",
            int,
            100,
            "how many of the top statements (by total time) to examine (default 100)",
            "How many of the top statements by total time to examine, 1 to 10,000.",
            check=lambda v: _advise.check_count(v, "statements", 1, _validate.MAX_LIMIT),
            minimum=1,
            maximum=_validate.MAX_LIMIT,
        ),
        Param(
            "validate",
            bool,
            True,
            "",
            "Validate with hypothetical indexes when the hypopg extension exists.",
            cli=False,
        ),
        Param(
            "source",
            Literal[_advise.SOURCES],
            "auto",
            "the workload: pgstatkit's history when it has the window, else since the "
            "last reset (auto); only the history; only since the reset",
            "The workload: auto (pgstatkit's history over the window when the database "
            "has snapshots of the target in it, else the pg_stat_statements counters "
            "since their last reset), history (only the history: 503 without it) or "
            "reset (only the counters).",
        ),
        Param(
            "since_s",
            int,
            7 * 86400,
            "history window: seconds before now (default 604800, 7 days)",
            "Start of the history window: whole seconds before now (default 604800, "
            "7 days); its end is now.",
            minimum=1,
            maximum=3660 * 86400,
            metavar="S",
        ),
        Param(
            "target",
            str,
            _history.DEFAULT_TARGET,
            "the history target that is this server (default local)",
            "The history target that is this server (default local, the snapshots' default name).",
        ),
    ),
    command="advise",
    help="index suggestions for the statements that cost the most time (creates none; "
    'needs pip install "pgstatkit[advisor]")',
    title="Index suggestions",
    columns=SUGGESTION_COLUMNS,
    route="index-suggestions",
    summary="Index suggestions for the top statements, validated with hypopg when it exists",
    needs_pg_stat_statements=True,
    overview="Index suggestions",
    progress="explaining the top statements with and without candidate indexes",
)

REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        SLOW_QUERIES,
        TOP_QUERIES,
        LOW_CACHE_HIT,
        DATABASE,
        TABLES,
        INDEXES,
        INDEX_SUGGESTIONS,
        SETUP,
        HEALTH,
        STATEMENT_TOTALS,
        HISTORY_CHANGES,
        HISTORY_TIMELINE,
    )
}
"""Every report, by name, in the order of the subcommands and routes."""


def register(report: Report) -> Report:
    """Add ``report``: command lines and routers built from now on have it.

    Raises:
        ValueError: its name, command or route is already another report's.
    """
    for other in REPORTS.values():
        for attr in ("name", "command", "route"):
            mine = getattr(report, attr)
            if mine is not None and mine == getattr(other, attr):
                raise ValueError(f"report {attr} {mine!r} is taken by {other.name!r}")
    REPORTS[report.name] = report
    return report


def unregister(name: str) -> None:
    """Remove the report ``name`` (a no-op if there is none)."""
    REPORTS.pop(name, None)


def with_command() -> Sequence[Report]:
    """The reports that are ``pgstatkit`` subcommands, in order."""
    return [r for r in REPORTS.values() if r.command is not None]


def with_route() -> Sequence[Report]:
    """The reports that are HTTP routes, in order."""
    return [r for r in REPORTS.values() if r.route is not None]


def in_overview() -> Sequence[Report]:
    """The sections of ``pgstatkit report`` after the setup check and the database."""
    return [r for r in REPORTS.values() if r.overview is not None]

"""The monitoring operations, as sans-I/O :class:`~pgstatkit._protocol.Operation` objects.

Each function validates its arguments (raising
:class:`~pgstatkit.errors.InvalidArgumentError` before anything reaches the server) and
returns an operation whose steps choose the SQL for the server at hand and parse the
rows. :mod:`pgstatkit.stats` and :mod:`pgstatkit.sync.stats` run them on a driver.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar, cast

from pgstatkit import _sql, _validate
from pgstatkit._columns import projection
from pgstatkit._own import OWN_TABLES, OwnQueryids, statement_filter
from pgstatkit._parse import parse_plan, parse_rows
from pgstatkit._protocol import (
    Cleanup,
    Context,
    Operation,
    Query,
    Result,
    ServerError,
    Steps,
    translated,
)
from pgstatkit._scan import scan
from pgstatkit.errors import ExtensionTooOldError, InvalidArgumentError, PgStatKitError
from pgstatkit.models import (
    DatabaseStatistics,
    IndexUsage,
    QueryPlan,
    QueryStat,
    StatementTotals,
    TableStatistics,
)

__all__ = [
    "GROUP_BY",
    "TABLE_ORDERS",
    "GroupBy",
    "TableOrder",
    "MetricsRead",
    "database_statistics",
    "index_usage",
    "metrics_scrape",
    "queries_with_low_cache_hit",
    "query_plan",
    "StatementReset",
    "reset_query_statistics",
    "reset_statement",
    "slow_queries",
    "statement_deallocations",
    "statement_counters",
    "statement_texts",
    "statement_totals",
    "table_statistics",
    "top_queries_by_total_time",
]

T = TypeVar("T")

TableOrder = Literal["seq_tup_read", "seq_scan", "total_size", "dead_tuples", "name"]
"""The orderings of ``table_statistics``: the one list (the API's type, the command
line's ``--order-by`` choices and the HTTP ``order_by`` enum are read from it)."""

TABLE_ORDERS: dict[TableOrder, str] = {
    "seq_tup_read": "t.seq_tup_read DESC, t.seq_scan DESC",
    "seq_scan": "t.seq_scan DESC, t.seq_tup_read DESC",
    "total_size": "total_size_bytes DESC",
    "dead_tuples": "t.n_dead_tup DESC",
    "name": "t.schemaname, t.relname",
}
"""The fixed SQL each :data:`TableOrder` stands for."""


def _statements_query(
    block: str, ctx: Context, params: tuple[object, ...], every_db: bool, own: bool
) -> Query:
    version, schema = ctx.require_pg_stat_statements()
    sql = _sql.render(
        _sql.load("statements.sql", block),
        statements=projection(version, schema, all_databases=every_db, include_pgstatkit=own),
    )
    return Query(sql, params)


GroupBy = Literal["queryid", "fingerprint"]
"""How the statement listings group entries: as ``pg_stat_statements`` does (one row
per queryid, user, database and level), or per query fingerprint
(:mod:`pgstatkit.fingerprints`)."""

GROUP_BY: tuple[GroupBy, ...] = ("queryid", "fingerprint")

_EVERY_ENTRY = 2**31 - 1
"""The row limit of the fetch of every entry, for a listing grouped by fingerprint."""


class _Listing(NamedTuple):
    """A statement listing in Python, for rows grouped by fingerprint: the same filter
    and order as its SQL block, applied to the groups (given the block's parameters)."""

    keep: Callable[[QueryStat, tuple[object, ...]], bool]
    order: Callable[[QueryStat], tuple[float, ...]]


def _mean_at_least(row: QueryStat, params: tuple[object, ...]) -> bool:
    return row.mean_exec_time_ms >= cast(float, params[0])


def _hit_at_most(row: QueryStat, params: tuple[object, ...]) -> bool:
    return row.cache_hit_ratio is not None and row.cache_hit_ratio <= cast(float, params[0])


_LISTINGS: dict[str, _Listing] = {
    "slow_queries": _Listing(_mean_at_least, lambda r: (-r.mean_exec_time_ms, -r.calls)),
    "top_queries_by_total_time": _Listing(
        lambda r, p: True, lambda r: (-r.total_exec_time_ms, -r.calls)
    ),
    "queries_with_low_cache_hit": _Listing(
        _hit_at_most, lambda r: (r.cache_hit_ratio or 0.0, -r.shared_blks_read)
    ),
}


def _group_by(value: object) -> GroupBy:
    """``group_by``, checked; ``"fingerprint"`` needs ``pglast`` (checked now too)."""
    chosen = cast(GroupBy, _validate.choice(value, "group_by", GROUP_BY))
    if chosen == "fingerprint":
        from pgstatkit.fingerprints import require_pglast

        require_pglast()
    return chosen


def _query_stats(
    name: str,
    params: tuple[object, ...],
    all_databases: object,
    include_pgstatkit: object,
    timeout_ms: object,
    group_by: object = "queryid",
) -> Operation[list[QueryStat]]:
    every_db = _validate.flag(all_databases, "all_databases")
    own = _validate.flag(include_pgstatkit, "include_pgstatkit")
    grouped = _group_by(group_by) == "fingerprint"

    def steps(ctx: Context) -> Steps[list[QueryStat]]:
        if not grouped:
            result = yield _statements_query(name, ctx, params, every_db, own)
            return parse_rows(QueryStat, result, release=True)
        from pgstatkit.fingerprints import group_statements

        every = yield _statements_query(
            "top_queries_by_total_time", ctx, (_EVERY_ENTRY,), every_db, own
        )
        listing, rows = _LISTINGS[name], cast(int, params[-1])
        groups = [
            g
            for g in group_statements(parse_rows(QueryStat, every, release=True))
            if listing.keep(g, params)
        ]
        groups.sort(key=listing.order)
        return groups[:rows]

    return Operation(name, steps, _validate.timeout_ms(timeout_ms))


def slow_queries(
    *,
    min_duration_ms: object = 1000.0,
    limit: object = 20,
    all_databases: object = False,
    include_pgstatkit: object = False,
    group_by: object = "queryid",
    timeout_ms: object = None,
) -> Operation[list[QueryStat]]:
    """Statements whose mean execution time is at least ``min_duration_ms``, slowest first."""
    params = (_validate.duration_ms(min_duration_ms, "min_duration_ms"), _validate.limit(limit))
    return _query_stats(
        "slow_queries", params, all_databases, include_pgstatkit, timeout_ms, group_by
    )


def top_queries_by_total_time(
    *,
    limit: object = 20,
    all_databases: object = False,
    include_pgstatkit: object = False,
    group_by: object = "queryid",
    timeout_ms: object = None,
) -> Operation[list[QueryStat]]:
    """Statements with the highest total execution time first."""
    params = (_validate.limit(limit),)
    return _query_stats(
        "top_queries_by_total_time",
        params,
        all_databases,
        include_pgstatkit,
        timeout_ms,
        group_by,
    )


def queries_with_low_cache_hit(
    *,
    max_cache_hit_ratio: object = 0.9,
    limit: object = 20,
    all_databases: object = False,
    include_pgstatkit: object = False,
    group_by: object = "queryid",
    timeout_ms: object = None,
) -> Operation[list[QueryStat]]:
    """Statements that touched shared blocks with a hit ratio <= the maximum, worst first."""
    params = (
        _validate.ratio(max_cache_hit_ratio, "max_cache_hit_ratio"),
        _validate.limit(limit),
    )
    return _query_stats(
        "queries_with_low_cache_hit",
        params,
        all_databases,
        include_pgstatkit,
        timeout_ms,
        group_by,
    )


def _totals_query(
    schema: str,
    limit: int,
    *,
    showtext: bool,
    text_filter: bool,
    return_text: bool,
    exclude: frozenset[int],
    all_databases: bool,
) -> Query:
    sql = _sql.render(
        _sql.load("statements.sql", "statement_totals"),
        schema=_sql.quote_ident(schema),
        own_filter=statement_filter("p.query"),
    )
    excluded = ",".join(map(str, sorted(exclude)))
    params = (limit, showtext, text_filter, return_text, excluded, all_databases)
    return Query(sql, params)


def _totals(result: Result) -> tuple[list[StatementTotals], list[int] | None]:
    """The rows (without the ``own_queryids`` column) and that column's value."""
    if not result.rows:
        return [], None
    width = len(result.columns) - 1
    rows = [tuple(row)[:width] for row in result.rows]
    own = result.rows[0][width]
    totals = parse_rows(StatementTotals, Result(tuple(result.columns[:width]), rows), release=True)
    return totals, None if own is None else [int(q) for q in str(own).split(",") if q]


def _statement_totals_steps(
    ctx: Context,
    limit: int,
    texts: bool,
    own: bool,
    all_databases: bool,
    known: OwnQueryids | None,
) -> Generator[Query, Result, list[StatementTotals]]:
    """Read the top statements; without texts when ``known`` says which are pgstatkit's."""
    _, schema = ctx.require_pg_stat_statements()
    query = functools.partial(
        _totals_query, schema, limit, return_text=texts, all_databases=all_databases
    )
    cached = None if own or texts or known is None else known.own
    if own or cached is not None:
        exclude = cached or frozenset()
        rows, _ = _totals((yield query(showtext=texts, text_filter=False, exclude=exclude)))
        if own or (known is not None and known.knows(r.queryid for r in rows)):
            return rows
    # read the texts: they leave pgstatkit's own statements out and are learned
    rows, own_ids = _totals((yield query(showtext=True, text_filter=True, exclude=frozenset())))
    if known is not None:
        known.learn(own_ids or (), (r.queryid for r in rows))
    return rows


def statement_totals(
    *,
    limit: object = 20,
    query_text: object = False,
    include_pgstatkit: object = False,
    all_databases: object = False,
    known: OwnQueryids | None = None,
    timeout_ms: object = None,
) -> Operation[list[StatementTotals]]:
    """The top ``limit`` statements for the metrics, each summed over its entries
    *before* ranking (see the ``statement_totals`` SQL block); of the current database,
    or of every database with ``all_databases``. ``known``: what an earlier read learned
    about pgstatkit's own statements (updated here), so texts are read only when needed."""
    texts = _validate.flag(query_text, "query_text")
    own = _validate.flag(include_pgstatkit, "include_pgstatkit")
    every_db = _validate.flag(all_databases, "all_databases")
    top_n = _validate.limit(limit, "top_n")

    def steps(ctx: Context) -> Steps[list[StatementTotals]]:
        return (yield from _statement_totals_steps(ctx, top_n, texts, own, every_db, known))

    return Operation("statement_totals", steps, _validate.timeout_ms(timeout_ms))


def _deallocations_steps(ctx: Context) -> Generator[Query, Result, int | None]:
    version, schema = ctx.require_pg_stat_statements()
    if version < (1, 9):
        return None
    sql = _sql.render(_sql.load("statements.sql", "deallocations"), schema=_sql.quote_ident(schema))
    result = yield Query(sql)
    return int(str(result.rows[0][0]))


def statement_deallocations(*, timeout_ms: object = None) -> Operation[int | None]:
    """How many times ``pg_stat_statements`` evicted its least-executed entries since
    its last reset (``pg_stat_statements_info.dealloc``); ``None`` before 1.9
    (PostgreSQL 14), which does not count them."""

    def steps(ctx: Context) -> Steps[int | None]:
        return (yield from _deallocations_steps(ctx))

    return Operation("statement_deallocations", steps, _validate.timeout_ms(timeout_ms))


Counters = dict[tuple[int, int, bool | None], tuple[int, int, int, int, float, float]]
"""``statement_counters``' result: per entry ``(userid, queryid, toplevel)``, the
cumulative ``(calls, rows, shared_blks_hit, shared_blks_read, total_exec_time_ms,
total_plan_time_ms)``."""


def statement_counters(*, timeout_ms: object = None) -> Operation[Counters]:
    """The cumulative counters of every entry of the current database, without texts
    (two of these make the pytest plugin's per-test delta: never a reset).

    Plain tuples, not models: the plugin compares thousands of them per test and builds
    :class:`~pgstatkit.models.StatementCounters` only for the statements that changed.
    """

    def steps(ctx: Context) -> Steps[Counters]:
        version, schema = ctx.require_pg_stat_statements()
        sql = _sql.render(
            _sql.load("statements.sql", "statement_counters"),
            schema=_sql.quote_ident(schema),
            toplevel="p.toplevel" if version >= (1, 9) else "NULL::bool",
        )
        result = yield Query(sql)
        arrays = cast("list[list[Any] | None]", list(result.rows[0]))
        if arrays[0] is None:  # no entry at all
            return {}
        users, qids, tops, *values = cast("list[list[Any]]", arrays)
        # the driver gives int8 as int and float8 as float: zip, no per-value work
        keys = zip(users, qids, tops, strict=True)
        return cast(Counters, dict(zip(keys, zip(*values, strict=True), strict=True)))

    return Operation("statement_counters", steps, _validate.timeout_ms(timeout_ms))


def statement_texts(queryids: object, *, timeout_ms: object = None) -> Operation[dict[int, str]]:
    """The texts of the given queryids in the current database (those still there)."""
    if isinstance(queryids, str | bytes) or not isinstance(queryids, Sequence):
        raise InvalidArgumentError(
            f"queryids must be a sequence of queryids, got {type(queryids).__name__}"
        )
    ids = [_validate.queryid(q) for q in queryids]
    if None in ids:
        raise InvalidArgumentError("queryids must not contain None")

    def steps(ctx: Context) -> Steps[dict[int, str]]:
        _, schema = ctx.require_pg_stat_statements()
        if not ids:
            return {}
        sql = _sql.render(
            _sql.load("statements.sql", "statement_texts"), schema=_sql.quote_ident(schema)
        )
        result = yield Query(sql, (ids,))
        return {int(cast(int, qid)): str(text) for qid, text in result.rows if text is not None}

    return Operation("statement_texts", steps, _validate.timeout_ms(timeout_ms))


class MetricsRead(NamedTuple):
    """What one metrics scrape read (:func:`metrics_scrape`)."""

    database: DatabaseStatistics
    statements: list[StatementTotals] | None
    """None when ``pg_stat_statements`` could not be read; ``error`` says why."""
    deallocations: int | None
    error: PgStatKitError | None


def metrics_scrape(
    *,
    limit: object = 20,
    query_text: object = False,
    include_pgstatkit: object = False,
    all_databases: object = False,
    known: OwnQueryids | None = None,
    timeout_ms: object = None,
) -> Operation[MetricsRead]:
    """One metrics scrape in one guarded call (one connection, one transaction): the
    database statistics, the top statements (:func:`statement_totals`) and the
    deallocations. A pgstatkit error of the ``pg_stat_statements`` part is returned in
    :attr:`MetricsRead.error` (the transaction is then over: the rest is skipped)."""
    texts = _validate.flag(query_text, "query_text")
    own = _validate.flag(include_pgstatkit, "include_pgstatkit")
    every_db = _validate.flag(all_databases, "all_databases")
    top_n = _validate.limit(limit, "top_n")

    def steps(ctx: Context) -> Steps[MetricsRead]:
        result = yield Query(_sql.load("catalog.sql", "database_statistics"))
        database = parse_rows(DatabaseStatistics, result)[0]
        try:
            rows = yield from _statement_totals_steps(ctx, top_n, texts, own, every_db, known)
        except ServerError as exc:
            error = translated(exc, "statement_totals")
            if error is None:
                raise
            return MetricsRead(database, None, None, error)
        except PgStatKitError as exc:  # the extension is not set up (no round trip)
            return MetricsRead(database, None, None, exc)
        try:
            deallocations = yield from _deallocations_steps(ctx)
        except ServerError as exc:
            if translated(exc, "statement_deallocations") is None:
                raise
            deallocations = None
        return MetricsRead(database, rows, deallocations, None)

    return Operation("metrics", steps, _validate.timeout_ms(timeout_ms))


def database_statistics(*, timeout_ms: object = None) -> Operation[DatabaseStatistics]:
    """Statistics of the current database."""

    def steps(ctx: Context) -> Steps[DatabaseStatistics]:
        result = yield Query(_sql.load("catalog.sql", "database_statistics"))
        return parse_rows(DatabaseStatistics, result)[0]

    return Operation("database_statistics", steps, _validate.timeout_ms(timeout_ms))


def _own_tables(include_pgstatkit: object) -> tuple[bool, list[str]]:
    """The ``$2, $3`` of the catalog listings: include pgstatkit's tables?, their names."""
    return _validate.flag(include_pgstatkit, "include_pgstatkit"), list(OWN_TABLES)


def table_statistics(
    *,
    limit: object = 50,
    order_by: object = "seq_tup_read",
    include_pgstatkit: object = False,
    timeout_ms: object = None,
) -> Operation[list[TableStatistics]]:
    """User tables with scans, tuples, maintenance times, sizes and heap cache hits."""
    params = (_validate.limit(limit), *_own_tables(include_pgstatkit))
    order = TABLE_ORDERS[cast(TableOrder, _validate.choice(order_by, "order_by", TABLE_ORDERS))]
    sql = _sql.render(
        _sql.load("catalog.sql", "table_statistics"),
        order_by=f'{order}, schema, "table"',
    )

    def steps(ctx: Context) -> Steps[list[TableStatistics]]:
        result = yield Query(sql, params)
        return parse_rows(TableStatistics, result, release=True)

    return Operation("table_statistics", steps, _validate.timeout_ms(timeout_ms))


def index_usage(
    *, limit: object = 50, include_pgstatkit: object = False, timeout_ms: object = None
) -> Operation[list[IndexUsage]]:
    """User indexes, unused ones first, then the least scanned and largest."""
    params = (_validate.limit(limit), *_own_tables(include_pgstatkit))

    def steps(ctx: Context) -> Steps[list[IndexUsage]]:
        result = yield Query(_sql.load("catalog.sql", "index_usage"), params)
        return parse_rows(IndexUsage, result, release=True)

    return Operation("index_usage", steps, _validate.timeout_ms(timeout_ms))


def _plan_params(params: object, placeholders: int) -> tuple[object, ...] | None:
    if params is None:
        return None
    if isinstance(params, str | bytes) or not isinstance(params, Sequence):
        raise InvalidArgumentError(
            f"params must be a list or tuple of values for $1..$n, got {type(params).__name__}"
        )
    if len(params) != placeholders:
        raise InvalidArgumentError(
            f"the query has {placeholders} placeholder(s) ($1..${placeholders}) "
            f"but {len(params)} param(s) were given"
        )
    return tuple(params)


@dataclass(slots=True)
class _Prepared:
    """The generic-plan statement of one ``query_plan`` call, and whether it is gone."""

    name: str
    deallocated: bool = False

    def cleanup(self) -> Generator[Query, Result, None]:
        """``DEALLOCATE`` the statement if the steps did not, and this session has it."""
        if self.deallocated:
            return
        found = yield Query(_sql.load("session.sql", "prepared_statement"), (self.name,))
        if found.rows:
            yield Query(f"DEALLOCATE {self.name}")


@dataclass(slots=True)
class _AdvisoryLocks:
    """The advisory locks the session held before EXPLAIN ANALYZE, as text keys.

    ``unchanged``: the steps saw, after the statement and before the rollback, that it
    took none; then there is nothing to clean up.
    """

    held: list[str]
    unchanged: bool = False

    def cleanup(self) -> Generator[Query, Result, None]:
        """Release the session-level advisory locks taken since :attr:`held` was read.

        After the guard's rollback only session-level locks are left. Each round
        releases every new lock once; a lock taken n times needs n rounds, so the loop
        ends when none is left (or after :data:`_MAX_UNLOCK_ROUNDS`, for a statement
        that took one lock that many times: it then stays held).
        """
        if self.unchanged:
            return
        sql = _sql.load("session.sql", "release_new_advisory_locks")
        for _ in range(_MAX_UNLOCK_ROUNDS):
            released = yield Query(sql, (self.held,))
            if not released.rows:
                return


_MAX_UNLOCK_ROUNDS = 1000


def _analyzed(text: str, values: tuple[object, ...]) -> Steps[QueryPlan]:
    """EXPLAIN ANALYZE, leaving the session the advisory locks it held before.

    The statement may take session-level advisory locks, which outlive the rollback:
    the locks held before are read first, a cleanup releases the new ones after the
    rollback, and a look after the statement skips that cleanup when it took none.
    """
    held = yield Query(_sql.load("session.sql", "advisory_locks"))
    locks = _AdvisoryLocks([str(row[0]) for row in held.rows])
    yield Cleanup(locks.cleanup)
    result = yield Query(f"EXPLAIN (FORMAT JSON, ANALYZE, BUFFERS) {text}", values)
    new = yield Query(_sql.load("session.sql", "new_advisory_locks"), (locks.held,))
    locks.unchanged = not new.rows
    return parse_plan(text, result, analyzed=True, generic=False)


def query_plan(
    query: object, *, analyze: object = False, params: object = None, timeout_ms: object = None
) -> Operation[QueryPlan]:
    """``EXPLAIN (FORMAT JSON)`` of one statement; see :func:`pgstatkit.stats.query_plan`."""
    if not isinstance(query, str):
        raise InvalidArgumentError(f"query must be a str, got {type(query).__name__}")
    analyzed = _validate.flag(analyze, "analyze")
    timeout = _validate.timeout_ms(timeout_ms)
    scanned = scan(query)
    values = _plan_params(params, scanned.max_placeholder)
    generic = scanned.max_placeholder > 0 and values is None
    if generic and analyzed:
        count = scanned.max_placeholder
        placeholders = (
            "placeholder $1 needs a value"
            if count == 1
            else (f"placeholders $1..${count} need values")
        )
        raise InvalidArgumentError(
            f"EXPLAIN ANALYZE runs the statement, so its {placeholders}: pass params=[...], "
            "or analyze=False for a generic plan"
        )

    def steps(ctx: Context) -> Steps[QueryPlan]:
        if analyzed:
            return (yield from _analyzed(scanned.text, values or ()))
        if not generic:
            result = yield Query(f"EXPLAIN (FORMAT JSON) {scanned.text}", values or ())
            return parse_plan(scanned.text, result, analyzed=False, generic=False)
        # A plan without parameter values: PREPARE, then EXPLAIN EXECUTE with NULLs under
        # plan_cache_mode = force_generic_plan -- the plan EXPLAIN (GENERIC_PLAN) gives on
        # PostgreSQL 16+, on every version and through the extended query protocol.
        # PREPARE outlives the guard's rollback: DEALLOCATE ends a call that went well;
        # otherwise the cleanup does, whatever ended the call (it is registered before
        # PREPARE, which may have run on the server although its call was cancelled).
        statement = _Prepared(f"pgstatkit_plan_{os.urandom(8).hex()}")
        nulls = ", ".join(["NULL"] * scanned.max_placeholder)
        yield Cleanup(statement.cleanup)
        yield Query(f"PREPARE {statement.name} AS {scanned.text}")
        yield Query("SELECT pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true)")
        result = yield Query(f"EXPLAIN (FORMAT JSON) EXECUTE {statement.name}({nulls})")
        yield Query(f"DEALLOCATE {statement.name}")
        statement.deallocated = True
        return parse_plan(scanned.text, result, analyzed=False, generic=True)

    return Operation(
        "query_plan",
        steps,
        timeout,
        read_only=not analyzed,
        commit=False,
        pin_search_path=False,
    )


def _require_minmax_reset(version: tuple[int, int]) -> None:
    if version < (1, 11):
        raise ExtensionTooOldError(
            f"pg_stat_statements {version[0]}.{version[1]} is installed; resetting only the "
            "min/max times (minmax_only=True) needs 1.11 (PostgreSQL 17) or later: run "
            "`ALTER EXTENSION pg_stat_statements UPDATE;` on a PostgreSQL 17+ server, or "
            "pass minmax_only=False to reset the whole entries"
        )


def _reset_query(ctx: Context, qid: int | None, *, minmax: bool = False) -> Query:
    """The reset statement: every entry or one queryid's; only min/max times if ``minmax``.

    Raises:
        ExtensionTooOldError: ``minmax`` on an extension older than 1.11.
    """
    version, schema = ctx.require_pg_stat_statements()
    block = "reset_all" if qid is None else "reset_query"
    params: tuple[object, ...] = () if qid is None else (qid,)
    if minmax:
        _require_minmax_reset(version)
        block, params = "reset_minmax", (qid or 0,)
    if version >= (1, 11):
        block += "_1_11"
    sql = _sql.render(_sql.load("statements.sql", block), schema=_sql.quote_ident(schema))
    return Query(sql, params)


def _reset_time(result: Result) -> _dt.datetime | None:
    value = result.rows[0][0] if result.rows else None
    return value if isinstance(value, _dt.datetime) else None


def _reset_operation(
    name: str, steps: Callable[[Context], Steps[T]], timeout_ms: object
) -> Operation[T]:
    return Operation(name, steps, _validate.timeout_ms(timeout_ms), read_only=False, commit=True)


def reset_query_statistics(
    *, queryid: object = None, minmax_only: object = False, timeout_ms: object = None
) -> Operation[_dt.datetime | None]:
    """``pg_stat_statements_reset()``: every entry, or those of one ``queryid``.

    ``minmax_only`` (1.11+) resets only the min/max times; on an older extension the
    steps raise :class:`ExtensionTooOldError` before any query.
    """
    qid = _validate.queryid(queryid)
    minmax = _validate.flag(minmax_only, "minmax_only")

    def steps(ctx: Context) -> Steps[_dt.datetime | None]:
        return _reset_time((yield _reset_query(ctx, qid, minmax=minmax)))

    return _reset_operation("reset_query_statistics", steps, timeout_ms)


class StatementReset(NamedTuple):
    """What :func:`reset_statement` did.

    ``entries``: the entries with the queryid just before the reset (every user, every
    database), as far as the role could see them; ``sees_all``: the role may see every
    user's queryids (``pg_read_all_stats``), so ``entries`` is the full count;
    ``reset_at``: the reset time on ``pg_stat_statements`` 1.11+, else ``None``.
    """

    entries: int
    sees_all: bool
    reset_at: _dt.datetime | None


def reset_statement(
    *, queryid: object, minmax_only: object = False, timeout_ms: object = None
) -> Operation[StatementReset]:
    """Count the entries of one ``queryid``, then reset them, in one guarded call.

    Private to pgstatkit (the command line's ``reset --queryid``): the public
    :func:`pgstatkit.stats.reset_query_statistics` keeps its return type.
    """
    qid = _validate.queryid(queryid)
    if qid is None:
        raise InvalidArgumentError("queryid must be given: reset_statement resets one statement")
    minmax = _validate.flag(minmax_only, "minmax_only")

    def steps(ctx: Context) -> Steps[StatementReset]:
        _version, schema = ctx.require_pg_stat_statements()
        count_sql = _sql.render(
            _sql.load("statements.sql", "count_query"), schema=_sql.quote_ident(schema)
        )
        reset = _reset_query(ctx, qid, minmax=minmax)  # refuses minmax before 1.11
        counted = (yield Query(count_sql, (qid,))).rows[0]
        when = _reset_time((yield reset))
        return StatementReset(int(str(counted[0])), bool(counted[1]), when)

    return _reset_operation("reset_query_statistics", steps, timeout_ms)

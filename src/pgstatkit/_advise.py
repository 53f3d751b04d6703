"""The index advisor as a sans-I/O :class:`~pgstatkit._protocol.Operation`.

:func:`advice` validates the arguments and returns the operation; its steps read the
workload and the catalog, explain statements with and without hypothetical indexes
(hypopg, when the database has it) and hand the numbers to :mod:`pgstatkit._advisor`.
:mod:`pgstatkit.advisor` (and its generated blocking twin) run it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from pgstatkit import _advisor, _install, _sql, _validate
from pgstatkit import _history as _h
from pgstatkit._errors import ServerError
from pgstatkit._history import NoHistoryError
from pgstatkit._operations import _EVERY_ENTRY, _statements_query
from pgstatkit._parse import parse_rows
from pgstatkit._protocol import Cleanup, Context, Operation, Query, Result, Steps
from pgstatkit._scan import scan
from pgstatkit.errors import InvalidArgumentError, UnsafeQueryError
from pgstatkit.fingerprints import (
    CHANGES_ENTRIES,
    _fingerprint,
    group_changes,
    group_statements,
    require_pglast,
)
from pgstatkit.models import HelpedStatement, IndexSuggestion, QueryStat

__all__ = [
    "DEFAULT_SINCE",
    "SOURCES",
    "Advice",
    "advice",
    "check_count",
    "check_source",
    "index_suggestions",
]

SECONDS_PER_DAY = 86_400.0
MIN_WINDOW_SECONDS = 60.0
_TIMEOUT_SQLSTATES = frozenset({"57014", "55P03"})
_PRIVILEGE_SQLSTATES = frozenset({"42501"})

SOURCES = ("auto", "history", "reset")
"""``suggest_indexes(source=...)``: ``"auto"`` reads pgstatkit's history when the
window has snapshots of the target, else the counters since the last reset;
``"history"`` only the history (an error without it); ``"reset"`` only the counters."""

DEFAULT_SINCE = _dt.timedelta(days=7)
"""The history window of the advisor when ``since`` is not given: the last 7 days."""


@dataclass(frozen=True, slots=True)
class Advice:
    """What one advisor run found, and what it cost (for the benchmarks)."""

    suggestions: list[IndexSuggestion]
    validated: bool
    statements_examined: int
    candidates: int
    explains: int
    notes: tuple[str, ...] = ()
    source: str = "since_reset"
    window_start: _dt.datetime | None = None
    window_end: _dt.datetime | None = None


class _Counted(Protocol):
    """What the advisor reads of a statement: a ``QueryStat`` (since the reset) or a
    history ``StatementChange`` (over the window), grouped by fingerprint."""

    @property
    def queryid(self) -> int | None: ...
    @property
    def query(self) -> str | None: ...
    @property
    def calls(self) -> int: ...
    @property
    def total_exec_time_ms(self) -> float: ...


@dataclass(frozen=True, slots=True)
class _Window:
    """Where the workload came from: its source and the span its counters cover."""

    source: str
    start: _dt.datetime
    end: _dt.datetime

    @property
    def days(self) -> float:
        seconds = (self.end - self.start).total_seconds()
        return max(seconds, MIN_WINDOW_SECONDS) / SECONDS_PER_DAY


@dataclass(slots=True)
class _Statement:
    stat: _Counted
    fingerprint: str
    text: str
    placeholders: int
    predicates: _advisor.Predicates
    usages: dict[int, _advisor.Usage] = field(default_factory=dict)
    cost_before: float | None = None

    @property
    def mean_exec_time_ms(self) -> float:
        return self.stat.total_exec_time_ms / self.stat.calls if self.stat.calls else 0.0


@dataclass(slots=True)
class _Session:
    """What the advisor leaves in the session until its cleanup: its hypothetical
    indexes (those not in ``before``) and its prepared statement."""

    hypopg: str | None
    prepared: str
    before: list[int] | None = None
    created: bool = False

    def cleanup(self) -> Generator[Query, Result, None]:
        found = yield Query(_sql.load("session.sql", "prepared_statement"), (self.prepared,))
        if found.rows:
            yield Query(f"DEALLOCATE {self.prepared}")
        if self.hypopg is not None and self.before is not None and self.created:
            sql = _sql.render(_sql.load("advisor.sql", "drop_new_hypothetical"), hypopg=self.hypopg)
            yield Query(sql, (self.before,))


def check_count(value: object, name: str, low: int, high: int) -> int:
    """An int from ``low`` to ``high`` (``InvalidArgumentError`` otherwise)."""
    return _count(value, name, low, high)


def _count(value: object, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidArgumentError(f"{name} must be an int from {low} to {high}, got {value!r}")
    return value


def check_source(value: object) -> str:
    """``source``: one of :data:`SOURCES` (``InvalidArgumentError`` otherwise)."""
    return _validate.choice(value, "source", SOURCES)


def _max_bytes(value: object) -> int | None:
    if value is None:
        return None
    return _count(value, "max_bytes", 8192, 2**62)


def _plan_cost(result: Result) -> tuple[float, str]:
    raw = result.rows[0][0]
    document: Any = json.loads(raw) if isinstance(raw, str | bytes) else raw
    if isinstance(document, list):
        document = document[0]
    return float(document["Plan"]["Total Cost"]), json.dumps(document)


def advice(
    *,
    statements: object = 100,
    max_indexes: object = 5,
    max_bytes: object = None,
    min_table_rows: object = 1000,
    min_cost_reduction_ratio: object = 0.2,
    validate: object = True,
    source: object = "auto",
    since: object = DEFAULT_SINCE,
    until: object = None,
    target: object = _h.DEFAULT_TARGET,
    schema: object = "pgstatkit",
    timeout_ms: object = None,
) -> Operation[Advice]:
    """The advisor's operation; see :func:`pgstatkit.advisor.suggest_indexes`."""
    how = check_source(source)
    start, end = _h.window(since, until, _h.now())
    history_target = _h.target_name(target)
    helper = _install.schema_name(schema)
    top = _count(statements, "statements", 1, _validate.MAX_LIMIT)
    budget = _count(max_indexes, "max_indexes", 1, 100)
    budget_bytes = _max_bytes(max_bytes)
    min_rows = _count(min_table_rows, "min_table_rows", 0, 2**62)
    min_ratio = _validate.ratio(min_cost_reduction_ratio, "min_cost_reduction_ratio")
    use_hypopg = _validate.flag(validate, "validate")
    timeout = _validate.timeout_ms(timeout_ms)
    require_pglast()

    def steps(ctx: Context) -> Steps[Advice]:
        notes: list[str] = []
        history: tuple[list[_Counted], _Window] | None = None
        if how != "reset":
            history = yield from _from_history(
                ctx, how == "history", helper, history_target, start, end, timeout, notes
            )
        if history is None:
            grouped, span = yield from _since_reset(ctx)
        else:
            grouped, span = history
        workload = _workload(grouped, top)
        days = span.days
        found = yield Query(_sql.load("advisor.sql", "hypopg"))
        hypopg = None
        if found.rows and use_hypopg:
            if found.rows[0][1]:
                hypopg = _sql.quote_ident(str(found.rows[0][0]))
            else:
                notes.append(
                    "hypopg is installed but this role may not use it (it needs USAGE on "
                    "hypopg's schema, SELECT on hypopg_list_indexes and EXECUTE on "
                    "hypopg_create_index): suggestions are estimated, unvalidated"
                )
        catalog = yield from _catalog(_advisor.relation_names(s.predicates for s in workload))
        per_candidate: dict[_advisor.Candidate, set[int]] = {}
        for number, statement in enumerate(workload):
            statement.usages = _advisor.usages(statement.predicates, catalog)
            for oid, usage in statement.usages.items():
                table = _table(catalog, oid)
                found_here, skipped = _advisor.candidates(usage, table, min_table_rows=min_rows)
                notes.extend(skipped)
                for candidate in found_here:
                    per_candidate.setdefault(candidate, set()).add(number)
        tables = {t.oid: t for t in catalog.by_name.values()}
        session = _Session(hypopg, f"pgstatkit_advise_{os.urandom(8).hex()}")
        explains = 0
        evaluated: list[_advisor.Evaluated] = []
        if hypopg is not None and per_candidate:
            yield Cleanup(session.cleanup)
            listed = yield Query(
                _sql.render(_sql.load("advisor.sql", "hypothetical_indexes"), hypopg=hypopg)
            )
            session.before = [int(str(r[0])) for r in listed.rows]
            yield Query(_sql.load("advisor.sql", "generic_plans"))
            for statement in workload:
                if statement.usages:
                    explained = yield from _explain(session, statement)
                    explains += 1
                    statement.cost_before = explained[0] if explained else None
            for candidate, proposers in per_candidate.items():
                table = tables[candidate.oid]
                on_table = {
                    n for n, s in enumerate(workload) if candidate.oid in s.usages and s.cost_before
                } | {n for n in proposers if workload[n].cost_before}
                session.created = True
                made = yield Query(
                    _sql.render(_sql.load("advisor.sql", "create_hypothetical"), hypopg=hypopg),
                    (_advisor.create_statement(table, candidate, concurrently=False),),
                )
                hypo_oid, name, size = made.rows[0]
                ev = _advisor.Evaluated(
                    candidate,
                    int(str(size)),
                    _write_overhead(table, days),
                    {},
                )
                for number in sorted(on_table):
                    statement = workload[number]
                    explained = yield from _explain(session, statement)
                    explains += 1
                    if explained is None or not statement.cost_before:
                        continue
                    cost, plan = explained
                    ratio = 1.0 - cost / statement.cost_before
                    if json.dumps(str(name)) in plan and ratio >= min_ratio:
                        ev.ratios[number] = ratio
                        ev.costs_after[number] = cost
                yield Query(
                    _sql.render(_sql.load("advisor.sql", "drop_hypothetical"), hypopg=hypopg),
                    (int(str(hypo_oid)),),
                )
                evaluated.append(ev)
        else:
            for candidate, proposers in per_candidate.items():
                table = tables[candidate.oid]
                ratios = {}
                for number in proposers:
                    usage = workload[number].usages[candidate.oid]
                    ratio = _advisor.estimate_ratio(table, candidate, usage, limit=20.0)
                    if ratio >= min_ratio:
                        ratios[number] = ratio
                evaluated.append(
                    _advisor.Evaluated(
                        candidate,
                        _advisor.estimate_size_bytes(table, candidate),
                        _write_overhead(table, days),
                        ratios,
                    )
                )
        saved_per_ratio = [s.stat.calls * s.mean_exec_time_ms / days for s in workload]
        chosen = _advisor.select(
            evaluated, saved_per_ratio, max_indexes=budget, max_bytes=budget_bytes
        )
        suggestions = [
            _suggestion(
                ev, gains, tables[ev.candidate.oid], workload, saved_per_ratio, hypopg, span
            )
            for ev, gains in chosen
        ]
        return Advice(
            suggestions,
            hypopg is not None,
            len(workload),
            len(per_candidate),
            explains,
            tuple(dict.fromkeys(notes)),
            span.source,
            span.start,
            span.end,
        )

    return Operation("suggest_indexes", steps, timeout, pin_search_path=False)


def _since_reset(ctx: Context) -> Steps[tuple[list[_Counted], _Window]]:
    """The current database's statements since ``pg_stat_statements`` was last reset
    (pgstatkit's own left out), grouped by fingerprint, and the span they cover."""
    version, schema = ctx.require_pg_stat_statements()
    rows = yield _statements_query("top_queries_by_total_time", ctx, (_EVERY_ENTRY,), False, False)
    grouped: list[_Counted] = list(group_statements(parse_rows(QueryStat, rows, release=True)))
    block = "window_1_9" if version >= (1, 9) else "window"
    window = yield Query(
        _sql.render(_sql.load("advisor.sql", block), schema=_sql.quote_ident(schema))
    )
    since, until, _ = window.rows[0]
    return grouped, _Window("since_reset", cast(_dt.datetime, since), cast(_dt.datetime, until))


def _from_history(
    ctx: Context,
    required: bool,
    schema: str,
    target: str,
    since: _dt.datetime,
    until: _dt.datetime,
    timeout: int,
    notes: list[str],
) -> Steps[tuple[list[_Counted], _Window] | None]:
    """The current database's statements in the history window (since, until] of
    ``target``, summed per fingerprint, and the span the window's intervals cover (from
    the snapshot before its first interval to its last snapshot); ``None`` when the
    store has no history tables, no interval of the target in the window, or the role
    may not read it (``required``: raise instead)."""
    yield Query("SAVEPOINT pgstatkit_advise_history")
    try:
        taken = yield from _h.snapshots(
            schema=schema, target=target, since=since, until=until, timeout_ms=timeout
        ).steps(ctx)
        intervals = [s for s in taken if s.status != "baseline"]
        if not intervals:
            yield Query("RELEASE SAVEPOINT pgstatkit_advise_history")
            if required:
                raise NoHistoryError(
                    f"no snapshot of target {target!r} in the history window "
                    f"({since.isoformat()}, {until.isoformat()}] (schema {schema!r}) but "
                    "baselines: take snapshots (pgstatkit.history.snapshot or the "
                    "collector; the second one closes the first interval), widen since, "
                    "or use source='auto' or 'reset'"
                )
            return None
        found = yield Query(_sql.load("advisor.sql", "database"))
        dbid = int(str(found.rows[0][0]))
        changes = yield from group_changes(
            _h.changes(
                schema=schema,
                target=target,
                since=since,
                until=until,
                order_by="total_exec_time_ms",
                limit=CHANGES_ENTRIES,
                include_pgstatkit=False,
                queryid=None,
                timeout_ms=timeout,
                dbid=dbid,
            ),
            "total_exec_time_ms",
            CHANGES_ENTRIES,
        ).steps(ctx)
    except _h.HistoryNotInstalledError:
        yield Query("RELEASE SAVEPOINT pgstatkit_advise_history")
        if required:
            raise
        return None
    except ServerError as exc:
        if required or exc.sqlstate not in _PRIVILEGE_SQLSTATES or exc.connection_lost:
            raise
        yield Query("ROLLBACK TO SAVEPOINT pgstatkit_advise_history")
        yield Query("RELEASE SAVEPOINT pgstatkit_advise_history")
        notes.append(
            f"the history in schema {schema!r} is not readable by this role: "
            "used the counters since the last reset"
        )
        return None
    yield Query("RELEASE SAVEPOINT pgstatkit_advise_history")
    start = min(s.previous_captured_at or s.captured_at for s in intervals)
    end = max(s.captured_at for s in intervals)
    return list(changes.statements), _Window("history", start, end)


def index_suggestions(**arguments: Any) -> Operation[list[IndexSuggestion]]:
    """:func:`advice`, returning only the suggestions (the report's operation)."""
    inner = advice(**arguments)

    def steps(ctx: Context) -> Steps[list[IndexSuggestion]]:
        found = yield from inner.steps(ctx)
        return found.suggestions

    return Operation(inner.name, steps, inner.timeout_ms, pin_search_path=False)


def _workload(grouped: list[_Counted], top: int) -> list[_Statement]:
    """The ``top`` statements by total time that the advisor can read: one statement
    (a SELECT, UPDATE or DELETE that parses), with execution time."""
    found: list[_Statement] = []
    for stat in grouped:
        if len(found) >= top:
            break
        if not stat.query or stat.calls == 0 or stat.total_exec_time_ms <= 0:
            continue
        try:
            scanned = scan(stat.query)
        except UnsafeQueryError:
            continue
        if scanned.keyword.upper() not in ("SELECT", "WITH", "UPDATE", "DELETE"):
            continue
        predicates = _advisor.parse_predicates(scanned.text)
        if predicates is None:
            continue
        try:
            print_ = _fingerprint(scanned.text)
        except InvalidArgumentError:
            continue
        found.append(_Statement(stat, print_, scanned.text, scanned.max_placeholder, predicates))
    return found


def _catalog(names: list[str]) -> Generator[Query, Result, _advisor.Catalog]:
    if not names:
        return _advisor.Catalog({})
    result = yield Query(_sql.load("advisor.sql", "tables"), (names,))
    by_name: dict[str, _advisor.Table] = {}
    by_oid: dict[int, _advisor.Table] = {}
    for name, oid, schema, table, reltuples, relpages, ins, upd, hot, _del, seconds in result.rows:
        key = int(str(oid))
        by_oid.setdefault(
            key,
            _advisor.Table(
                key,
                str(schema),
                str(table),
                float(str(reltuples)),
                int(str(relpages)),
                int(str(ins)) + int(str(upd)) - int(str(hot)),
                float(str(seconds or 0.0)),
            ),
        )
        by_name[str(name)] = by_oid[key]
    if not by_oid:
        return _advisor.Catalog({})
    oids = list(by_oid)
    columns = yield Query(_sql.load("advisor.sql", "columns"), (oids,))
    for oid, column, n_distinct, avg_width, correlation, btree in columns.rows:
        by_oid[int(str(oid))].columns[str(column)] = _advisor.Column(
            None if n_distinct is None else float(str(n_distinct)),
            None if avg_width is None else int(str(avg_width)),
            None if correlation is None else float(str(correlation)),
            btree is True,
        )
    indexes = yield Query(_sql.load("advisor.sql", "indexes"), (oids,))
    for oid, index, method, valid, partial, cols in indexes.rows:
        by_oid[int(str(oid))].indexes.append(
            _advisor.Index(
                str(index),
                str(method),
                valid is True,
                partial is True,
                tuple(None if c is None else str(c) for c in cast(list[object], cols or [])),
            )
        )
    return _advisor.Catalog(by_name)


def _table(catalog: _advisor.Catalog, oid: int) -> _advisor.Table:
    return next(t for t in catalog.by_name.values() if t.oid == oid)


def _write_overhead(table: _advisor.Table, days: float) -> float:
    """ms per day one more index costs the table's writes (inserts, non-HOT updates)."""
    stats_days = max(table.stats_seconds, MIN_WINDOW_SECONDS) / SECONDS_PER_DAY
    del days
    return table.writes / stats_days * _advisor.WRITE_COST_MS_PER_ROW


def _explain(
    session: _Session, statement: _Statement
) -> Generator[Query, Result, tuple[float, str] | None]:
    """The generic plan's cost and JSON of ``statement``, in a savepoint: a statement
    that fails to plan (a dropped table, a type the NULL parameters do not fit) gives
    None and leaves the transaction usable. A timeout is not swallowed; the cleanup
    then deallocates the prepared statement."""
    yield Query("SAVEPOINT pgstatkit_advise")
    prepared = False
    try:
        if statement.placeholders:
            nulls = ", ".join(["NULL"] * statement.placeholders)
            yield Query(f"PREPARE {session.prepared} AS {statement.text}")
            prepared = True
            result = yield Query(f"EXPLAIN (FORMAT JSON) EXECUTE {session.prepared}({nulls})")
            prepared = False
            yield Query(f"DEALLOCATE {session.prepared}")
        else:
            result = yield Query(f"EXPLAIN (FORMAT JSON) {statement.text}")
    except ServerError as exc:
        if exc.sqlstate in _TIMEOUT_SQLSTATES or exc.sqlstate is None or exc.connection_lost:
            raise
        yield Query("ROLLBACK TO SAVEPOINT pgstatkit_advise")
        yield Query("RELEASE SAVEPOINT pgstatkit_advise")
        if prepared:
            yield Query(f"DEALLOCATE {session.prepared}")
        return None
    yield Query("RELEASE SAVEPOINT pgstatkit_advise")
    return _plan_cost(result)


def _suggestion(
    ev: _advisor.Evaluated,
    gains: dict[int, float],
    table: _advisor.Table,
    workload: list[_Statement],
    saved_per_ratio: list[float],
    hypopg: str | None,
    span: _Window,
) -> IndexSuggestion:
    helped = []
    for number, ratio in sorted(ev.ratios.items(), key=lambda x: -saved_per_ratio[x[0]] * x[1]):
        statement = workload[number]
        helped.append(
            HelpedStatement(
                fingerprint=statement.fingerprint,
                queryid=statement.stat.queryid,
                query=statement.stat.query or statement.text,
                calls=statement.stat.calls,
                mean_exec_time_ms=statement.mean_exec_time_ms,
                plan_cost_before=statement.cost_before if hypopg else None,
                plan_cost_after=ev.costs_after.get(number) if hypopg else None,
                cost_reduction_ratio=ratio,
                time_saved_ms_per_day=gains.get(number, 0.0),
            )
        )
    return IndexSuggestion(
        schema=table.schema,
        table=table.name,
        columns=ev.candidate.columns,
        create_statement=_advisor.create_statement(table, ev.candidate, concurrently=True),
        estimated_size_bytes=ev.size_bytes,
        time_saved_ms_per_day=sum(gains.values()),
        write_overhead_ms_per_day=ev.write_overhead_ms_per_day,
        validated=hypopg is not None,
        source=span.source,
        window_start=span.start,
        window_end=span.end,
        statements=tuple(helped),
    )

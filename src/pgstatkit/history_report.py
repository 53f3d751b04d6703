"""History reports, async: ``from pgstatkit import history_report``.

The blocking twin, :mod:`pgstatkit.sync.history_report`, has the same names and keyword
arguments.

:func:`build` reads a period of history (:mod:`pgstatkit.history`) and returns a
:class:`HistoryReport`: the top statements by total time with their change against the
previous period of the same length, the regressions (:mod:`pgstatkit.regressions`), new
statements and call-rate jumps, the database's trends interval by interval (time in
statements, cache hit ratio, commits and rollbacks, temp bytes), every interval that was
not complete, and health findings and index suggestions when this pgstatkit has them.
Render it with :func:`render_text`, :func:`render_markdown`, :func:`render_json` or
:func:`render_html` (charts: the ``reports`` extra), or mail it with
:func:`email_message` and :func:`send_email`. docs/reports.md shows all of it.
"""

from __future__ import annotations

import datetime as _dt
import importlib
from collections.abc import Sequence
from typing import Any

from pgstatkit import _advise, _install, _validate
from pgstatkit import _history as _h
from pgstatkit._regressions import Thresholds, detect, periods
from pgstatkit._report_render import (
    FLAG_MEANINGS,
    HistoryReport,
    IntervalFlag,
    SmtpError,
    TopStatement,
    TrendPoint,
    charts,
    email_message,
    render_html,
    render_json,
    render_markdown,
    render_text,
    send_email,
    sparkline,
)
from pgstatkit._run import run_async
from pgstatkit.adapters import open_async
from pgstatkit.checks import CheckFinding, from_health
from pgstatkit.errors import ExtraNotInstalledError, InvalidArgumentError, PgStatKitError

__all__ = [
    "HistoryReport",
    "IntervalFlag",
    "SmtpError",
    "TopStatement",
    "TrendPoint",
    "build",
    "charts",
    "email_message",
    "render_html",
    "render_json",
    "render_markdown",
    "render_text",
    "send_email",
    "sparkline",
]


def _health_operation() -> Any:
    """The health checks' operation (``pgstatkit._health.health``) when this pgstatkit
    has them, else ``None``."""
    try:
        module = importlib.import_module("pgstatkit._health")
    except ImportError:
        return None
    return getattr(module, "health", None)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _top(current: Any, previous: Any, limit: int) -> tuple[TopStatement, ...]:
    before: dict[tuple[str, int, int, int], tuple[int, float]] = {}
    for s in previous.statements:
        key = (s.target, s.dbid, s.userid, s.queryid)
        calls, total = before.get(key, (0, 0.0))
        before[key] = (calls + s.calls, total + s.total_exec_time_ms)
    now: dict[tuple[str, int, int, int], list[Any]] = {}
    for s in current.statements:
        now.setdefault((s.target, s.dbid, s.userid, s.queryid), []).append(s)
    rows = []
    for key, entries in now.items():
        calls = sum(e.calls for e in entries)
        total = sum(e.total_exec_time_ms for e in entries)
        first = entries[0]
        prev = before.get(key)
        rows.append(
            TopStatement(
                first.target,
                first.queryid,
                first.database,
                first.username,
                next((e.query for e in entries if e.query is not None), None),
                calls,
                total,
                total / calls if calls else None,
                prev[0] if prev else None,
                prev[1] if prev else None,
                total / prev[1] if prev and prev[1] > 0 else None,
            )
        )
    rows.sort(key=lambda r: (-r.total_exec_time_ms, r.queryid))
    return tuple(rows[:limit])


def _trend(intervals: Sequence[Any]) -> tuple[TrendPoint, ...]:
    points = []
    for i in intervals:
        hit, read = i.blks_hit, i.blks_read
        ratio = hit / (hit + read) if hit is not None and read is not None and hit + read else None
        points.append(
            TrendPoint(
                i.target,
                i.captured_at,
                (i.captured_at - i.previous_captured_at).total_seconds(),
                i.status,
                i.active_time_ms,
                ratio,
                i.xact_commit,
                i.xact_rollback,
                i.temp_bytes,
            )
        )
    return tuple(points)


def _flags(snapshots: Sequence[Any]) -> tuple[IntervalFlag, ...]:
    return tuple(
        IntervalFlag(
            s.target,
            s.captured_at,
            s.previous_captured_at,
            s.status,
            s.evictions,
            FLAG_MEANINGS[s.status],
        )
        for s in snapshots
        if s.status in FLAG_MEANINGS
    )


async def build(
    conn: Any,
    *,
    since: _dt.timedelta | _dt.datetime = _dt.timedelta(days=7),
    until: _dt.datetime | None = None,
    target: str | None = None,
    limit: int = 10,
    regression_window: _dt.timedelta | tuple[_dt.datetime, _dt.datetime] | None = None,
    regression_baseline: int
    | _dt.timedelta
    | Sequence[tuple[_dt.datetime, _dt.datetime]]
    | None = None,
    thresholds: Thresholds | None = None,
    include_pgstatkit: bool = False,
    index_suggestions: bool = True,
    health: bool = True,
    schema: str = "pgstatkit",
    timeout_ms: float | None = None,
) -> HistoryReport:
    """Build the report of the period (``since``, ``until``] from the history store.

    Args:
        conn: the history store's connection.
        since: start of the period: a timedelta before ``until`` (default 7 days) or a
            zone-aware datetime.
        until: end of the period (default now).
        target: one history target; ``None``: every target of the store.
        limit: top statements shown (1 to 10,000; default 10).
        regression_window: the regressions' recent window (default: the period's last
            hour); regression_baseline: their baseline (default: the same hour on the
            7 days before). See :func:`pgstatkit.regressions.regressions`.
        thresholds: the regressions' thresholds.
        include_pgstatkit: also pgstatkit's own statements.
        index_suggestions: run the index advisor (:mod:`pgstatkit.advisor`, read-only)
            on ``conn``'s database for its section, over the period's history of
            ``target`` (default ``"local"``) when it has snapshots, else since the
            last reset; left out (with a note) when the ``advisor`` extra is missing
            or the advisor cannot run.
        health: run the health checks on ``conn``'s database for their section, when
            this pgstatkit has them.
        schema: the store's helper schema.
        timeout_ms: statement timeout of each statement (default 5000 ms).

    Raises:
        InvalidArgumentError: a bad argument (before anything is sent).
        HistoryNotInstalledError: the store has no history tables: run install there.
    """
    end = _now() if until is None else _h.window(_dt.timedelta(seconds=1), until, _now())[1]
    if isinstance(since, _dt.timedelta):
        if since <= _dt.timedelta(0):
            raise InvalidArgumentError(f"since must be a positive timedelta, got {since!r}")
        start = end - since
    else:
        start, end = _h.window(since, end, end)
    previous = start - (end - start)
    rows = _validate.limit(limit)
    limits = Thresholds() if thresholds is None else thresholds
    if not isinstance(limits, Thresholds):
        raise InvalidArgumentError("thresholds must be a pgstatkit.regressions.Thresholds")
    default_window = (max(start, end - _dt.timedelta(hours=1)), end)
    window_bounds, base = periods(
        default_window if regression_window is None else regression_window,
        regression_baseline,
        end,
    )
    name = _h.optional_target(target)
    common: dict[str, Any] = {
        "schema": _install.schema_name(schema),
        "target": name,
        "timeout_ms": _validate.timeout_ms(timeout_ms),
    }
    changes: dict[str, Any] = {
        **common,
        "order_by": "total_exec_time_ms",
        "limit": _validate.MAX_LIMIT,
        "include_pgstatkit": _validate.flag(include_pgstatkit, "include_pgstatkit"),
        "queryid": None,
    }
    async with open_async(conn) as session:
        current = await run_async(session, _h.changes(since=start, until=end, **changes))
        before = await run_async(session, _h.changes(since=previous, until=start, **changes))
        recent = await run_async(
            session, _h.changes(since=window_bounds[0], until=window_bounds[1], **changes)
        )
        baseline = [
            await run_async(session, _h.changes(since=s, until=u, **changes)) for s, u in base
        ]
        intervals = await run_async(session, _h.database_timeline(since=start, until=end, **common))
        taken = await run_async(session, _h.snapshots(since=start, until=end, **common))
        notes: list[str] = []
        suggestions: tuple[str, ...] | None = None
        if _validate.flag(index_suggestions, "index_suggestions"):
            try:
                advised = await run_async(
                    session,
                    _advise.index_suggestions(
                        since=start,
                        until=end,
                        target=name or _h.DEFAULT_TARGET,
                        schema=common["schema"],
                        timeout_ms=common["timeout_ms"],
                    ),
                )
                suggestions = tuple(
                    f"{a.create_statement} -- saves about {a.time_saved_ms_per_day:,.0f} "
                    f"ms/day ({'checked with hypopg' if a.validated else 'estimated'}; "
                    f"{'from the history' if a.source == 'history' else 'since the reset'})"
                    for a in advised
                )
            except ExtraNotInstalledError:
                notes.append(
                    'index suggestions need the advisor extra: pip install "pgstatkit[advisor]"'
                )
            except PgStatKitError as exc:
                notes.append(f"index suggestions unavailable: {exc}")
        findings: tuple[CheckFinding, ...] | None = None
        checker = _health_operation()
        if _validate.flag(health, "health") and checker is not None:
            try:
                checked = await run_async(session, checker(timeout_ms=common["timeout_ms"]))
                findings = tuple(from_health(checked))
            except PgStatKitError as exc:
                notes.append(f"health checks unavailable: {exc}")
    if current.intervals == 0:
        notes.append(
            "no snapshots in the period: take them regularly (pgstatkit.history.snapshot, "
            "docs/history.md)"
        )
    return HistoryReport(
        target=name,
        since=start,
        until=end,
        previous_since=previous,
        generated_at=_now(),
        top_statements=_top(current, before, rows),
        regressions=detect(recent, baseline, limits),
        trend=_trend(intervals),
        flags=_flags(taken),
        health=findings,
        index_suggestions=suggestions,
        notes=tuple(notes),
    )

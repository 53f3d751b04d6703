# Generated from src/pgstatkit/regressions.py by tools/async_to_sync.py: do not edit.
"""Regressions, blocking: ``from pgstatkit.sync import regressions``.

Generated from :mod:`pgstatkit.regressions` by ``tools/async_to_sync.py``: do not edit.
The async twin has the same names and keyword arguments.

Statements whose per-call cost grew between a baseline and a recent window of history
(:mod:`pgstatkit.history`): mean execution and planning time judged by Welch's t-test
from the periods' means, standard deviations and calls; shared blocks read and hit,
rows and temp blocks per call; new statements in the top by total time; calls-per-minute
jumps; and what lossy or reset intervals mean for each finding. docs/reports.md
describes the thresholds (:class:`Thresholds`) and their defaults.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from pgstatkit import _history as _h
from pgstatkit import _install, _validate
from pgstatkit._regressions import (
    CallRateJump,
    NewStatement,
    Period,
    Regression,
    RegressionReport,
    Thresholds,
    detect,
    periods,
)
from pgstatkit._run import run_sync
from pgstatkit.adapters import open_sync
from pgstatkit.errors import InvalidArgumentError

__all__ = [
    "CallRateJump",
    "NewStatement",
    "Period",
    "Regression",
    "RegressionReport",
    "Thresholds",
    "regressions",
]


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def regressions(
    conn: Any,
    *,
    window: _dt.timedelta | tuple[_dt.datetime, _dt.datetime] = _dt.timedelta(hours=1),
    baseline: int | _dt.timedelta | Sequence[tuple[_dt.datetime, _dt.datetime]] | None = None,
    target: str | None = None,
    thresholds: Thresholds | None = None,
    include_pgstatkit: bool = False,
    schema: str = "pgstatkit",
    timeout_ms: float | None = None,
) -> RegressionReport:
    """Compare a recent ``window`` of history with a ``baseline``.

    Args:
        conn: the history store's connection (where snapshots are written).
        window: the recent period: a timedelta (the last hour by default) or
            (since, until), zone-aware datetimes.
        baseline: ``None``: the window shifted back by 1 to 7 days (the same hour on
            the 7 days before); an int n: the same over n days; a timedelta: the period
            of that length right before the window; or a list of (since, until).
        target: one history target; ``None``: every target of the store (statements of
            different targets never match each other).
        thresholds: what counts as a regression (:class:`Thresholds`, defaults
            documented there and in docs/reports.md).
        include_pgstatkit: also judge pgstatkit's own statements.
        schema: the store's helper schema.
        timeout_ms: statement timeout of each statement (default 5000 ms).

    Raises:
        InvalidArgumentError: a bad argument (before anything is sent).
        HistoryNotInstalledError: the store has no history tables: run install there.
    """
    limits = Thresholds() if thresholds is None else thresholds
    if not isinstance(limits, Thresholds):
        raise InvalidArgumentError(
            f"thresholds must be a pgstatkit.regressions.Thresholds, got {type(limits).__name__}"
        )
    (start, end), base = periods(window, baseline, _now())
    options: dict[str, Any] = {
        "schema": _install.schema_name(schema),
        "target": _h.optional_target(target),
        "order_by": "total_exec_time_ms",
        "limit": _validate.MAX_LIMIT,
        "include_pgstatkit": _validate.flag(include_pgstatkit, "include_pgstatkit"),
        "queryid": None,
        "timeout_ms": _validate.timeout_ms(timeout_ms),
    }
    with open_sync(conn) as session:
        recent = run_sync(session, _h.changes(since=start, until=end, **options))
        before = [
            run_sync(session, _h.changes(since=since, until=until, **options))
            for since, until in base
        ]
    return detect(recent, before, limits)

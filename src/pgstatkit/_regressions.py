# ruff: noqa: E501 - the field meanings at the end are table cells, one line each
"""Regression detection, sans I/O: from what :func:`pgstatkit.history.changes` returns
for a recent window and for baseline periods, the statements whose per-call cost grew.

Everything here is arithmetic on the history's sums: per-call means, a Welch's t-test
built from each period's mean, standard deviation and calls, new statements in the top
by total time, calls-per-minute jumps, and what lossy or reset intervals mean for the
confidence of each finding. :mod:`pgstatkit.regressions` fetches the periods and calls
:func:`detect`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pgstatkit import _fielddoc
from pgstatkit.errors import InvalidArgumentError

__all__ = [
    "CallRateJump",
    "NewStatement",
    "Period",
    "Regression",
    "RegressionReport",
    "Thresholds",
    "detect",
    "periods",
    "welch",
]

Confidence = Literal["high", "reduced", "low"]


class _Change(Protocol):
    """The fields of ``pgstatkit.history.StatementChange`` used here."""

    @property
    def target(self) -> str: ...
    @property
    def dbid(self) -> int: ...
    @property
    def database(self) -> str | None: ...
    @property
    def userid(self) -> int: ...
    @property
    def username(self) -> str | None: ...
    @property
    def queryid(self) -> int: ...
    @property
    def toplevel(self) -> bool: ...
    @property
    def query(self) -> str | None: ...
    @property
    def recreated(self) -> bool: ...
    @property
    def calls(self) -> int: ...
    @property
    def rows(self) -> int: ...
    @property
    def total_exec_time_ms(self) -> float: ...
    @property
    def stddev_exec_time_ms(self) -> float | None: ...
    @property
    def plans(self) -> int: ...
    @property
    def total_plan_time_ms(self) -> float: ...
    @property
    def stddev_plan_time_ms(self) -> float | None: ...
    @property
    def shared_blks_hit(self) -> int: ...
    @property
    def shared_blks_read(self) -> int: ...
    @property
    def temp_blks_read(self) -> int: ...
    @property
    def temp_blks_written(self) -> int: ...


class _Changes(Protocol):
    """The fields of ``pgstatkit.history.HistoryChanges`` used here."""

    @property
    def since(self) -> _dt.datetime: ...
    @property
    def until(self) -> _dt.datetime: ...
    @property
    def intervals(self) -> int: ...
    @property
    def complete_intervals(self) -> int: ...
    @property
    def reset_intervals(self) -> int: ...
    @property
    def lossy_intervals(self) -> int: ...
    @property
    def evictions(self) -> int | None: ...
    @property
    def statements(self) -> Sequence[Any]: ...


# ------------------------------------------------------------------------ statistics


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularized incomplete beta (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def _betai(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def welch(
    mean1: float, sd1: float, n1: int, mean2: float, sd2: float, n2: int
) -> tuple[float | None, float | None, float]:
    """Welch's t-test that sample 2's mean is *greater* than sample 1's (one-sided).

    ``sd1``/``sd2`` are population standard deviations (as ``pg_stat_statements``
    keeps them), corrected here to sample variances. Returns (t, degrees of freedom,
    p-value); t and df are ``None`` when both variances are 0 (then p is 0 when the
    means differ upwards, else 1). Needs ``n1, n2 >= 2``.
    """
    if n1 < 2 or n2 < 2:
        raise ValueError("Welch's t-test needs at least 2 observations per sample")
    v1 = sd1 * sd1 * n1 / (n1 - 1) / n1
    v2 = sd2 * sd2 * n2 / (n2 - 1) / n2
    se2 = v1 + v2
    diff = mean2 - mean1
    if se2 <= 0.0:
        return None, None, 0.0 if diff > 0 else 1.0
    t = diff / math.sqrt(se2)
    df = se2 * se2 / ((v1 * v1) / (n1 - 1) + (v2 * v2) / (n2 - 1))
    tail = 0.5 * _betai(df / 2.0, 0.5, df / (df + t * t))  # P(T > |t|)
    p = tail if t > 0 else 1.0 - tail
    return t, df, min(max(p, 0.0), 1.0)


# ------------------------------------------------------------------------ models


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What counts as a regression (every default documented in docs/reports.md)."""

    min_calls: int = 30
    """Calls needed in each period before a statement is judged at all."""
    min_ratio: float = 1.5
    """A per-call cost must grow at least this many times (recent / baseline)."""
    max_p_value: float = 0.01
    """Welch's one-sided p-value at most this for a time increase to be significant."""
    min_time_delta_ms: float = 0.05
    """A mean time must grow by at least this many milliseconds per call."""
    min_blocks_delta: float = 1.0
    """Shared or temp blocks per call must grow by at least this many blocks."""
    min_rows_delta: float = 1.0
    """Rows per call must grow by at least this many rows."""
    top_n: int = 10
    """New statements are those in the window's top ``top_n`` by total time without
    calls in the baseline."""
    min_call_rate_ratio: float = 3.0
    """Calls per minute must grow at least this many times to be a jump."""
    min_calls_per_minute: float = 1.0
    """... and reach at least this many calls per minute in the window."""

    def __post_init__(self) -> None:
        checks: tuple[tuple[str, float, float, float], ...] = (
            ("min_calls", self.min_calls, 2, 1e12),
            ("min_ratio", self.min_ratio, 1.0, 1e6),
            ("max_p_value", self.max_p_value, 0.0, 1.0),
            ("min_time_delta_ms", self.min_time_delta_ms, 0.0, 8.64e7),
            ("min_blocks_delta", self.min_blocks_delta, 0.0, 1e12),
            ("min_rows_delta", self.min_rows_delta, 0.0, 1e12),
            ("top_n", self.top_n, 1, 10_000),
            ("min_call_rate_ratio", self.min_call_rate_ratio, 1.0, 1e6),
            ("min_calls_per_minute", self.min_calls_per_minute, 0.0, 1e12),
        )
        for name, value, low, high in checks:
            integer = name in ("min_calls", "top_n")
            kind = (int,) if integer else (int, float)
            if (
                not isinstance(value, kind)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or not low <= value <= high
            ):
                what = "an int" if integer else "a number"
                raise InvalidArgumentError(
                    f"{name} must be {what} from {low:g} to {high:g}, got {value!r}"
                )


@dataclass(frozen=True, slots=True)
class Period:
    """One period of history compared: its bounds and how complete its intervals were."""

    since: _dt.datetime
    until: _dt.datetime
    intervals: int
    complete_intervals: int
    reset_intervals: int
    lossy_intervals: int
    evictions: int | None

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


@dataclass(frozen=True, slots=True)
class Regression:
    """One statement whose per-call cost grew from the baseline to the window."""

    target: str
    queryid: int
    dbid: int
    database: str | None
    userid: int
    username: str | None
    toplevel: bool
    query: str | None
    regressed: tuple[str, ...]
    significant: bool
    confidence: Confidence
    confidence_note: str
    baseline_calls: int
    recent_calls: int
    extra_exec_time_ms: float
    baseline_mean_exec_time_ms: float
    recent_mean_exec_time_ms: float
    exec_time_ratio: float | None
    baseline_stddev_exec_time_ms: float | None
    recent_stddev_exec_time_ms: float | None
    exec_time_t: float | None
    exec_time_df: float | None
    exec_time_p_value: float | None
    baseline_mean_plan_time_ms: float | None
    recent_mean_plan_time_ms: float | None
    plan_time_ratio: float | None
    plan_time_p_value: float | None
    baseline_shared_blks_read_per_call: float
    recent_shared_blks_read_per_call: float
    shared_blks_read_ratio: float | None
    baseline_shared_blks_hit_per_call: float
    recent_shared_blks_hit_per_call: float
    shared_blks_hit_ratio: float | None
    baseline_rows_per_call: float
    recent_rows_per_call: float
    rows_ratio: float | None
    baseline_temp_blks_per_call: float
    recent_temp_blks_per_call: float
    temp_blks_ratio: float | None

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


@dataclass(frozen=True, slots=True)
class NewStatement:
    """A statement in the window's top by total time that had no calls in the baseline."""

    target: str
    queryid: int
    dbid: int
    database: str | None
    userid: int
    username: str | None
    toplevel: bool
    query: str | None
    rank: int
    calls: int
    total_exec_time_ms: float
    mean_exec_time_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


@dataclass(frozen=True, slots=True)
class CallRateJump:
    """A statement called many more times per minute in the window (an N+1 after a
    deploy)."""

    target: str
    queryid: int
    dbid: int
    database: str | None
    userid: int
    username: str | None
    toplevel: bool
    query: str | None
    baseline_calls: int
    recent_calls: int
    baseline_calls_per_minute: float
    recent_calls_per_minute: float
    ratio: float | None

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


@dataclass(frozen=True, slots=True)
class RegressionReport:
    """What :func:`pgstatkit.regressions.regressions` found."""

    window: Period
    baseline: tuple[Period, ...]
    thresholds: Thresholds
    regressions: tuple[Regression, ...]
    new_statements: tuple[NewStatement, ...]
    call_rate_jumps: tuple[CallRateJump, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


def _as_dict(model: Any) -> dict[str, Any]:
    def value(v: Any) -> Any:
        if isinstance(v, _dt.datetime):
            return v.isoformat()
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: value(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple):
            return [value(x) for x in v]
        return v

    out: dict[str, Any] = value(model)
    return out


# ------------------------------------------------------------------------ sums

Key = tuple[str, int, int, int, bool]


@dataclass
class _Sum:
    """One statement's sums over one side (several baseline periods add up)."""

    first: Any
    calls: int = 0
    rows: int = 0
    exec_ms: float = 0.0
    exec_sq: float = 0.0
    exec_sd_known: bool = True
    plans: int = 0
    plan_ms: float = 0.0
    plan_sq: float = 0.0
    plan_sd_known: bool = True
    blks_hit: int = 0
    blks_read: int = 0
    temp_blks: int = 0
    recreated: bool = False

    def add(self, c: _Change) -> None:
        self.calls += c.calls
        self.rows += c.rows
        self.exec_ms += c.total_exec_time_ms
        self.exec_sq += _sumsq(c.calls, c.total_exec_time_ms, c.stddev_exec_time_ms)
        self.exec_sd_known &= c.calls == 0 or c.stddev_exec_time_ms is not None
        self.plans += c.plans
        self.plan_ms += c.total_plan_time_ms
        self.plan_sq += _sumsq(c.plans, c.total_plan_time_ms, c.stddev_plan_time_ms)
        self.plan_sd_known &= c.plans == 0 or c.stddev_plan_time_ms is not None
        self.blks_hit += c.shared_blks_hit
        self.blks_read += c.shared_blks_read
        self.temp_blks += c.temp_blks_read + c.temp_blks_written
        self.recreated |= c.recreated

    def mean_exec(self) -> float:
        return self.exec_ms / self.calls if self.calls else 0.0

    def sd_exec(self) -> float | None:
        return _sd(self.calls, self.exec_ms, self.exec_sq) if self.exec_sd_known else None

    def mean_plan(self) -> float | None:
        return self.plan_ms / self.plans if self.plans else None

    def sd_plan(self) -> float | None:
        return _sd(self.plans, self.plan_ms, self.plan_sq) if self.plan_sd_known else None

    def per_call(self, value: float) -> float:
        return value / self.calls if self.calls else 0.0


def _sumsq(n: int, total: float, sd: float | None) -> float:
    """Sum of squares of n observations from their total and population stddev."""
    if n == 0:
        return 0.0
    mean = total / n
    return n * ((sd or 0.0) ** 2 + mean * mean)


def _sd(n: int, total: float, sumsq: float) -> float | None:
    if n == 0:
        return None
    mean = total / n
    return math.sqrt(max(sumsq / n - mean * mean, 0.0))


def _key(c: _Change) -> Key:
    return (c.target, c.dbid, c.userid, c.queryid, c.toplevel)


def _sums(periods: Iterable[_Changes]) -> dict[Key, _Sum]:
    found: dict[Key, _Sum] = {}
    for period in periods:
        for c in period.statements:
            found.setdefault(_key(c), _Sum(c)).add(c)
    return found


def _period(changes: _Changes) -> Period:
    return Period(
        changes.since,
        changes.until,
        changes.intervals,
        changes.complete_intervals,
        changes.reset_intervals,
        changes.lossy_intervals,
        changes.evictions,
    )


def _ratio(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before <= 0:
        return None
    return after / before


def _minutes(periods: Sequence[Period]) -> float:
    return sum((p.until - p.since).total_seconds() for p in periods) / 60.0


# ------------------------------------------------------------------------ detection


def _grew(before: float | None, after: float | None, delta: float, thresholds: Thresholds) -> bool:
    """``after`` is at least ``min_ratio`` times ``before`` and ``delta`` more."""
    if before is None or after is None or after - before < delta:
        return False
    return before <= 0 or after / before >= thresholds.min_ratio


def _confidence(
    recent: _Sum, base: _Sum, window: Period, baseline: Sequence[Period]
) -> tuple[Confidence, str]:
    if recent.recreated or base.recreated:
        return "low", (
            "the statement's entry was evicted or reset and re-created in a compared "
            "period: its counts before that are lost, the means rest on part of its calls"
        )
    notes = []
    for name, periods in (("window", [window]), ("baseline", baseline)):
        lossy = sum(p.lossy_intervals for p in periods)
        reset = sum(p.reset_intervals for p in periods)
        if lossy:
            notes.append(f"{lossy} lossy interval(s) in the {name} (other entries evicted)")
        if reset:
            notes.append(f"{reset} reset interval(s) in the {name} (counts since the reset)")
    if notes:
        return "reduced", "; ".join(notes) + ": sums are lower bounds, means still comparable"
    return "high", "every interval of both periods is complete"


def _regression(
    key: Key,
    recent: _Sum,
    base: _Sum,
    window: Period,
    baseline: Sequence[Period],
    t: Thresholds,
) -> Regression | None:
    if recent.calls < t.min_calls or base.calls < t.min_calls:
        return None
    mean0, mean1 = base.mean_exec(), recent.mean_exec()
    sd0, sd1 = base.sd_exec(), recent.sd_exec()
    stat: tuple[float | None, float | None, float | None] = (None, None, None)
    if sd0 is not None and sd1 is not None:
        stat = welch(mean0, sd0, base.calls, mean1, sd1, recent.calls)
    plan0, plan1 = base.mean_plan(), recent.mean_plan()
    plan_sd0, plan_sd1 = base.sd_plan(), recent.sd_plan()
    plan_p = None
    if (
        plan0 is not None
        and plan1 is not None
        and plan_sd0 is not None
        and plan_sd1 is not None
        and base.plans >= 2
        and recent.plans >= 2
    ):
        plan_p = welch(plan0, plan_sd0, base.plans, plan1, plan_sd1, recent.plans)[2]
    exec_up = (
        stat[2] is not None
        and stat[2] <= t.max_p_value
        and _grew(mean0, mean1, t.min_time_delta_ms, t)
    )
    plan_up = (
        plan_p is not None
        and plan_p <= t.max_p_value
        and _grew(plan0, plan1, t.min_time_delta_ms, t)
    )
    per_call = {
        "shared_blks_read_per_call": (
            base.per_call(base.blks_read),
            recent.per_call(recent.blks_read),
            t.min_blocks_delta,
        ),
        "shared_blks_hit_per_call": (
            base.per_call(base.blks_hit),
            recent.per_call(recent.blks_hit),
            t.min_blocks_delta,
        ),
        "rows_per_call": (base.per_call(base.rows), recent.per_call(recent.rows), t.min_rows_delta),
        "temp_blks_per_call": (
            base.per_call(base.temp_blks),
            recent.per_call(recent.temp_blks),
            t.min_blocks_delta,
        ),
    }
    regressed = [name for name, (b, r, d) in per_call.items() if _grew(b, r, d, t)]
    if plan_up:
        regressed.insert(0, "mean_plan_time_ms")
    if exec_up:
        regressed.insert(0, "mean_exec_time_ms")
    if not regressed:
        return None
    confidence, note = _confidence(recent, base, window, baseline)
    c = recent.first
    return Regression(
        target=key[0],
        queryid=key[3],
        dbid=key[1],
        database=c.database,
        userid=key[2],
        username=c.username,
        toplevel=key[4],
        query=c.query if c.query is not None else base.first.query,
        regressed=tuple(regressed),
        significant=exec_up or plan_up,
        confidence=confidence,
        confidence_note=note,
        baseline_calls=base.calls,
        recent_calls=recent.calls,
        extra_exec_time_ms=(mean1 - mean0) * recent.calls,
        baseline_mean_exec_time_ms=mean0,
        recent_mean_exec_time_ms=mean1,
        exec_time_ratio=_ratio(mean0, mean1),
        baseline_stddev_exec_time_ms=sd0,
        recent_stddev_exec_time_ms=sd1,
        exec_time_t=stat[0],
        exec_time_df=stat[1],
        exec_time_p_value=stat[2],
        baseline_mean_plan_time_ms=plan0,
        recent_mean_plan_time_ms=plan1,
        plan_time_ratio=_ratio(plan0, plan1),
        plan_time_p_value=plan_p,
        baseline_shared_blks_read_per_call=per_call["shared_blks_read_per_call"][0],
        recent_shared_blks_read_per_call=per_call["shared_blks_read_per_call"][1],
        shared_blks_read_ratio=_ratio(*per_call["shared_blks_read_per_call"][:2]),
        baseline_shared_blks_hit_per_call=per_call["shared_blks_hit_per_call"][0],
        recent_shared_blks_hit_per_call=per_call["shared_blks_hit_per_call"][1],
        shared_blks_hit_ratio=_ratio(*per_call["shared_blks_hit_per_call"][:2]),
        baseline_rows_per_call=per_call["rows_per_call"][0],
        recent_rows_per_call=per_call["rows_per_call"][1],
        rows_ratio=_ratio(*per_call["rows_per_call"][:2]),
        baseline_temp_blks_per_call=per_call["temp_blks_per_call"][0],
        recent_temp_blks_per_call=per_call["temp_blks_per_call"][1],
        temp_blks_ratio=_ratio(*per_call["temp_blks_per_call"][:2]),
    )


def _notes(window: Period, baseline: Sequence[Period]) -> list[str]:
    notes = []
    if not baseline or all(p.intervals == 0 for p in baseline):
        notes.append(
            "the baseline has no intervals (no snapshots then): nothing can be compared yet"
        )
    if window.intervals == 0:
        notes.append("the window has no intervals: take snapshots (pgstatkit.history.snapshot)")
    for name, periods in (("window", [window]), ("baseline", list(baseline))):
        lossy = sum(p.lossy_intervals for p in periods)
        reset = sum(p.reset_intervals for p in periods)
        evictions = sum(p.evictions or 0 for p in periods)
        if lossy:
            notes.append(
                f"{lossy} lossy interval(s) in the {name} ({evictions} evictions): "
                "statements evicted then are counted from their re-creation; their "
                "findings have low confidence"
            )
        if reset:
            notes.append(
                f"{reset} reset interval(s) in the {name}: counts before each reset are "
                "lost; means stay comparable, sums are lower bounds"
            )
    return notes


def detect(
    window: _Changes, baseline: Sequence[_Changes], thresholds: Thresholds
) -> RegressionReport:
    """Compare ``window`` (one ``HistoryChanges``) with ``baseline`` (several, summed).

    Statements are matched by target, database, user, queryid and nesting level.
    """
    win = _period(window)
    base_periods = tuple(_period(b) for b in baseline)
    recent = _sums([window])
    base = _sums(baseline)
    found = [
        r
        for key, s in recent.items()
        if key in base
        and (r := _regression(key, s, base[key], win, base_periods, thresholds)) is not None
    ]
    found.sort(key=lambda r: (-r.extra_exec_time_ms, r.queryid))
    ranked = sorted(recent.items(), key=lambda kv: (-kv[1].exec_ms, kv[0][3]))
    new = [
        NewStatement(
            key[0],
            key[3],
            key[1],
            s.first.database,
            key[2],
            s.first.username,
            key[4],
            s.first.query,
            rank,
            s.calls,
            s.exec_ms,
            s.exec_ms / s.calls if s.calls else None,
        )
        for rank, (key, s) in enumerate(ranked[: thresholds.top_n], start=1)
        if s.calls > 0 and (key not in base or base[key].calls == 0)
    ]
    recent_minutes = _minutes([win])
    base_minutes = _minutes(base_periods)
    jumps = []
    for key, s in recent.items():
        b = base.get(key)
        if b is None or b.calls == 0 or recent_minutes <= 0 or base_minutes <= 0:
            continue
        rate0, rate1 = b.calls / base_minutes, s.calls / recent_minutes
        if (
            s.calls >= thresholds.min_calls
            and rate1 >= thresholds.min_calls_per_minute
            and rate1 >= thresholds.min_call_rate_ratio * rate0
        ):
            jumps.append(
                CallRateJump(
                    key[0],
                    key[3],
                    key[1],
                    s.first.database,
                    key[2],
                    s.first.username,
                    key[4],
                    s.first.query if s.first.query is not None else b.first.query,
                    b.calls,
                    s.calls,
                    rate0,
                    rate1,
                    _ratio(rate0, rate1),
                )
            )
    jumps.sort(key=lambda j: (-(j.ratio or 0.0), j.queryid))
    return RegressionReport(
        win,
        base_periods,
        thresholds,
        tuple(found),
        tuple(new),
        tuple(jumps),
        tuple(_notes(win, base_periods)),
    )


# ------------------------------------------------------------------------ arguments

DEFAULT_WINDOW = _dt.timedelta(hours=1)
DEFAULT_BASELINE_DAYS = 7
_MAX_PERIODS = 100


def _bounds(value: object, name: str, now: _dt.datetime) -> tuple[_dt.datetime, _dt.datetime]:
    if isinstance(value, _dt.timedelta):
        if value <= _dt.timedelta(0):
            raise InvalidArgumentError(f"{name} must be a positive timedelta, got {value!r}")
        return now - value, now
    if isinstance(value, tuple) and len(value) == 2:
        since, until = value
        for bound, what in ((since, "since"), (until, "until")):
            if not isinstance(bound, _dt.datetime) or bound.utcoffset() is None:
                raise InvalidArgumentError(
                    f"{name}: its {what} must be a datetime with a time zone, got {bound!r}"
                )
        if since >= until:
            raise InvalidArgumentError(f"{name}: since ({since}) must be before until ({until})")
        return since, until
    raise InvalidArgumentError(
        f"{name} must be a timedelta (the last ...) or a (since, until) tuple of datetimes "
        f"with a time zone, got {type(value).__name__} {value!r}"
    )


def periods(
    window: object, baseline: object, now: _dt.datetime
) -> tuple[tuple[_dt.datetime, _dt.datetime], list[tuple[_dt.datetime, _dt.datetime]]]:
    """The window and the baseline periods from the arguments of ``regressions()``.

    ``window``: a timedelta (the last ...) or (since, until). ``baseline``: ``None``
    (the window shifted back by 1 to 7 days: the same hour on the 7 days before), an
    int n (the same, n days), a timedelta (the period of that length right before the
    window) or a list of (since, until).

    Raises:
        InvalidArgumentError: anything else, overlapping the window, or more than 100
            periods.
    """
    start, end = _bounds(window, "window", now)
    if baseline is None or (isinstance(baseline, int) and not isinstance(baseline, bool)):
        days = DEFAULT_BASELINE_DAYS if baseline is None else baseline
        assert isinstance(days, int)
        if not 1 <= days <= _MAX_PERIODS:
            raise InvalidArgumentError(f"baseline must be 1 to {_MAX_PERIODS} days, got {days}")
        shift = [_dt.timedelta(days=d) for d in range(1, days + 1)]
        return (start, end), [(start - s, end - s) for s in shift]
    if isinstance(baseline, _dt.timedelta):
        if baseline <= _dt.timedelta(0):
            raise InvalidArgumentError(f"baseline must be a positive timedelta, got {baseline!r}")
        return (start, end), [(start - baseline, start)]
    if (
        isinstance(baseline, list | tuple)
        and baseline
        and not isinstance(baseline[0], _dt.datetime)
    ):
        if len(baseline) > _MAX_PERIODS:
            raise InvalidArgumentError(f"baseline: at most {_MAX_PERIODS} periods")
        found = [_bounds(p, f"baseline[{i}]", now) for i, p in enumerate(baseline)]
        for i, (since, until) in enumerate(found):
            if since < end and until > start:
                raise InvalidArgumentError(f"baseline[{i}] overlaps the window")
        return (start, end), found
    raise InvalidArgumentError(
        "baseline must be None (the same hour on the 7 days before), a number of days, a "
        f"timedelta (the period right before the window) or a list of (since, until); got {baseline!r}"
    )


# ------------------------------------------------------------------------ field docs

_KEY_DOCS = {
    "target": "the history target's name",
    "queryid": "the statement's 64-bit `pg_stat_statements` queryid",
    "dbid": "OID of the database",
    "database": "name of the database; `None` if dropped since",
    "userid": "OID of the role",
    "username": "name of the role; `None` if dropped since",
    "toplevel": "executed at top level (`False`: nested, inside a function)",
    "query": "the statement's text as history stored it; `None` when unknown",
}


def _with_keys(fields: dict[str, str]) -> dict[str, str | _fielddoc.FieldDoc]:
    out: dict[str, str | _fielddoc.FieldDoc] = {}
    for name, text in {**_KEY_DOCS, **fields}.items():
        out[name] = _fielddoc.F(text, id64=True) if name == "queryid" else text
    return out


_fielddoc.describe(
    Period,
    None,
    {
        "since": "start of the period (exclusive): intervals whose snapshot is after it",
        "until": "end of the period (inclusive)",
        "intervals": "intervals (snapshots after the first) in the period",
        "complete_intervals": "intervals where nothing was lost",
        "reset_intervals": "intervals in which the statistics were reset",
        "lossy_intervals": "intervals with evictions or re-created entries",
        "evictions": "`pg_stat_statements` evictions in the period; `None` before 1.9",
    },
)
_fielddoc.describe(
    Regression,
    None,
    _with_keys(
        {
            "regressed": 'the per-call costs that grew past the thresholds: `"mean_exec_time_ms"`, `"mean_plan_time_ms"`, `"shared_blks_read_per_call"`, `"shared_blks_hit_per_call"`, `"rows_per_call"`, `"temp_blks_per_call"`',
            "significant": "a time increase passed Welch's t-test (`exec_time_p_value` or `plan_time_p_value` at most `max_p_value`)",
            "confidence": '`"high"` (every interval complete), `"reduced"` (lossy or reset intervals in a period) or `"low"` (this statement\'s entry was re-created)',
            "confidence_note": "why the confidence is what it is, in words",
            "baseline_calls": "calls in the baseline periods",
            "recent_calls": "calls in the window",
            "extra_exec_time_ms": "milliseconds the window spent beyond the baseline's mean: (recent mean - baseline mean) x recent calls",
            "baseline_mean_exec_time_ms": "mean execution time per call in the baseline, ms",
            "recent_mean_exec_time_ms": "mean execution time per call in the window, ms",
            "exec_time_ratio": "recent / baseline mean execution time; `None` when the baseline is 0",
            "baseline_stddev_exec_time_ms": "population standard deviation of the baseline's execution times, ms",
            "recent_stddev_exec_time_ms": "population standard deviation of the window's execution times, ms",
            "exec_time_t": "Welch's t statistic of the execution time increase; `None` when both deviations are 0",
            "exec_time_df": "Welch-Satterthwaite degrees of freedom; `None` when both deviations are 0",
            "exec_time_p_value": "one-sided p-value of Welch's t-test that the mean execution time grew (0..1); `None` without deviations",
            "baseline_mean_plan_time_ms": "mean planning time per plan in the baseline, ms; `None` without planning statistics",
            "recent_mean_plan_time_ms": "mean planning time per plan in the window, ms; `None` without planning statistics",
            "plan_time_ratio": "recent / baseline mean planning time; `None` when unknown or 0",
            "plan_time_p_value": "one-sided p-value of Welch's t-test on the planning time; `None` when unknown",
            "baseline_shared_blks_read_per_call": "shared blocks read per call in the baseline",
            "recent_shared_blks_read_per_call": "shared blocks read per call in the window",
            "shared_blks_read_ratio": "recent / baseline; `None` when the baseline is 0",
            "baseline_shared_blks_hit_per_call": "shared buffer hits per call in the baseline",
            "recent_shared_blks_hit_per_call": "shared buffer hits per call in the window",
            "shared_blks_hit_ratio": "recent / baseline; `None` when the baseline is 0",
            "baseline_rows_per_call": "rows per call in the baseline",
            "recent_rows_per_call": "rows per call in the window",
            "rows_ratio": "recent / baseline; `None` when the baseline is 0",
            "baseline_temp_blks_per_call": "temp blocks read and written per call in the baseline",
            "recent_temp_blks_per_call": "temp blocks read and written per call in the window",
            "temp_blks_ratio": "recent / baseline; `None` when the baseline is 0",
        }
    ),
)
_fielddoc.describe(
    NewStatement,
    None,
    _with_keys(
        {
            "rank": "its rank by total execution time in the window (1: the most)",
            "calls": "calls in the window",
            "total_exec_time_ms": "total execution time in the window, ms",
            "mean_exec_time_ms": "mean execution time per call in the window, ms",
        }
    ),
)
_fielddoc.describe(
    CallRateJump,
    None,
    _with_keys(
        {
            "baseline_calls": "calls in the baseline periods",
            "recent_calls": "calls in the window",
            "baseline_calls_per_minute": "calls per minute over the baseline periods",
            "recent_calls_per_minute": "calls per minute over the window",
            "ratio": "recent / baseline calls per minute",
        }
    ),
)
_fielddoc.describe(
    Thresholds,
    None,
    {
        "min_calls": "calls needed in each period before a statement is judged (default 30)",
        "min_ratio": "a per-call cost must grow at least this many times (default 1.5)",
        "max_p_value": "Welch's one-sided p-value at most this for a significant time increase (default 0.01)",
        "min_time_delta_ms": "a mean time must grow by at least this many ms per call (default 0.05)",
        "min_blocks_delta": "blocks per call must grow by at least this many (default 1)",
        "min_rows_delta": "rows per call must grow by at least this many (default 1)",
        "top_n": "new statements: the window's top this many by total time (default 10)",
        "min_call_rate_ratio": "calls per minute must grow at least this many times for a jump (default 3)",
        "min_calls_per_minute": "... and reach at least this many per minute (default 1)",
    },
)
_fielddoc.describe(
    RegressionReport,
    None,
    {
        "window": "the recent period: a `Period`",
        "baseline": "the baseline periods (by default the same hour on each of the 7 days before): `Period` objects",
        "thresholds": "the `Thresholds` used",
        "regressions": "statements whose per-call cost grew, the most extra time first: `Regression` objects",
        "new_statements": "statements in the window's top by total time without calls in the baseline: `NewStatement` objects",
        "call_rate_jumps": "statements called many more times per minute: `CallRateJump` objects",
        "notes": "what the intervals' flags (lossy, reset) and missing snapshots mean for the findings, in words",
    },
)

"""Regression detection without a server (``pgstatkit._regressions``): Welch's t-test
against textbook values, and detect() on hand-made history sums."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from typing import Any

import pytest

from pgstatkit._regressions import Thresholds, detect, welch
from pgstatkit.errors import InvalidArgumentError

T0 = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)


@dataclasses.dataclass(frozen=True)
class Change:
    queryid: int
    calls: int
    mean_ms: float
    sd_ms: float | None
    blks_hit: int = 0
    blks_read: int = 0
    rows: int = 0
    temp: int = 0
    recreated: bool = False
    plans: int = 0
    plan_mean_ms: float = 0.0
    plan_sd_ms: float | None = 0.0
    target: str = "main"
    dbid: int = 5
    database: str | None = "shop"
    userid: int = 10
    username: str | None = "app"
    toplevel: bool = True

    @property
    def query(self) -> str:
        return f"SELECT {self.queryid}"

    @property
    def total_exec_time_ms(self) -> float:
        return self.calls * self.mean_ms

    @property
    def stddev_exec_time_ms(self) -> float | None:
        return self.sd_ms

    @property
    def total_plan_time_ms(self) -> float:
        return self.plans * self.plan_mean_ms

    @property
    def stddev_plan_time_ms(self) -> float | None:
        return self.plan_sd_ms

    @property
    def shared_blks_hit(self) -> int:
        return self.blks_hit

    @property
    def shared_blks_read(self) -> int:
        return self.blks_read

    @property
    def temp_blks_read(self) -> int:
        return 0

    @property
    def temp_blks_written(self) -> int:
        return self.temp


@dataclasses.dataclass(frozen=True)
class Changes:
    since: dt.datetime
    until: dt.datetime
    statements: tuple[Any, ...]
    intervals: int = 12
    complete_intervals: int = 12
    reset_intervals: int = 0
    lossy_intervals: int = 0
    evictions: int | None = 0


def _hour(day: int, *changes: Change, **kw: Any) -> Changes:
    start = T0 - dt.timedelta(days=day)
    return Changes(start, start + dt.timedelta(hours=1), changes, **kw)


def test_welch_matches_textbook_values() -> None:
    # equal variances, equal n: df = 2n - 2; t = 1.2374 with df 98 gives p = 0.1094
    t, df, p = welch(10, 2, 50, 10.5, 2, 50)
    assert t == pytest.approx(1.2374, abs=1e-4)
    assert df == pytest.approx(98.0)
    assert p == pytest.approx(0.1094, abs=1e-3)
    # Student's t with 10 df: P(T > 2.228) = 0.025 (the 95% two-sided critical value)
    n = 6  # two samples of 6 with equal variance: df = 10
    sd_pop = math.sqrt(5 / 6)  # sample variance 1
    t, df, p = welch(0.0, sd_pop, n, 2.228 * math.sqrt(2 / n), sd_pop, n)
    assert df == pytest.approx(10.0)
    assert p == pytest.approx(0.025, abs=2e-4)
    # a decrease is not significant as an increase
    assert welch(10, 1, 30, 5, 1, 30)[2] > 0.999
    # no variance at all: p is 0 for an increase, 1 otherwise
    assert welch(1, 0, 40, 2, 0, 40) == (None, None, 0.0)
    assert welch(1, 0, 40, 1, 0, 40)[2] == 1.0
    with pytest.raises(ValueError, match="at least 2"):
        welch(1, 1, 1, 2, 1, 5)


def test_detects_a_slower_statement_and_ignores_noise() -> None:
    baseline = [
        _hour(
            d,
            Change(1, 600, 0.2, 0.05, blks_hit=3 * 600, rows=600),
            Change(2, 3, 20.0, 15.0),  # rare and noisy
            Change(3, 600, 1.0, 0.3, rows=600),  # steady
            Change(4, 60, 1.0, 0.1),  # will be called 20 times as often
        )
        for d in range(1, 8)
    ]
    window = _hour(
        0,
        Change(1, 600, 4.0, 1.0, blks_hit=150 * 600, rows=600),  # the index is gone
        Change(2, 3, 60.0, 40.0),
        Change(3, 600, 1.02, 0.3, rows=600),
        Change(4, 1200, 1.0, 0.1),
        Change(5, 100, 50.0, 5.0),  # new, and the most total time
    )
    report = detect(window, baseline, Thresholds())
    assert [r.queryid for r in report.regressions] == [1]
    r = report.regressions[0]
    assert r.regressed == ("mean_exec_time_ms", "shared_blks_hit_per_call")
    assert r.significant and r.exec_time_p_value is not None and r.exec_time_p_value < 1e-9
    assert r.baseline_calls == 7 * 600 and r.recent_calls == 600
    assert r.exec_time_ratio == pytest.approx(20.0)
    assert r.baseline_shared_blks_hit_per_call == pytest.approx(3.0)
    assert r.recent_shared_blks_hit_per_call == pytest.approx(150.0)
    assert r.confidence == "high"
    assert r.extra_exec_time_ms == pytest.approx((4.0 - 0.2) * 600)
    assert [n.queryid for n in report.new_statements] == [5]
    assert report.new_statements[0].rank == 1
    assert [j.queryid for j in report.call_rate_jumps] == [4]
    assert report.call_rate_jumps[0].ratio == pytest.approx(20.0)  # 1200/h against 60/h
    assert report.notes == ()
    assert len(report.baseline) == 7
    json.dumps(report.to_dict())


def test_noise_with_many_calls_is_not_significant() -> None:
    baseline = [_hour(1, Change(7, 40, 10.0, 30.0))]
    window = _hour(0, Change(7, 40, 16.0, 30.0))  # ratio 1.6, but sd 30 ms
    report = detect(window, baseline, Thresholds())
    assert report.regressions == ()
    # the same means with a tight spread are a regression
    report = detect(
        _hour(0, Change(7, 40, 16.0, 1.0)), [_hour(1, Change(7, 40, 10.0, 1.0))], Thresholds()
    )
    assert [r.queryid for r in report.regressions] == [7]


def test_lossy_and_reset_intervals_lower_the_confidence() -> None:
    base = [_hour(1, Change(1, 100, 1.0, 0.1), reset_intervals=1, complete_intervals=11)]
    window = _hour(0, Change(1, 100, 3.0, 0.1), lossy_intervals=2, evictions=40)
    report = detect(window, base, Thresholds())
    (r,) = report.regressions
    assert r.confidence == "reduced"
    assert "2 lossy interval(s) in the window" in r.confidence_note
    assert "1 reset interval(s) in the baseline" in r.confidence_note
    assert any("40 evictions" in n for n in report.notes)
    recreated = _hour(0, Change(1, 100, 3.0, 0.1, recreated=True))
    assert detect(recreated, base, Thresholds()).regressions[0].confidence == "low"


def test_an_empty_baseline_says_so() -> None:
    report = detect(_hour(0, Change(1, 100, 3.0, 0.1)), [], Thresholds())
    assert report.regressions == () and report.call_rate_jumps == ()
    assert [n.queryid for n in report.new_statements] == [1]
    assert "the baseline has no intervals" in report.notes[0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_calls": 1},
        {"min_calls": 2.5},
        {"min_ratio": 0.5},
        {"max_p_value": 2},
        {"max_p_value": float("nan")},
        {"top_n": 0},
        {"min_time_delta_ms": -1},
        {"min_call_rate_ratio": True},
    ],
)
def test_thresholds_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        Thresholds(**kwargs)

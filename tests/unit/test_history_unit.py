"""pgstatkit.history without a server: arguments refused before any round trip, the
interval status, the database deltas, the command line's spans."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgstatkit import _history, history
from pgstatkit.cli.commands.history import parse_moment
from pgstatkit.errors import InvalidArgumentError
from pgstatkit.sync import history as sync_history

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class NotAConnection:
    """Any use of it would fail: the validation must come first."""


@pytest.mark.parametrize(
    ("call", "kwargs", "message"),
    [
        ("changes", {"since": dt.datetime(2026, 1, 1)}, "time zone"),
        ("changes", {"since": dt.timedelta(0)}, "positive"),
        ("changes", {"since": dt.timedelta(hours=1), "limit": 0}, "limit"),
        ("changes", {"since": dt.timedelta(hours=1), "order_by": "bogus"}, "order_by"),
        ("changes", {"since": dt.timedelta(hours=1), "target": ""}, "target"),
        ("timeline", {"queryid": 0, "since": dt.timedelta(hours=1)}, "queryid"),
        ("prune", {"keep": dt.timedelta(minutes=5)}, "keep"),
        ("snapshot", {"target": "a\nb"}, "control"),
        ("snapshot", {"lock_timeout_ms": 0}, "lock_timeout_ms"),
    ],
)
def test_bad_arguments_are_refused_before_any_round_trip(
    call: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        getattr(sync_history, call)(NotAConnection(), **kwargs)
    with pytest.raises(InvalidArgumentError, match=message):
        asyncio.run(getattr(history, call)(NotAConnection(), **kwargs))


def test_window() -> None:
    start, end = _history.window(dt.timedelta(hours=2), dt.timedelta(hours=1), NOW)
    assert (start, end) == (NOW - dt.timedelta(hours=2), NOW - dt.timedelta(hours=1))
    with pytest.raises(InvalidArgumentError, match="before until"):
        _history.window(dt.timedelta(hours=1), dt.timedelta(hours=2), NOW)


def _prepared(captured: dt.datetime | None, dealloc: int | None) -> _history.Prepared:
    return _history.Prepared(1, captured, None, dealloc, "1.10", (), [])


def _reading(full: bool, dealloc: int | None) -> _history.Reading:
    return _history.Reading(NOW, None, dealloc, full, 10, 150000, "1.10", 5, None, ())


def test_interval_status() -> None:
    assert _history.interval_status(_prepared(None, None), _reading(True, 3)) == (
        "baseline",
        None,
    )
    before = NOW - dt.timedelta(minutes=1)
    assert _history.interval_status(_prepared(before, 3), _reading(True, 1)) == ("reset", 1)
    assert _history.interval_status(_prepared(before, 3), _reading(False, 5)) == ("lossy", 2)
    assert _history.interval_status(_prepared(before, 3), _reading(False, 3)) == ("complete", 0)
    assert _history.interval_status(_prepared(before, None), _reading(False, None)) == (
        "complete",
        None,
    )


def test_database_interval_deltas_and_reset() -> None:
    before = {"xact_commit": 10, "blk_read_time": 1.5, "stats_reset": None, "numbackends": 3}
    now = {"xact_commit": 15, "blk_read_time": 2.0, "stats_reset": None, "numbackends": 4}
    row = _history.database_interval("t", NOW, NOW, now, before)
    assert (row.status, row.xact_commit, row.blk_read_time_ms, row.numbackends) == (
        "complete",
        5,
        0.5,
        4,
    )
    assert row.session_time_ms is None  # the server has no such column
    after_reset = {"xact_commit": 2, "blk_read_time": 0.1, "stats_reset": "2026-11-28"}
    row = _history.database_interval("t", NOW, NOW, after_reset, before)
    assert (row.status, row.xact_commit) == ("reset", 2)


def test_stddev_from_sums_of_squares() -> None:
    # calls 2, 1 ms and 3 ms: mean 2, population stddev 1; sum of squares 1 + 9 = 10
    assert _history._stddev(2, 4.0, 10.0) == pytest.approx(1.0)
    assert _history._stddev(0, 0.0, 0.0) is None
    # float rounding below zero is not a negative variance
    assert _history._stddev(3, 3.0, 2.9999999) == 0.0


def test_parse_moment() -> None:
    assert parse_moment("1h30m") == dt.timedelta(minutes=90)
    assert parse_moment("2d") == dt.timedelta(days=2)
    assert parse_moment("2026-11-28T09:00:00+00:00") == dt.datetime(2026, 11, 28, 9, tzinfo=UTC)
    for bad in ("yesterday", "2026-11-28T09:00:00", "5x"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_moment(bad)


_COUNTER_VALUES = [
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False))
    if t == "float8"
    else st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))
    for _, t in _history.COUNTERS
]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**32 - 1),
            st.integers(0, 2**32 - 1),
            st.integers(-(2**63), 2**63 - 1),
            st.booleans(),
            st.one_of(st.none(), st.integers(0, 2**55)),
            st.tuples(*_COUNTER_VALUES),
        ),
        max_size=5,
    )
)
def test_moved_rows_parse_exactly(rows: list[tuple[Any, ...]]) -> None:
    """read_target's JSON rows become the arrays of ROW_FIELDS with every value exact:
    floats as printed shortest-exact (extra_float_digits = 3), int8 whole, stats_since
    from microseconds since 1970."""
    moved = [[d, u, q, t, s, *counters] for d, u, q, t, s, counters in rows]
    arrays = _history._moved_arrays(json.loads(json.dumps(moved)))
    assert len(arrays) == len(_history.ROW_FIELDS)
    for i, (d, u, q, t, s, counters) in enumerate(rows):
        assert (arrays[0][i], arrays[1][i], arrays[2][i], arrays[3][i]) == (d, u, q, t)
        assert arrays[4][i] is False
        if s is None:
            assert arrays[5][i] is None
        else:
            assert arrays[5][i] == dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(
                microseconds=s
            )
        for column, value in zip(arrays[6:], counters, strict=True):
            assert column[i] == value
            assert type(column[i]) is type(value)

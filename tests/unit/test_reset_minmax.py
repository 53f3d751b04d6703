"""``reset_query_statistics(minmax_only=True)``: the SQL per extension version, offline.

The live behaviour (calls and totals kept, min/max reset, ``minmax_stats_since`` moved)
is tested on PostgreSQL 15, 17 and 18 in ``tests/integration/test_reset_minmax.py``.
"""

from __future__ import annotations

import datetime as dt
import inspect

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgstatkit import _operations, stats
from pgstatkit._protocol import Context, Operation, Query, Result
from pgstatkit.errors import ExtensionTooOldError, InvalidArgumentError
from pgstatkit.sync import stats as sync_stats

WHEN = dt.datetime(2025, 6, 7, 8, 9, 10, tzinfo=dt.timezone.utc)


def drive(op: Operation[object], ctx: Context) -> tuple[list[Query], object]:
    seen: list[Query] = []
    steps = op.steps(ctx)
    try:
        query = next(steps)
        while True:
            seen.append(query)
            query = steps.send(Result(("stats_reset",), [(WHEN,)]))
    except StopIteration as stop:
        return seen, stop.value
    except Exception as exc:
        return seen, exc


@pytest.mark.parametrize(("queryid", "param"), [(None, 0), (-42, -42), (2**63 - 1, 2**63 - 1)])
@pytest.mark.parametrize("version", [(1, 11), (1, 12)])
def test_minmax_only_sql(queryid: int | None, param: int, version: tuple[int, int]) -> None:
    op = _operations.reset_query_statistics(queryid=queryid, minmax_only=True)
    seen, value = drive(op, Context(version, 'odd"schema'))
    assert len(seen) == 1
    assert seen[0].params == (param,)  # 0: every statement
    assert '"odd""schema".pg_stat_statements_reset(0, 0, $1::int8, true)' in seen[0].sql
    assert value == WHEN


@pytest.mark.parametrize("queryid", [None, 7])
def test_plain_reset_is_unchanged(queryid: int | None) -> None:
    op = _operations.reset_query_statistics(queryid=queryid, minmax_only=False)
    seen, _ = drive(op, Context((1, 11), "public"))
    assert "true" not in seen[0].sql
    assert seen[0].params == (() if queryid is None else (queryid,))


@pytest.mark.parametrize("version", [(1, 8), (1, 9), (1, 10)])
@pytest.mark.parametrize("queryid", [None, 7])
def test_minmax_only_before_1_11_is_refused_without_a_query(
    version: tuple[int, int], queryid: int | None
) -> None:
    op = _operations.reset_query_statistics(queryid=queryid, minmax_only=True)
    seen, value = drive(op, Context(version, "public"))
    assert seen == []  # nothing reset, not even the whole view
    assert isinstance(value, ExtensionTooOldError)
    text = str(value)
    found = ".".join(map(str, version))
    assert f"pg_stat_statements {found}" in text
    assert "1.11" in text and "PostgreSQL 17" in text
    assert "ALTER EXTENSION pg_stat_statements UPDATE" in text
    assert "minmax_only=False" in text


@given(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.floats(allow_nan=False)))
def test_minmax_only_must_be_a_bool(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="minmax_only"):
        _operations.reset_query_statistics(minmax_only=value)


def test_both_apis_take_minmax_only() -> None:
    for func in (stats.reset_query_statistics, sync_stats.reset_query_statistics):
        parameter = inspect.signature(func).parameters["minmax_only"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert parameter.default is False
        assert "minmax_only" in (func.__doc__ or "")


def test_operation_flags() -> None:
    op = _operations.reset_query_statistics(minmax_only=True)
    assert op.commit and not op.read_only

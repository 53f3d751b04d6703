"""Argument validators (``pgstatkit._validate``) and the operation builders that use them.

No server: the builders validate eagerly, before any operation exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgstatkit import _operations, _validate
from pgstatkit.errors import InvalidArgumentError, PgStatKitError

NON_NUMBERS = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=10),
    st.binary(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.complex_numbers(allow_nan=False, allow_infinity=False),
    st.builds(object),
)
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf, -math.nan])


def _raises_named(call: Callable[[], object], name: str) -> InvalidArgumentError:
    with pytest.raises(InvalidArgumentError) as info:
        call()
    error = info.value
    assert isinstance(error, ValueError)
    assert isinstance(error, PgStatKitError)
    assert name in str(error)
    return error


# ---- limit ------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=_validate.MAX_LIMIT))
def test_limit_accepts_in_range_ints(value: int) -> None:
    result = _validate.limit(value)
    assert result == value
    assert type(result) is int


@given(
    st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=_validate.MAX_LIMIT + 1),
    )
)
def test_limit_rejects_out_of_range_ints(value: int) -> None:
    _raises_named(lambda: _validate.limit(value), "limit")


@given(st.one_of(NON_NUMBERS, st.floats(), NON_FINITE))
def test_limit_rejects_non_ints(value: object) -> None:
    # Floats are refused even when integral (20.0): a limit is a count.
    _raises_named(lambda: _validate.limit(value, "max_rows"), "max_rows")


@pytest.mark.parametrize("value", [True, False, 1.0, 20.0, "20", None])
def test_limit_rejects_lookalikes(value: object) -> None:
    error = _raises_named(lambda: _validate.limit(value), "limit")
    assert repr(value) in str(error)


def test_limit_bounds() -> None:
    assert _validate.limit(1) == 1
    assert _validate.limit(_validate.MAX_LIMIT) == _validate.MAX_LIMIT


# ---- duration_ms ------------------------------------------------------------------------


@given(
    st.one_of(
        st.floats(min_value=0.0, max_value=_validate.MAX_DURATION_MS),
        st.integers(min_value=0, max_value=int(_validate.MAX_DURATION_MS)),
    )
)
def test_duration_accepts_finite_non_negative(value: float) -> None:
    result = _validate.duration_ms(value, "min_duration_ms")
    assert type(result) is float
    assert result == float(value)


@given(
    st.one_of(
        st.floats(max_value=-1e-300),
        st.floats(min_value=_validate.MAX_DURATION_MS, exclude_min=True, allow_infinity=False),
        st.integers(max_value=-1, min_value=-(10**15)),
        st.integers(min_value=int(_validate.MAX_DURATION_MS) + 1, max_value=10**15),
        NON_FINITE,
    )
)
def test_duration_rejects_out_of_range(value: float) -> None:
    _raises_named(lambda: _validate.duration_ms(value, "min_duration_ms"), "min_duration_ms")


@given(NON_NUMBERS)
def test_duration_rejects_non_numbers(value: object) -> None:
    _raises_named(lambda: _validate.duration_ms(value, "threshold"), "threshold")


# ---- ratio ------------------------------------------------------------------------------


@given(st.one_of(st.floats(min_value=0.0, max_value=1.0), st.sampled_from([0, 1])))
def test_ratio_accepts_fractions(value: float) -> None:
    result = _validate.ratio(value, "max_cache_hit_ratio")
    assert type(result) is float
    assert result == float(value)


@given(
    st.one_of(
        st.floats(max_value=-1e-300),
        st.floats(min_value=1.0, exclude_min=True, allow_infinity=False),
        st.integers(min_value=2, max_value=10**15),
        st.integers(max_value=-1, min_value=-(10**15)),
        NON_FINITE,
    )
)
def test_ratio_rejects_out_of_range(value: float) -> None:
    _raises_named(lambda: _validate.ratio(value, "max_cache_hit_ratio"), "max_cache_hit_ratio")


def test_ratio_hints_at_percentages() -> None:
    error = _raises_named(lambda: _validate.ratio(90, "max_cache_hit_ratio"), "max_cache_hit_ratio")
    assert "0.9 means 90%" in str(error)
    error = _raises_named(lambda: _validate.ratio(-0.5, "r"), "r")
    assert "90%" not in str(error)


@given(NON_NUMBERS)
def test_ratio_rejects_non_numbers(value: object) -> None:
    _raises_named(lambda: _validate.ratio(value, "ratio_arg"), "ratio_arg")


# ---- timeout_ms -------------------------------------------------------------------------


def test_timeout_none_is_default() -> None:
    assert _validate.timeout_ms(None) == _validate.DEFAULT_TIMEOUT_MS


@given(
    st.one_of(
        st.integers(min_value=1, max_value=_validate.MAX_TIMEOUT_MS),
        st.floats(min_value=1.0, max_value=_validate.MAX_TIMEOUT_MS),
    )
)
def test_timeout_accepts_and_rounds_up(value: float) -> None:
    result = _validate.timeout_ms(value)
    assert type(result) is int
    assert result == math.ceil(value)
    assert 1 <= result <= _validate.MAX_TIMEOUT_MS
    assert result - 1 < value <= result


@given(
    st.one_of(
        st.floats(max_value=1.0, exclude_max=True, allow_infinity=False),
        st.floats(min_value=_validate.MAX_TIMEOUT_MS, exclude_min=True, allow_infinity=False),
        st.integers(max_value=0, min_value=-(10**15)),
        st.integers(min_value=_validate.MAX_TIMEOUT_MS + 1, max_value=10**15),
        NON_FINITE,
    )
)
def test_timeout_rejects_out_of_range(value: float) -> None:
    _raises_named(lambda: _validate.timeout_ms(value), "timeout_ms")


@given(NON_NUMBERS.filter(lambda v: v is not None))
def test_timeout_rejects_non_numbers(value: object) -> None:
    _raises_named(lambda: _validate.timeout_ms(value), "timeout_ms")


# ---- numbers too large for a float ------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: _validate.duration_ms(10**400, "min_duration_ms"),
        lambda: _validate.ratio(10**400, "max_cache_hit_ratio"),
        lambda: _validate.timeout_ms(-(10**400)),
    ],
    ids=["duration_ms", "ratio", "timeout_ms"],
)
def test_huge_ints_are_invalid_arguments(call: Callable[[], object]) -> None:
    with pytest.raises(InvalidArgumentError):
        call()


# ---- flag -------------------------------------------------------------------------------


@given(st.booleans())
def test_flag_accepts_bools(value: bool) -> None:
    assert _validate.flag(value, "analyze") is value


@given(st.one_of(st.integers(), st.floats(), st.text(max_size=6), st.none()))
def test_flag_rejects_truthy_values(value: object) -> None:
    _raises_named(lambda: _validate.flag(value, "all_databases"), "all_databases")


def test_flag_rejects_string_false() -> None:
    error = _raises_named(lambda: _validate.flag("false", "analyze"), "analyze")
    assert "'false'" in str(error)


# ---- queryid ----------------------------------------------------------------------------


@given(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).filter(lambda v: v != 0),
)
def test_queryid_accepts_signed_64_bit(value: int) -> None:
    assert _validate.queryid(value) == value


def test_queryid_none() -> None:
    assert _validate.queryid(None) is None


@given(
    st.one_of(
        st.just(0),
        st.integers(min_value=2**63),
        st.integers(max_value=-(2**63) - 1),
        st.booleans(),
        st.floats(),
        st.text(max_size=5),
    )
)
def test_queryid_rejects(value: object) -> None:
    _raises_named(lambda: _validate.queryid(value), "queryid")


# ---- choice -----------------------------------------------------------------------------

ORDERS = tuple(_operations.TABLE_ORDERS)


@given(st.sampled_from(ORDERS))
def test_choice_accepts_allowed(value: str) -> None:
    assert _validate.choice(value, "order_by", _operations.TABLE_ORDERS) == value


@given(
    st.one_of(
        st.text(max_size=12).filter(lambda v: v not in ORDERS),
        st.none(),
        st.integers(),
        st.lists(st.text(max_size=2), max_size=2),
    )
)
def test_choice_rejects_others(value: object) -> None:
    error = _raises_named(
        lambda: _validate.choice(value, "order_by", _operations.TABLE_ORDERS), "order_by"
    )
    for option in ORDERS:
        assert repr(option) in str(error)


def test_choice_is_case_sensitive() -> None:
    _raises_named(lambda: _validate.choice("NAME", "order_by", {"name"}), "order_by")


# ---- through the operation builders -----------------------------------------------------

BAD_CALLS: list[tuple[Callable[[], object], str]] = [
    (lambda: _operations.slow_queries(limit=0), "limit"),
    (lambda: _operations.slow_queries(limit=True), "limit"),
    (lambda: _operations.slow_queries(limit=5.0), "limit"),
    (lambda: _operations.slow_queries(min_duration_ms=-1), "min_duration_ms"),
    (lambda: _operations.slow_queries(min_duration_ms=math.nan), "min_duration_ms"),
    (lambda: _operations.slow_queries(min_duration_ms="500"), "min_duration_ms"),
    (lambda: _operations.slow_queries(all_databases=1), "all_databases"),
    (lambda: _operations.slow_queries(timeout_ms=0), "timeout_ms"),
    (lambda: _operations.top_queries_by_total_time(limit=10_001), "limit"),
    (lambda: _operations.top_queries_by_total_time(all_databases="yes"), "all_databases"),
    (lambda: _operations.top_queries_by_total_time(timeout_ms=math.inf), "timeout_ms"),
    (lambda: _operations.queries_with_low_cache_hit(max_cache_hit_ratio=90), "max_cache_hit_ratio"),
    (
        lambda: _operations.queries_with_low_cache_hit(max_cache_hit_ratio=None),
        "max_cache_hit_ratio",
    ),
    (lambda: _operations.queries_with_low_cache_hit(limit=-3), "limit"),
    (lambda: _operations.database_statistics(timeout_ms="5s"), "timeout_ms"),
    (lambda: _operations.table_statistics(order_by="size"), "order_by"),
    (lambda: _operations.table_statistics(order_by=None), "order_by"),
    (lambda: _operations.table_statistics(limit=None), "limit"),
    (lambda: _operations.index_usage(limit=0), "limit"),
    (lambda: _operations.index_usage(timeout_ms=-5), "timeout_ms"),
    (lambda: _operations.query_plan(123), "query"),
    (lambda: _operations.query_plan(b"SELECT 1"), "query"),
    (lambda: _operations.query_plan("SELECT 1", analyze="yes"), "analyze"),
    (lambda: _operations.query_plan("SELECT 1", timeout_ms=10**9), "timeout_ms"),
    (lambda: _operations.query_plan("SELECT $1", params="x"), "params"),
    (lambda: _operations.query_plan("SELECT $1", params={"a": 1}), "params"),
    (lambda: _operations.query_plan("SELECT $1, $2", params=[1]), "placeholder"),
    (lambda: _operations.query_plan("SELECT 1", params=[1]), "placeholder"),
    (lambda: _operations.query_plan("SELECT $1", analyze=True), "params"),
    (lambda: _operations.reset_query_statistics(queryid=0), "queryid"),
    (lambda: _operations.reset_query_statistics(queryid="123"), "queryid"),
    (lambda: _operations.reset_query_statistics(queryid=2**64), "queryid"),
]


@pytest.mark.parametrize(("call", "name"), BAD_CALLS)
def test_builders_validate_eagerly(call: Callable[[], object], name: str) -> None:
    _raises_named(call, name)


def test_builders_normalize_arguments() -> None:
    op = _operations.slow_queries(min_duration_ms=5, limit=3, timeout_ms=1.2)
    assert op.name == "slow_queries"
    assert op.timeout_ms == 2
    assert op.read_only
    assert not op.commit
    assert _operations.index_usage().timeout_ms == _validate.DEFAULT_TIMEOUT_MS
    reset = _operations.reset_query_statistics(queryid=-42)
    assert reset.commit
    assert not reset.read_only
    plan = _operations.query_plan("SELECT 1", analyze=True)
    assert plan.read_only is False
    assert plan.pin_search_path is False
    assert _operations.query_plan("SELECT 1").read_only is True


@given(
    limit=st.integers(min_value=1, max_value=_validate.MAX_LIMIT),
    duration=st.floats(min_value=0, max_value=_validate.MAX_DURATION_MS),
    every_db=st.booleans(),
)
def test_builders_accept_any_valid_arguments(limit: int, duration: float, every_db: bool) -> None:
    op = _operations.slow_queries(min_duration_ms=duration, limit=limit, all_databases=every_db)
    assert op.timeout_ms == _validate.DEFAULT_TIMEOUT_MS


def test_reset_statement_needs_a_valid_queryid() -> None:
    # The command line's reset --queryid: one statement, validated before any round trip.
    _raises_named(lambda: _operations.reset_statement(queryid=None), "queryid")
    _raises_named(lambda: _operations.reset_statement(queryid=0), "queryid")
    _raises_named(lambda: _operations.reset_statement(queryid=1, timeout_ms=0), "timeout_ms")
    assert _operations.reset_statement(queryid=-5).name == "reset_query_statistics"

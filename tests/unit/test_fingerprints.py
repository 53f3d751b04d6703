"""Query fingerprints (pgstatkit.fingerprints): what groups, what never does, and the sums.

No server: fingerprints are computed from the text. The live grouping of the statement
listings is tests/integration/test_fingerprint_grouping.py.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgstatkit import fingerprints
from pgstatkit.errors import InvalidArgumentError
from pgstatkit.fingerprints import combine, fingerprint, group_statements, tables
from pgstatkit.models import QueryStat


def in_list(n: int, start: int = 1) -> str:
    return ", ".join(str(start + i) for i in range(n))


def test_in_lists_of_1_5_and_50_items_are_one_fingerprint() -> None:
    texts = [
        f"SELECT id, total FROM orders WHERE customer_id IN ({in_list(n)})" for n in (1, 5, 50)
    ]
    texts.append("SELECT id, total FROM orders WHERE customer_id IN ($1, $2, $3)")
    assert len({fingerprint(t) for t in texts}) == 1


def test_different_aliases_are_one_fingerprint() -> None:
    texts = [
        "SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id"
        " WHERE o.status = 'open'",
        "SELECT ord.id, cu.name FROM orders AS ord JOIN customers AS cu"
        " ON cu.id = ord.customer_id WHERE ord.status = $1",
        "SELECT orders.id, customers.name FROM orders JOIN customers"
        " ON customers.id = orders.customer_id WHERE orders.status = 'x'",
        # the aliases swapped between the tables
        "SELECT c.id, o.name FROM orders c JOIN customers o ON o.id = c.customer_id"
        " WHERE c.status = 'closed'",
    ]
    assert len({fingerprint(t) for t in texts}) == 1
    single = [
        "SELECT o.id FROM orders o WHERE o.customer_id = 7",
        "SELECT x.id FROM orders AS x WHERE x.customer_id = $1",
        "SELECT id FROM orders WHERE customer_id = 3",
        "SELECT orders.id AS order_id FROM orders WHERE orders.customer_id = 3",
    ]
    assert len({fingerprint(t) for t in single}) == 1


def test_self_joins_and_partitions() -> None:
    assert fingerprint("SELECT * FROM orders a JOIN orders b ON a.id = b.parent_id") == (
        fingerprint("SELECT * FROM orders x JOIN orders y ON x.id = y.parent_id")
    )
    # a self join is not the same as its mirror image
    assert fingerprint("SELECT * FROM orders a JOIN orders b ON a.id = b.parent_id") != (
        fingerprint("SELECT * FROM orders a JOIN orders b ON a.parent_id = b.id")
    )
    assert fingerprint("SELECT * FROM events_p1 WHERE kind = 1") == fingerprint(
        "SELECT * FROM events_p7 WHERE kind = 2"
    )


def test_different_statements_never_group() -> None:
    texts = [
        "SELECT id FROM orders WHERE customer_id = 1",
        "SELECT id FROM orders WHERE customer_id > 1",
        "SELECT id FROM orders WHERE status = 1",
        "SELECT id FROM customers WHERE customer_id = 1",
        "SELECT id, total FROM orders WHERE customer_id = 1",
        "SELECT id FROM orders WHERE customer_id = 1 ORDER BY id",
        "SELECT id FROM orders WHERE customer_id = 1 LIMIT 5",
        "SELECT count(*) FROM orders WHERE customer_id = 1",
        "DELETE FROM orders WHERE customer_id = 1",
        "UPDATE orders SET total = 1 WHERE customer_id = 1",
    ]
    assert len({fingerprint(t) for t in texts}) == len(texts)


def test_tables() -> None:
    assert tables(
        "WITH recent AS (SELECT * FROM events WHERE at > now() - interval '1 day')"
        " SELECT * FROM public.orders o JOIN customers c ON c.id = o.customer_id, recent"
        " WHERE EXISTS (SELECT 1 FROM line_items li WHERE li.order_id = o.id)"
    ) == ("events", "public.orders", "customers", "line_items")
    assert tables("UPDATE orders SET total = 0 FROM customers WHERE customers.id = 1") == (
        "orders",
        "customers",
    )


def test_bad_input() -> None:
    with pytest.raises(InvalidArgumentError, match="does not parse"):
        fingerprint("SELECT * FROM orders WHERE id = (")
    with pytest.raises(InvalidArgumentError, match="must be a str"):
        fingerprint(42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- property

TABLES = ("orders", "customers", "line_items", "events")
COLUMNS = ("id", "customer_id", "status", "total", "created_at", "kind")
OPS = ("=", "<", ">=", "IN", "LIKE", "IS NULL")


@dataclasses.dataclass(frozen=True)
class Shape:
    """An abstract statement: what a fingerprint must tell apart."""

    table: str
    select: frozenset[str]
    where: tuple[tuple[str, str], ...]
    order_by: str | None
    limit: bool


shapes = st.builds(
    Shape,
    st.sampled_from(TABLES),
    st.frozensets(st.sampled_from(COLUMNS), min_size=1, max_size=4),
    st.lists(
        st.tuples(st.sampled_from(COLUMNS), st.sampled_from(OPS)),
        max_size=3,
        unique_by=lambda p: p[0],
    ).map(tuple),
    st.none() | st.sampled_from(COLUMNS),
    st.booleans(),
)


@st.composite
def renderings(draw: st.DrawFn, shape: Shape) -> str:
    """One text of ``shape``: any constants, IN-list length, alias, select order."""
    alias = draw(st.sampled_from(["", "t", "x", "o", "alias1"]))
    qual = f"{alias}." if alias and draw(st.booleans()) else ""
    cols = draw(st.permutations(sorted(shape.select)))
    conditions = []
    for column, op in shape.where:
        if op == "IN":
            n = draw(st.integers(1, 60))
            conditions.append(f"{qual}{column} IN ({in_list(n, draw(st.integers(0, 99)))})")
        elif op == "LIKE":
            conditions.append(f"{qual}{column} LIKE '{draw(st.sampled_from(['a%', '%b%']))}'")
        elif op == "IS NULL":
            conditions.append(f"{qual}{column} IS NULL")
        else:
            value = draw(st.sampled_from(["$1", "7", "'x'", "42.5"]))
            conditions.append(f"{qual}{column} {op} {value}")
    text = "SELECT " + ", ".join(f"{qual}{c}" for c in cols) + f" FROM {shape.table}"
    if alias:
        text += draw(st.sampled_from([f" {alias}", f" AS {alias}"]))
    if conditions:
        text += " WHERE " + " AND ".join(conditions)
    if shape.order_by:
        text += f" ORDER BY {qual}{shape.order_by}"
    if shape.limit:
        text += f" LIMIT {draw(st.sampled_from(['$2', '10', '20']))}"
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), shapes)
def test_property_same_shape_one_fingerprint(data: st.DataObject, shape: Shape) -> None:
    first = data.draw(renderings(shape))
    second = data.draw(renderings(shape))
    assert fingerprint(first) == fingerprint(second), (first, second)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), shapes, shapes)
def test_property_different_shapes_never_group(
    data: st.DataObject, one: Shape, other: Shape
) -> None:
    first = data.draw(renderings(one))
    second = data.draw(renderings(other))
    same = fingerprint(first) == fingerprint(second)
    assert same == (canonical(one) == canonical(other)), (first, second)


def canonical(shape: Shape) -> Shape:
    """What a fingerprint tells apart: ``x IN (...)`` and ``x = c`` are one shape, as in
    libpg_query's fingerprint (PostgreSQL itself turns ``x IN (c)`` into ``x = c``)."""
    where = tuple((column, "=" if op == "IN" else op) for column, op in shape.where)
    return dataclasses.replace(shape, where=where)


def test_in_lists_and_equality_are_one_shape() -> None:
    """Found by the property test: libpg_query fingerprints ``IN`` like ``=``."""
    assert fingerprint("SELECT id FROM orders WHERE id = $1") == fingerprint(
        "SELECT id FROM orders WHERE id IN (0)"
    )
    assert fingerprint("SELECT id FROM orders WHERE id = 7") == fingerprint(
        "SELECT id FROM orders WHERE id IN (0, 1, 2)"
    )


# --------------------------------------------------------------------------- sums


def entry(queryid: int, query: str, times: list[float], **extra: object) -> QueryStat:
    """A QueryStat whose time fields are those of the executions ``times``."""
    values: dict[str, object] = {f.name: 0 for f in dataclasses.fields(QueryStat)}
    values.update(
        userid=10,
        dbid=5,
        queryid=queryid,
        query=query,
        toplevel=True,
        calls=len(times),
        total_exec_time_ms=sum(times),
        mean_exec_time_ms=statistics.fmean(times),
        min_exec_time_ms=min(times),
        max_exec_time_ms=max(times),
        stddev_exec_time_ms=statistics.pstdev(times),
        shared_blks_hit=90,
        shared_blks_read=10,
        stats_since=None,
        minmax_stats_since=None,
        database="db",
        username="u",
        cache_hit_ratio=0.9,
        percent_of_total_time=10.0,
    )
    for name in ("local_blk_read_time_ms", "jit_functions", "wal_buffers_full"):
        values[name] = None
    values.update(extra)
    return QueryStat(**values)  # type: ignore[arg-type]


def test_sums_are_calls_weighted_with_a_combined_stddev() -> None:
    a_times, b_times, c_times = [1.0, 2.0, 3.0], [10.0, 30.0], [5.0] * 5
    a = entry(1, "SELECT * FROM orders WHERE id IN (1)", a_times)
    b = entry(2, "SELECT * FROM orders o WHERE o.id IN (1, 2, 3)", b_times, shared_blks_read=90)
    c = entry(3, "SELECT * FROM customers WHERE id = 1", c_times)
    grouped = group_statements([a, b, c])
    assert len(grouped) == 2
    merged = grouped[0]
    every = a_times + b_times
    assert merged.calls == 5
    assert merged.queryid == 2  # the heaviest entry's
    assert merged.total_exec_time_ms == pytest.approx(sum(every))
    assert merged.mean_exec_time_ms == pytest.approx(statistics.fmean(every))
    assert merged.stddev_exec_time_ms == pytest.approx(statistics.pstdev(every))
    assert (merged.min_exec_time_ms, merged.max_exec_time_ms) == (1.0, 30.0)
    assert merged.shared_blks_read == 100
    assert merged.cache_hit_ratio == pytest.approx(180 / 280)
    assert merged.percent_of_total_time == pytest.approx(20.0)
    assert merged.local_blk_read_time_ms is None
    assert grouped[1] == c


def test_entries_of_other_users_or_levels_stay_apart() -> None:
    a = entry(1, "SELECT 1 AS x FROM orders WHERE id IN (1)", [1.0])
    b = entry(2, "SELECT 1 AS x FROM orders WHERE id IN (1, 2)", [1.0], userid=11)
    c = entry(3, "SELECT 1 AS x FROM orders WHERE id IN (1, 2, 3)", [1.0], toplevel=False)
    d = entry(4, "SELECT 1 AS x FROM orders WHERE id IN (1, 2, 3", [1.0])  # truncated text
    e = entry(5, "SELECT 1 AS x FROM orders WHERE id IN (1, 2, 3", [1.0])
    assert len(group_statements([a, b, c, d, e])) == 5


def test_combine_of_one_is_itself() -> None:
    a = entry(1, "SELECT 1", [1.0, 2.0])
    assert combine([a]) is a
    assert not math.isnan(combine([a, a]).stddev_exec_time_ms)


# --------------------------------------------------------------------------- without pglast

WITHOUT_PGLAST = """
import asyncio, datetime, sys
sys.modules["pglast"] = None
from pgstatkit import _operations, fingerprints, history, reports
from pgstatkit.errors import ExtraNotInstalledError
HOUR = datetime.timedelta(hours=1)
for call in (
    lambda: fingerprints.fingerprint("SELECT 1"),
    lambda: fingerprints.tables("SELECT 1"),
    lambda: _operations.top_queries_by_total_time(group_by="fingerprint"),
    # no connection at all: the extra is checked before any round trip
    lambda: asyncio.run(history.changes(object(), since=HOUR, group_by="fingerprint")),
    lambda: reports.HISTORY_CHANGES.operation(group_by="fingerprint"),
):
    try:
        call()
    except ExtraNotInstalledError as exc:
        assert isinstance(exc, ImportError) and exc.extra == "advisor"
        print(exc)
    else:
        raise SystemExit("no error")
_operations.top_queries_by_total_time(group_by="queryid")
"""


def test_without_the_extra_the_error_names_the_install() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_PGLAST],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 5
    assert all('pip install "pgstatkit[advisor]"' in line for line in lines)


def test_group_by_is_checked() -> None:
    from pgstatkit import _operations

    with pytest.raises(InvalidArgumentError, match="group_by"):
        _operations.slow_queries(group_by="text")
    assert fingerprints.INSTALL_HINT == 'pip install "pgstatkit[advisor]"'


def test_the_missing_extra_maps_to_exit_9_and_http_501() -> None:
    from pgstatkit.cli._base import EXIT_MISSING_EXTRA, error_code
    from pgstatkit.errors import ExtraNotInstalledError
    from pgstatkit.http._errors import answer

    error = ExtraNotInstalledError('pip install "pgstatkit[advisor]"', extra="advisor")
    assert error_code(error) == EXIT_MISSING_EXTRA == 9
    assert answer(error).status == 501

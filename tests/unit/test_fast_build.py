"""Rows built by the fast path are the very objects the models' own __init__ makes."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from pgstatkit._parse import ParseError, _builder, parse_rows
from pgstatkit._protocol import Result
from pgstatkit.models import (
    DatabaseStatistics,
    IndexUsage,
    QueryPlan,
    QueryStat,
    StatementTotals,
    TableStatistics,
)

MODELS = [QueryStat, StatementTotals, DatabaseStatistics, TableStatistics, IndexUsage, QueryPlan]


def _values(model: type) -> tuple[object, ...]:
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    sample: list[object] = []
    for i, field in enumerate(dataclasses.fields(model)):
        kind = str(field.type)
        if "datetime" in kind:
            sample.append(now)
        elif kind.startswith("dict"):
            sample.append({"Plan": {}})
        elif kind.startswith("float"):
            sample.append(i + 0.5)
        elif kind.startswith("bool"):
            sample.append(i % 2 == 0)
        elif kind.startswith("str"):
            sample.append(f"v{i}")
        else:
            sample.append(i)
    return tuple(sample)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_fast_build_equals_init(model: type) -> None:
    values = _values(model)
    fast = _builder(model)(values)
    slow = model(*values)
    assert type(fast) is model
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert fast.to_dict() == slow.to_dict()
    assert dataclasses.astuple(fast) == dataclasses.astuple(slow)
    if model is not QueryPlan:  # QueryPlan holds a dict: unhashable by design
        assert hash(fast) == hash(slow)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.__setattr__(dataclasses.fields(model)[0].name, None)
    assert not hasattr(fast, "__dict__")


def test_parse_rows_uses_the_fast_path() -> None:
    names = tuple(f.name for f in dataclasses.fields(IndexUsage))
    rows = [_values(IndexUsage)] * 3
    built = parse_rows(IndexUsage, Result(names, rows))
    assert [type(b) for b in built] == [IndexUsage] * 3
    assert built[0] == IndexUsage(*rows[0])


def test_release_empties_the_rows_in_order() -> None:
    names = tuple(f.name for f in dataclasses.fields(IndexUsage))
    first = _values(IndexUsage)
    rows = [first, tuple(reversed(first)), first[:1] + first[1:]]
    expected = [IndexUsage(*row) for row in rows]
    kept = list(rows)
    assert parse_rows(IndexUsage, Result(names, kept)) == expected
    assert kept == rows  # without release the rows stay
    assert parse_rows(IndexUsage, Result(names, rows), release=True) == expected
    assert rows == []  # each row was dropped once its model was built
    # a tuple of rows (not a list pgstatkit owns) is read, never emptied
    assert parse_rows(IndexUsage, Result(names, tuple(kept)), release=True) == expected


@pytest.mark.parametrize("release", [False, True])
@pytest.mark.parametrize("cut", [-1, 1])
def test_a_row_of_the_wrong_length_is_a_parse_error(release: bool, cut: int) -> None:
    names = tuple(f.name for f in dataclasses.fields(IndexUsage))
    good = _values(IndexUsage)
    bad = good[:cut] if cut < 0 else (*good, "extra")
    with pytest.raises(ParseError, match=f"IndexUsage: a row does not have {len(names)} values"):
        parse_rows(IndexUsage, Result(names, [good, bad]), release=release)

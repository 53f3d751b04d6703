"""Rows built by the fast path are the very objects the models' own __init__ makes."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from pgstatkit._parse import _builder, parse_rows
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
    fast = _builder(model)(*values)
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

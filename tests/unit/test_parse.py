"""Building models from rows (``pgstatkit._parse``) and the models themselves."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgstatkit._parse import ParseError, parse_plan, parse_rows
from pgstatkit._protocol import Result
from pgstatkit.errors import PgStatKitError
from pgstatkit.models import (
    DatabaseStatistics,
    IndexUsage,
    QueryPlan,
    QueryStat,
    TableStatistics,
)

ROW_MODELS: tuple[type[Any], ...] = (QueryStat, DatabaseStatistics, TableStatistics, IndexUsage)

_BASE_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "int": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "str": st.text(max_size=30),
    "bool": st.booleans(),
    "_dt.datetime": st.datetimes(
        min_value=dt.datetime(1970, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.sampled_from(
            [dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30))]
        ),
    ),
}


def _value_strategy(annotation: str) -> st.SearchStrategy[Any]:
    base, optional = annotation, False
    if annotation.endswith(" | None"):
        base, optional = annotation[: -len(" | None")], True
    strategy = _BASE_STRATEGIES[base]
    return st.one_of(st.none(), strategy) if optional else strategy


def row_strategy(model: type[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.tuples(*(_value_strategy(str(f.type)) for f in dataclasses.fields(model)))


def rows_strategy(model: type[Any]) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    return st.lists(row_strategy(model), min_size=1, max_size=4)


def _columns(model: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(model))


def test_field_names_registered() -> None:
    for model in (*ROW_MODELS, QueryPlan):
        assert _columns(model) == model._FIELD_NAMES
        assert len(set(model._FIELD_NAMES)) == len(model._FIELD_NAMES)


def test_annotations_are_understood() -> None:
    for model in ROW_MODELS:
        for f in dataclasses.fields(model):
            _value_strategy(str(f.type))  # KeyError on an unexpected type


@pytest.mark.parametrize("model", ROW_MODELS, ids=lambda m: m.__name__)
@given(data=st.data())
def test_parse_rows_builds_models(model: type[Any], data: st.DataObject) -> None:
    rows = data.draw(rows_strategy(model))
    parsed = parse_rows(model, Result(_columns(model), rows))
    assert len(parsed) == len(rows)
    for obj, row in zip(parsed, rows, strict=True):
        assert type(obj) is model
        assert tuple(getattr(obj, name) for name in model._FIELD_NAMES) == row


@pytest.mark.parametrize("model", ROW_MODELS, ids=lambda m: m.__name__)
@given(data=st.data())
def test_to_dict_is_json_ready(model: type[Any], data: st.DataObject) -> None:
    (obj,) = parse_rows(model, Result(_columns(model), [data.draw(row_strategy(model))]))
    as_dict = obj.to_dict()
    assert tuple(as_dict) == model._FIELD_NAMES
    decoded = json.loads(json.dumps(as_dict, allow_nan=False))
    assert decoded == as_dict
    for name, value in as_dict.items():
        original = getattr(obj, name)
        if isinstance(original, dt.datetime):
            assert value == original.isoformat()
            assert dt.datetime.fromisoformat(value) == original
        else:
            assert value is original or value == original


@pytest.mark.parametrize("model", ROW_MODELS, ids=lambda m: m.__name__)
@settings(max_examples=20)
@given(data=st.data())
def test_models_are_frozen_and_slotted(model: type[Any], data: st.DataObject) -> None:
    (obj,) = parse_rows(model, Result(_columns(model), [data.draw(row_strategy(model))]))
    first = model._FIELD_NAMES[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, first, None)
    with pytest.raises((AttributeError, TypeError)):
        obj.not_a_field = 1
    assert not hasattr(obj, "__dict__")
    assert dataclasses.replace(obj) == obj


@pytest.mark.parametrize("model", ROW_MODELS, ids=lambda m: m.__name__)
def test_empty_rows(model: type[Any]) -> None:
    assert parse_rows(model, Result(_columns(model), [])) == []
    assert parse_rows(model, Result(_columns(model), ())) == []


def _wrong_columns(columns: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [
        columns[:-1],  # missing the last
        columns[1:],  # missing the first
        (*columns, "extra"),  # one too many
        (columns[1], columns[0], *columns[2:]),  # two swapped
        tuple(reversed(columns)),
        ("renamed", *columns[1:]),
        tuple(c.upper() for c in columns),
        (),
    ]


@pytest.mark.parametrize("model", ROW_MODELS, ids=lambda m: m.__name__)
@settings(max_examples=20)
@given(data=st.data())
def test_wrong_columns_raise(model: type[Any], data: st.DataObject) -> None:
    row = data.draw(row_strategy(model))
    for columns in _wrong_columns(_columns(model)):
        with pytest.raises(ParseError, match=model.__name__):
            parse_rows(model, Result(columns, [row]))


def test_parse_error_names_the_problem() -> None:
    columns = _columns(IndexUsage)
    with pytest.raises(ParseError, match=r"missing \['definition'\]"):
        parse_rows(IndexUsage, Result(columns[:-1], [(None,) * (len(columns) - 1)]))
    with pytest.raises(ParseError, match=r"unexpected \['bogus'\]"):
        parse_rows(IndexUsage, Result((*columns, "bogus"), [(None,) * (len(columns) + 1)]))


# ---- parse_plan -------------------------------------------------------------------------

PLAN_ONLY: list[dict[str, Any]] = [
    {
        "Plan": {
            "Node Type": "Index Scan",
            "Parallel Aware": False,
            "Async Capable": False,
            "Scan Direction": "Forward",
            "Index Name": "orders_pkey",
            "Relation Name": "orders",
            "Alias": "orders",
            "Startup Cost": 0.29,
            "Total Cost": 8.31,
            "Plan Rows": 1,
            "Plan Width": 52,
            "Index Cond": "(id = $1)",
        }
    }
]

ANALYZED: list[dict[str, Any]] = [
    {
        "Plan": {
            "Node Type": "Hash Join",
            "Parallel Aware": False,
            "Async Capable": False,
            "Join Type": "Inner",
            "Startup Cost": 30.85,
            "Total Cost": 75.22,
            "Plan Rows": 1000,
            "Plan Width": 72,
            "Actual Startup Time": 0.412,
            "Actual Total Time": 1.203,
            "Actual Rows": 998,
            "Actual Loops": 1,
            "Inner Unique": True,
            "Hash Cond": "(o.customer_id = c.id)",
            "Shared Hit Blocks": 45,
            "Shared Read Blocks": 3,
            "Shared Dirtied Blocks": 0,
            "Shared Written Blocks": 0,
            "Local Hit Blocks": 0,
            "Local Read Blocks": 0,
            "Local Dirtied Blocks": 0,
            "Local Written Blocks": 0,
            "Temp Read Blocks": 0,
            "Temp Written Blocks": 0,
            "Plans": [
                {
                    "Node Type": "Seq Scan",
                    "Parent Relationship": "Outer",
                    "Parallel Aware": False,
                    "Async Capable": False,
                    "Relation Name": "orders",
                    "Alias": "o",
                    "Startup Cost": 0.0,
                    "Total Cost": 18.0,
                    "Plan Rows": 1000,
                    "Plan Width": 40,
                    "Actual Startup Time": 0.011,
                    "Actual Total Time": 0.201,
                    "Actual Rows": 1000,
                    "Actual Loops": 1,
                    "Shared Hit Blocks": 8,
                    "Shared Read Blocks": 0,
                },
                {
                    "Node Type": "Hash",
                    "Parent Relationship": "Inner",
                    "Parallel Aware": False,
                    "Async Capable": False,
                    "Startup Cost": 18.5,
                    "Total Cost": 18.5,
                    "Plan Rows": 500,
                    "Plan Width": 36,
                    "Actual Startup Time": 0.38,
                    "Actual Total Time": 0.38,
                    "Actual Rows": 500,
                    "Actual Loops": 1,
                    "Hash Buckets": 1024,
                    "Original Hash Buckets": 1024,
                    "Hash Batches": 1,
                    "Original Hash Batches": 1,
                    "Peak Memory Usage": 41,
                    "Shared Hit Blocks": 37,
                    "Shared Read Blocks": 3,
                },
            ],
        },
        "Planning": {
            "Shared Hit Blocks": 12,
            "Shared Read Blocks": 0,
            "Shared Dirtied Blocks": 0,
            "Shared Written Blocks": 0,
        },
        "Planning Time": 0.215,
        "Triggers": [],
        "Execution Time": 1.318,
    }
]


def _one(value: object) -> Result:
    return Result(("QUERY PLAN",), [(value,)])


ENCODINGS = {
    "text": lambda doc: json.dumps(doc, indent=2),
    "bytes": lambda doc: json.dumps(doc).encode(),
    "decoded": copy.deepcopy,
    "object": lambda doc: copy.deepcopy(doc[0]),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_plan_without_analyze(encoding: str) -> None:
    raw = ENCODINGS[encoding](PLAN_ONLY)
    plan = parse_plan("SELECT 1", _one(raw), analyzed=False, generic=True)
    assert plan.query == "SELECT 1"
    assert plan.plan == PLAN_ONLY[0]
    assert plan.node_type == "Index Scan"
    assert plan.total_cost == 8.31
    assert plan.startup_cost == 0.29
    assert plan.plan_rows == 1.0
    assert type(plan.plan_rows) is float
    assert plan.analyzed is False
    assert plan.generic is True
    assert plan.planning_time_ms is None
    assert plan.execution_time_ms is None
    assert plan.actual_rows is None
    assert plan.shared_blks_hit is None
    assert plan.shared_blks_read is None


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_plan_with_analyze(encoding: str) -> None:
    raw = ENCODINGS[encoding](ANALYZED)
    plan = parse_plan("SELECT *", _one(raw), analyzed=True, generic=False)
    assert plan.node_type == "Hash Join"
    assert plan.total_cost == 75.22
    assert plan.startup_cost == 30.85
    assert plan.plan_rows == 1000.0
    assert plan.analyzed is True
    assert plan.generic is False
    assert plan.planning_time_ms == 0.215
    assert plan.execution_time_ms == 1.318
    assert plan.actual_rows == 998.0
    assert plan.shared_blks_hit == 45
    assert plan.shared_blks_read == 3
    assert plan.plan["Plan"]["Plans"][1]["Node Type"] == "Hash"


def test_analyze_only_fields_need_analyzed() -> None:
    plan = parse_plan("SELECT *", _one(json.dumps(ANALYZED)), analyzed=False, generic=False)
    assert plan.actual_rows is None
    assert plan.shared_blks_hit is None
    assert plan.shared_blks_read is None


def test_analyzed_without_buffers_leaves_counts_none() -> None:
    doc = copy.deepcopy(ANALYZED)
    for key in list(doc[0]["Plan"]):
        if key.endswith("Blocks"):
            del doc[0]["Plan"][key]
    plan = parse_plan("q", _one(doc), analyzed=True, generic=False)
    assert plan.actual_rows == 998.0
    assert plan.shared_blks_hit is None
    assert plan.shared_blks_read is None


def test_plan_to_dict_is_json_ready() -> None:
    plan = parse_plan("SELECT *", _one(json.dumps(ANALYZED)), analyzed=True, generic=False)
    as_dict = plan.to_dict()
    assert tuple(as_dict) == QueryPlan._FIELD_NAMES
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert not hasattr(plan, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.total_cost = 0.0  # type: ignore[misc]
    hash(plan)  # the plan dict is excluded from the hash


@pytest.mark.parametrize(
    "result",
    [
        Result(("QUERY PLAN",), []),
        Result(("QUERY PLAN",), [(json.dumps(PLAN_ONLY),), (json.dumps(PLAN_ONLY),)]),
        Result(("QUERY PLAN", "x"), [(json.dumps(PLAN_ONLY), 1)]),
        _one("[]"),
        _one("[{}]"),
        _one([]),
        _one([{}]),
        _one("null"),
        _one(None),
        _one(42),
        _one('"text"'),
        _one("[1]"),
        _one([[PLAN_ONLY[0]]]),
        _one([PLAN_ONLY[0], PLAN_ONLY[0]]),
        _one([{"Plan": []}]),
        _one([{"Plan": "Seq Scan"}]),
        _one({"Plan": None}),
        _one([{"plan": PLAN_ONLY[0]["Plan"]}]),
    ],
)
def test_malformed_plans(result: Result) -> None:
    with pytest.raises(ParseError):
        parse_plan("q", result, analyzed=False, generic=False)


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '[{"Plan": {',
        b"\xff\xfe",
        [{"Plan": {"Node Type": "Result", "Total Cost": "abc"}}],
        [{"Plan": {"Node Type": "Result", "Total Cost": None}}],
    ],
    ids=["text", "truncated", "bad-utf8", "str-cost", "null-cost"],
)
def test_undecodable_plans_raise_parse_error(raw: object) -> None:
    with pytest.raises(ParseError):
        parse_plan("q", _one(raw), analyzed=False, generic=False)


def test_parse_error_is_a_pgstatkit_error() -> None:
    # errors.py: every exception pgstatkit raises on purpose is a PgStatKitError
    assert issubclass(ParseError, PgStatKitError)
    assert issubclass(ParseError, RuntimeError)  # as before, for code that catches that
    with pytest.raises(PgStatKitError):
        parse_plan("q", _one("not json"), analyzed=False, generic=False)

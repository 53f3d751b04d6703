"""The report registry (``pgstatkit.reports``) is what the command line and the HTTP
router are made from: each report's parameters are the subcommand's options and the
route's query parameters, with the API's limits."""

from __future__ import annotations

import argparse
import math
from typing import Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgstatkit import _operations, reports, stats
from pgstatkit.cli import build_parser
from pgstatkit.errors import InvalidArgumentError

PARAMS = sorted(
    {(r.name, p.name): p for r in reports.REPORTS.values() for p in r.params}.items(),
    key=lambda item: item[0],
)
BOUNDED = [(key, p) for key, p in PARAMS if p.check is not None]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_table_orders_are_one_list() -> None:
    assert tuple(_operations.TABLE_ORDERS) == get_args(stats.TableOrder)
    assert reports.ORDER_BY.choices == get_args(stats.TableOrder)


def test_every_report_command_has_its_parameters_as_options() -> None:
    commands = _subparsers(build_parser())
    for report in reports.with_command():
        assert report.command in commands
        options = {o for a in commands[report.command]._actions for o in a.option_strings}
        assert {p.option for p in report.params if p.cli} <= options


def test_every_report_route_has_its_parameters_and_limits() -> None:
    pytest.importorskip("fastapi")
    from fastapi import FastAPI

    from pgstatkit.fastapi import create_router

    app = FastAPI()
    app.include_router(create_router(lambda: None, allow_unauthenticated=True))
    paths = app.openapi()["paths"]
    for report in reports.with_route():
        spec = paths[f"/performance/{report.route}"]["get"]
        found = {p["name"]: p["schema"] for p in spec["parameters"]}
        assert list(found) == [p.name for p in report.params if p.http] + ["timeout_ms"]
        for param in report.params:
            if param.http and param.minimum is not None:
                assert found[param.name]["minimum"] == param.minimum
                assert found[param.name]["maximum"] == param.maximum


@pytest.mark.parametrize(("key", "param"), BOUNDED, ids=[f"{r}.{p}" for (r, p), _ in BOUNDED])
@given(value=st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_the_openapi_limits_are_the_checks_limits(
    key: tuple[str, str], param: reports.Param, value: float
) -> None:
    """What OpenAPI documents as allowed is what the check accepts, and nothing else."""
    assert param.check is not None and param.minimum is not None and param.maximum is not None
    candidate: Any = math.floor(value) if param.type is int else value
    inside = param.minimum <= candidate <= param.maximum
    try:
        param.check(candidate)
    except InvalidArgumentError:
        assert not inside
    else:
        assert inside


def test_register_refuses_a_taken_name_command_or_route() -> None:
    taken = reports.REPORTS["slow_queries"]
    for change in ({}, {"name": "other", "command": "slow"}, {"name": "x", "route": "setup"}):
        clone = reports.Report(**{**_fields(taken), "command": None, "route": None, **change})
        with pytest.raises(ValueError, match="is taken by"):
            reports.register(clone)
    assert reports.REPORTS["slow_queries"] is taken


def _fields(report: reports.Report) -> dict[str, Any]:
    return {name: getattr(report, name) for name in reports.Report.__dataclass_fields__}


def test_a_registered_report_is_a_command_and_a_route() -> None:
    pytest.importorskip("fastapi")
    from fastapi import FastAPI

    from pgstatkit.fastapi import create_router

    base = reports.REPORTS["top_queries_by_total_time"]
    toy = reports.Report(**{**_fields(base), "name": "toy", "command": "toy", "route": "toy"})
    reports.register(toy)
    try:
        assert "toy" in _subparsers(build_parser())
        app = FastAPI()
        app.include_router(create_router(lambda: None, allow_unauthenticated=True))
        assert "/performance/toy" in app.openapi()["paths"]
    finally:
        reports.unregister("toy")
    assert "toy" not in _subparsers(build_parser())


@pytest.mark.parametrize(("key", "param"), BOUNDED, ids=[f"{r}.{p}" for (r, p), _ in BOUNDED])
def test_the_checks_accept_the_openapi_bounds_and_nothing_past_them(
    key: tuple[str, str], param: reports.Param
) -> None:
    assert param.minimum is not None and param.maximum is not None and param.check is not None
    step: Any = 1 if param.type is int else None
    low: Any = int(param.minimum) if step else param.minimum
    high: Any = int(param.maximum) if step else param.maximum
    param.check(low)
    param.check(high)
    below = low - 1 if step else math.nextafter(low, -math.inf)
    above = high + 1 if step else math.nextafter(high, math.inf)
    for outside in (below, above):
        with pytest.raises(InvalidArgumentError):
            param.check(outside)

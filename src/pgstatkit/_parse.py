"""Turn rows into models: the one place results are built.

The SQL names and casts every column so it matches a model field in name, order and
Python type (``int8`` -> int, ``float8`` -> float, ``timestamptz`` -> aware datetime), on
asyncpg and psycopg alike. Parsing is therefore a check of the column names followed by
positional construction.

Construction is the hot path at 10,000 rows: a frozen dataclass's ``__init__`` stores
each field through ``object.__setattr__`` (about 5 us per 55-field row). Rows are
instead built by a private, non-frozen twin of the model with the identical slot
layout, whose instance then becomes a model instance by ``__class__`` assignment: the
same object a model's own ``__init__`` would make (equal, same hash and repr, frozen
from then on), about 7x faster. See docs/benchmarks.md.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pgstatkit._protocol import Result
from pgstatkit.errors import PgStatKitError
from pgstatkit.models import QueryPlan

__all__ = ["ParseError", "parse_plan", "parse_rows"]

M = TypeVar("M")


class ParseError(PgStatKitError, RuntimeError):
    """Rows did not have the shape pgstatkit's SQL promises: a bug, please report it.

    A :class:`~pgstatkit.errors.PgStatKitError` (as every error pgstatkit raises on
    purpose), and a ``RuntimeError`` as it always was.
    """


_BUILDERS: dict[type[Any], Callable[..., Any]] = {}


def _builder(model: type[Any]) -> Callable[..., Any]:
    """The cached fast constructor of ``model``."""
    build = _BUILDERS.get(model)
    if build is None:
        build = _BUILDERS[model] = _make_builder(model)
    return build


def _make_builder(model: type[Any]) -> Callable[..., Any]:
    """A fast constructor for a frozen, slotted dataclass ``model`` (see the module doc).

    Falls back to ``model`` itself if the twin's layout cannot stand in for the model's.
    """
    fields = dataclasses.fields(model)
    twin = dataclasses.make_dataclass(
        f"_{model.__name__}Builder",
        [(f.name, f.type) for f in fields],
        bases=model.__bases__,
        slots=True,
        eq=False,
        repr=False,
        match_args=False,
    )
    probe = twin(*([None] * len(fields)))
    try:
        probe.__class__ = model
    except TypeError:  # pragma: no cover - a layout CPython will not swap
        return model

    def build(*values: object) -> Any:
        instance = twin(*values)
        instance.__class__ = model
        return instance

    return build


def parse_rows(model: type[M], result: Result) -> list[M]:
    """Build one ``model`` per row of ``result``.

    Raises:
        ParseError: the columns are not the model's fields in order.
    """
    if not result.rows:
        return []
    expected: tuple[str, ...] = model._FIELD_NAMES  # type: ignore[attr-defined]
    if tuple(result.columns) != expected:
        missing = [c for c in expected if c not in result.columns]
        extra = [c for c in result.columns if c not in expected]
        raise ParseError(
            f"{model.__name__}: columns do not match the model "
            f"(missing {missing}, unexpected {extra}, or out of order)"
        )
    build: Callable[..., M] = _builder(model)
    try:
        return [build(*row) for row in result.rows]
    except TypeError:  # a row with the wrong number of values
        raise ParseError(f"{model.__name__}: a row does not have {len(expected)} values") from None


def _number(node: Mapping[str, Any], key: str) -> float | None:
    value = node.get(key)
    return float(value) if isinstance(value, int | float) else None


def _count(node: Mapping[str, Any], key: str) -> int | None:
    value = node.get(key)
    return int(value) if isinstance(value, int) else None


def parse_plan(query: str, result: Result, *, analyzed: bool, generic: bool) -> QueryPlan:
    """Build a :class:`QueryPlan` from the one-row result of ``EXPLAIN (FORMAT JSON)``.

    The JSON may arrive as text (asyncpg) or already decoded (psycopg).

    Raises:
        ParseError: the result is not an EXPLAIN JSON document.
    """
    if len(result.rows) != 1 or len(result.rows[0]) != 1:
        raise ParseError("EXPLAIN (FORMAT JSON) should return one row with one column")
    raw = result.rows[0][0]
    try:
        document: object = json.loads(raw) if isinstance(raw, str | bytes) else raw
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ParseError(f"EXPLAIN output is not JSON: {exc}") from None
    if isinstance(document, Sequence) and not isinstance(document, str) and len(document) == 1:
        document = document[0]
    if not isinstance(document, dict) or not isinstance(document.get("Plan"), dict):
        raise ParseError("EXPLAIN output has no 'Plan' object")
    top: dict[str, Any] = document["Plan"]
    try:
        return _plan(query, document, top, analyzed=analyzed, generic=generic)
    except (TypeError, ValueError) as exc:
        raise ParseError(f"EXPLAIN output has a malformed value: {exc}") from None


def _plan(
    query: str, document: dict[str, Any], top: dict[str, Any], *, analyzed: bool, generic: bool
) -> QueryPlan:
    return QueryPlan(
        query=query,
        plan=document,
        total_cost=float(top.get("Total Cost", 0.0)),
        startup_cost=float(top.get("Startup Cost", 0.0)),
        plan_rows=float(top.get("Plan Rows", 0.0)),
        node_type=str(top.get("Node Type", "")),
        analyzed=analyzed,
        generic=generic,
        planning_time_ms=_number(document, "Planning Time"),
        execution_time_ms=_number(document, "Execution Time"),
        actual_rows=_number(top, "Actual Rows") if analyzed else None,
        shared_blks_hit=_count(top, "Shared Hit Blocks") if analyzed else None,
        shared_blks_read=_count(top, "Shared Read Blocks") if analyzed else None,
    )

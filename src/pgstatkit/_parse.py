"""Turn rows into models: the one place results are built.

The SQL names and casts every column so it matches a model field in name, order and
Python type (``int8`` -> int, ``float8`` -> float, ``timestamptz`` -> aware datetime), on
asyncpg and psycopg alike. Parsing is therefore a check of the column names followed by
positional construction.

Construction is the hot path at 10,000 rows: a frozen dataclass's ``__init__`` stores
each field through ``object.__setattr__`` (about 5 us per 55-field row). Rows are
instead built in a private, non-frozen twin of the model with the identical slot
layout, whose instance then becomes a model instance by ``__class__`` assignment: the
same object a model's own ``__init__`` would make (equal, same hash and repr, frozen
from then on). The builder is one generated function per model that unpacks the row
straight into the slots (``self.a, self.b, ... = row``): no argument tuple, no
``__init__`` frame (about 1 us per 55-field row).

The other half of the cost is the CPU cache: 10,000 rows of ``QueryStat`` hold about
560,000 value objects, far more than the cache holds, and building a model touches each
value (its reference count), as does freeing the driver's row later. With
``release=True`` :func:`parse_rows` frees each row as soon as its model took the values,
while they are still in the cache, instead of freeing all the rows afterwards. At
10,000 rows both halve what the models cost the call (a profile is in
docs/benchmarks.md, *Where the time of a 10,000-row call goes*).
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


_BUILDERS: dict[type[Any], Callable[[Sequence[object]], Any]] = {}


def _builder(model: type[Any]) -> Callable[[Sequence[object]], Any]:
    """The cached fast constructor of ``model``."""
    build = _BUILDERS.get(model)
    if build is None:
        build = _BUILDERS[model] = _make_builder(model)
    return build


def _make_builder(model: type[Any]) -> Callable[[Sequence[object]], Any]:
    """A fast constructor ``build(row)`` for a frozen, slotted dataclass ``model`` (see
    the module doc): ``row`` holds the field values in order.

    Falls back to ``model(*row)`` if the twin's layout cannot stand in for the model's.
    """
    names = [f.name for f in dataclasses.fields(model)]
    twin = dataclasses.make_dataclass(
        f"_{model.__name__}Builder",
        names,
        bases=model.__bases__,
        slots=True,
        init=False,
        eq=False,
        repr=False,
        match_args=False,
    )
    probe: Any = object.__new__(twin)
    try:
        probe.__class__ = model
    except TypeError:  # pragma: no cover - a layout CPython will not swap
        return lambda row: model(*row)
    # The names are the model's field names (identifiers: dataclasses checked them).
    source = (
        "def build(row):\n"
        "    self = new(twin)\n"
        f"    {', '.join(f'self.{name}' for name in names)}, = row\n"
        "    self.__class__ = model\n"
        "    return self\n"
    )
    namespace: dict[str, Any] = {"new": object.__new__, "twin": twin, "model": model}
    exec(source, namespace)  # noqa: S102 - fixed text over the model's field names
    build: Callable[[Sequence[object]], Any] = namespace["build"]
    return build


def parse_rows(model: type[M], result: Result, *, release: bool = False) -> list[M]:
    """Build one ``model`` per row of ``result``.

    ``release``: empty ``result.rows`` (when it is a list) while building, each row
    dropped right after its model is made (see the module doc); for a result nothing
    reads afterwards, as an operation's step's own.

    Raises:
        ParseError: the columns are not the model's fields in order.
    """
    rows = result.rows
    if not rows:
        return []
    expected: tuple[str, ...] = model._FIELD_NAMES  # type: ignore[attr-defined]
    if tuple(result.columns) != expected:
        missing = [c for c in expected if c not in result.columns]
        extra = [c for c in result.columns if c not in expected]
        raise ParseError(
            f"{model.__name__}: columns do not match the model "
            f"(missing {missing}, unexpected {extra}, or out of order)"
        )
    build: Callable[[Sequence[object]], M] = _builder(model)
    try:
        if release and type(rows) is list:
            rows.reverse()  # popped from the end: first row first
            take = rows.pop
            return [build(take()) for _ in range(len(rows))]
        return [build(row) for row in rows]
    except (TypeError, ValueError):  # a row with the wrong number of values (or none)
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

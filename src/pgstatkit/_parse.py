"""Turn rows into models: the one place results are built.

The SQL names and casts every column so it matches a model field in name, order and
Python type (``int8`` -> int, ``float8`` -> float, ``timestamptz`` -> aware datetime), on
asyncpg and psycopg alike. Parsing is therefore a check of the column names followed by
positional construction, which keeps it cheap at 10,000 rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pgstatkit._protocol import Result
from pgstatkit.models import QueryPlan

__all__ = ["ParseError", "parse_plan", "parse_rows"]

M = TypeVar("M")


class ParseError(RuntimeError):
    """Rows did not have the shape pgstatkit's SQL promises: a bug, please report it."""


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
    width = len(expected)
    if any(len(row) != width for row in result.rows):
        raise ParseError(f"{model.__name__}: a row does not have {width} values")
    return [model(*row) for row in result.rows]


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

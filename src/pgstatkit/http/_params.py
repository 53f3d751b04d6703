"""The OpenAPI query parameters: from a report's :class:`~pgstatkit.reports.Param`, and
the ones every route or the reset route has."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import Query

from pgstatkit import _validate
from pgstatkit.http._schema import Int64
from pgstatkit.reports import Param

__all__ = ["TIMEOUT_MS_DEFAULT", "MinmaxOnly", "QueryId", "TimeoutMs", "signature"]

TimeoutMs = Annotated[
    float,
    Query(
        ge=1,
        le=_validate.MAX_TIMEOUT_MS,
        description="Statement timeout of this call in ms, 1 to 3,600,000.",
    ),
]
"""``timeout_ms`` of every route; its default is :data:`TIMEOUT_MS_DEFAULT`."""
TIMEOUT_MS_DEFAULT = float(_validate.DEFAULT_TIMEOUT_MS)
IncludePgstatkit = Annotated[
    bool,
    Query(description="Also pgstatkit's own statements and tables (left out by default)."),
]
QueryId = Annotated[
    Int64 | None,
    Query(
        description="Reset only this pg_stat_statements queryid (non-zero); all if absent. "
        "A decimal string (or integer) of a signed 64-bit value, as the answers write it.",
    ),
]
MinmaxOnly = Annotated[
    bool,
    Query(
        description="Reset only the min/max times, keep calls and totals "
        "(pg_stat_statements 1.11+, PostgreSQL 17+; 503 on older versions)."
    ),
]


def _annotation(param: Param) -> Any:
    """``Annotated[type, Query(...)]``: the parameter's limits and description."""
    query = Query(ge=param.minimum, le=param.maximum, description=param.description)
    return Annotated[param.type, query]


def signature(params: tuple[Param, ...]) -> inspect.Signature:
    """The signature FastAPI reads a generated endpoint's query parameters from: the
    parameters that exist over HTTP, then ``timeout_ms``."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    found = [
        inspect.Parameter(p.name, keyword, default=p.default, annotation=_annotation(p))
        for p in params
        if p.http
    ]
    found.append(
        inspect.Parameter("timeout_ms", keyword, default=TIMEOUT_MS_DEFAULT, annotation=TimeoutMs)
    )
    return inspect.Signature(found)

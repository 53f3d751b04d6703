"""The models of the admin HTTP API's bodies: problems, explain requests, reset answers."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal

import pydantic

from pgstatkit import _validate

__all__ = ["PROBLEM_TYPE", "ExplainRequest", "Problem", "QueryTextMode", "ResetResult"]

PROBLEM_TYPE = "application/problem+json"
QueryTextMode = Literal["full", "truncate", "hide"]
"""How statement texts appear in responses: as they are, cut, or ``null``."""


class Problem(pydantic.BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


class ExplainRequest(pydantic.BaseModel):
    """Body of ``POST /performance/explain``: the arguments of ``stats.query_plan``."""

    model_config = pydantic.ConfigDict(extra="forbid")

    query: str = pydantic.Field(
        min_length=1, max_length=100_000, description="Exactly one SQL statement."
    )
    analyze: bool = pydantic.Field(
        default=False,
        description="Run it (always rolled back) for actual times; refused unless enabled.",
    )
    params: list[Any] | None = pydantic.Field(
        default=None, description="Values for $1..$n, as many as the highest placeholder."
    )
    timeout_ms: float | None = pydantic.Field(
        default=None,
        ge=1,
        le=_validate.MAX_TIMEOUT_MS,
        allow_inf_nan=False,
        description="Statement timeout in ms (default 5000).",
    )


class ResetResult(pydantic.BaseModel):
    """Answer of ``POST /performance/reset``."""

    reset: Literal[True] = True
    queryid: int | None = None
    minmax_only: bool = False
    reset_at: _dt.datetime | None = pydantic.Field(
        default=None, description="Reset time (pg_stat_statements 1.11+, PostgreSQL 17+)."
    )

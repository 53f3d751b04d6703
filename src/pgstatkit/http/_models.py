"""The models of the admin HTTP API's bodies: problems, explain requests, reset answers."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal

import pydantic

from pgstatkit import _validate
from pgstatkit.http._schema import INT64_NOTE, Int64

__all__ = [
    "PROBLEM_TYPE",
    "ExplainRequest",
    "FieldError",
    "Problem",
    "QueryTextMode",
    "ResetResult",
    "ValidationProblem",
]

PROBLEM_TYPE = "application/problem+json"
QueryTextMode = Literal["full", "truncate", "hide"]
"""How statement texts appear in responses: as they are, cut, or ``null``."""


class Problem(pydantic.BaseModel):
    """An RFC 9457 problem document (`application/problem+json`): what went wrong, in
    words that never hold SQL, a DSN, a driver's message or a stack trace."""

    type: str = pydantic.Field(
        default="about:blank",
        description="A URI naming the kind of problem; `about:blank`: the status says it.",
    )
    title: str = pydantic.Field(description="A short summary of the kind of problem.")
    status: int = pydantic.Field(description="The HTTP status code of the response.")
    detail: str = pydantic.Field(description="What happened here, and what to do about it.")


class FieldError(pydantic.BaseModel):
    """One refused part of a request: where it is, and why it was refused."""

    location: Literal["query", "path", "header", "cookie", "body"] = pydantic.Field(
        alias="in", description="Where the value was: as OpenAPI's parameter `in`, or `body`."
    )
    name: str = pydantic.Field(
        description="The parameter's name; in the body, a JSON Pointer (RFC 6901) to the "
        'value, such as `/timeout_ms` (`""`: the body as a whole).'
    )
    detail: str = pydantic.Field(description="Why the value was refused.")
    code: str = pydantic.Field(description="The kind of refusal, e.g. `greater_than_equal`.")

    model_config = pydantic.ConfigDict(populate_by_name=True)


class ValidationProblem(Problem):
    """A problem document of status 422. A request whose parameters or body do not fit
    the declared schema has `errors`, one entry per refused value (an extension member,
    RFC 9457 section 3.2); a value pgstatkit itself refused, or a statement the server
    rejected, has none."""

    errors: list[FieldError] | None = pydantic.Field(
        default=None, description="The refused values, when the schema refused them."
    )


class ExplainRequest(pydantic.BaseModel):
    """Body of `POST /performance/explain`: the arguments of `stats.query_plan`."""

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
        default=_validate.DEFAULT_TIMEOUT_MS,
        ge=1,
        le=_validate.MAX_TIMEOUT_MS,
        allow_inf_nan=False,
        description="Statement timeout in ms, 1 to 3,600,000; `null` means the default.",
    )


class ResetResult(pydantic.BaseModel):
    """Answer of `POST /performance/reset`."""

    reset: Literal[True] = pydantic.Field(default=True, description="Always `true`.")
    queryid: Int64 | None = pydantic.Field(
        default=None,
        description="The statement whose statistics were reset; `null`: every statement. "
        + INT64_NOTE,
    )
    minmax_only: bool = pydantic.Field(
        default=False, description="Only the min/max times were reset; calls and totals kept."
    )
    reset_at: _dt.datetime | None = pydantic.Field(
        default=None,
        description="Reset time (pg_stat_statements 1.11+, PostgreSQL 17+); `null` before.",
    )

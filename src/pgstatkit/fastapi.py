"""An admin HTTP API for a FastAPI service: ``pgstatkit.fastapi.create_router``.

Extra ``fastapi`` (``pip install "pgstatkit[fastapi]"``); without it, importing this
module raises :class:`ImportError` with that command. Mount the router under a prefix
of your own::

    from fastapi import FastAPI
    from pgstatkit.fastapi import bearer_token, create_router

    app = FastAPI()
    app.include_router(create_router(pool, auth=bearer_token()), prefix="/api/v1/admin")

Secure by default: :func:`create_router` refuses to build a router without an ``auth``
dependency unless ``allow_unauthenticated=True``; ``POST /performance/explain`` and
``POST /performance/reset`` do not exist unless enabled, and ``analyze`` needs its own
switch. Errors are ``application/problem+json`` (RFC 9457) bodies that never carry a
stack trace, SQL text, a DSN or a driver's exception text; the full exception goes to the
``pgstatkit.fastapi`` logger. See ``docs/http.md``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import hmac
import inspect
import json
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, Literal

try:
    import pydantic
    from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
    from fastapi.responses import JSONResponse
    from fastapi.routing import APIRoute
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
except ImportError as _exc:  # pragma: no cover - tested in a subprocess
    raise ImportError(
        f"pgstatkit.fastapi needs FastAPI ({_exc.name or 'fastapi'} could not be imported): "
        'pip install "pgstatkit[fastapi]"',
        name=_exc.name,
    ) from _exc

from pgstatkit import _validate, stats
from pgstatkit.adapters import open_async
from pgstatkit.errors import (
    ExtensionNotInstalledError,
    ExtensionNotLoadedError,
    ExtensionTooOldError,
    InsufficientPrivilegeError,
    InvalidArgumentError,
    PgStatKitError,
    StatementConflictError,
    StatementPrivilegeError,
    StatementRejectedError,
    StatementTimeoutError,
    TransactionStateError,
    UnsafeQueryError,
)
from pgstatkit.models import (
    DatabaseStatistics,
    IndexUsage,
    QueryPlan,
    QueryStat,
    SetupReport,
    TableStatistics,
)

__all__ = [
    "TOKEN_ENV",
    "ExplainRequest",
    "Problem",
    "QueryTextMode",
    "ResetResult",
    "bearer_token",
    "create_router",
]

logger = logging.getLogger("pgstatkit.fastapi")

TOKEN_ENV = "PGSTATKIT_ADMIN_TOKEN"  # noqa: S105 - the name of a variable, not a secret
"""Environment variable :func:`bearer_token` reads when no token is passed."""

PROBLEM_TYPE = "application/problem+json"
QueryTextMode = Literal["full", "truncate", "hide"]
"""How statement texts appear in responses: as they are, cut, or ``null``."""

_UNREACHABLE = (
    "The database is unreachable or refused the connection; the service log has the details."
)
_INTERNAL = "The request failed on the server; the service log has the details."


# --------------------------------------------------------------------------- models


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


# --------------------------------------------------------------------------- parameters

Limit = Annotated[
    int, Query(ge=1, le=_validate.MAX_LIMIT, description="At most this many rows, 1 to 10,000.")
]
TimeoutMs = Annotated[
    float | None,
    Query(
        ge=1,
        le=_validate.MAX_TIMEOUT_MS,
        description="Statement timeout of this call in ms, 1 to 3,600,000 (default 5000).",
    ),
]
AllDatabases = Annotated[
    bool, Query(description="Every database, not only the one the service connects to.")
]
MinDurationMs = Annotated[
    float,
    Query(
        ge=0,
        le=_validate.MAX_DURATION_MS,
        description="Threshold on mean execution time in ms, 0 to 86,400,000 (one day).",
    ),
]
IncludePgstatkit = Annotated[
    bool,
    Query(description="Also pgstatkit's own statements and tables (left out by default)."),
]
MaxCacheHitRatio = Annotated[
    float, Query(ge=0, le=1, description="A fraction from 0 to 1 (0.9 means 90%).")
]
TableOrderParam = Annotated[stats.TableOrder, Query(description="Sort order of the tables.")]
QueryId = Annotated[
    int | None,
    Query(
        ge=-(2**63),
        le=2**63 - 1,
        description="Reset only this pg_stat_statements queryid (non-zero); all if absent.",
    ),
]
MinmaxOnly = Annotated[
    bool,
    Query(
        description="Reset only the min/max times, keep calls and totals "
        "(pg_stat_statements 1.11+, PostgreSQL 17+; 503 on older versions)."
    ),
]

# --------------------------------------------------------------------------- auth


def bearer_token(
    token: str | None = None, *, env_var: str = TOKEN_ENV
) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that admits only ``Authorization: Bearer <token>``.

    ``token`` defaults to the environment variable ``env_var``
    (``PGSTATKIT_ADMIN_TOKEN``), read now. The comparison is constant-time; a missing or
    wrong token gets 401 with ``WWW-Authenticate: Bearer``.

    Raises:
        ValueError: no token, or an empty or blank one (it would admit anyone who
            guessed that the check is misconfigured).
    """
    secret = token if token is not None else os.environ.get(env_var)
    if secret is None:
        raise ValueError(
            f"bearer_token() needs a token: pass token=... or set the {env_var} "
            "environment variable"
        )
    if not secret.strip():
        raise ValueError("bearer_token() refuses an empty or blank token")
    expected = secret.encode("utf-8")
    scheme = HTTPBearer(auto_error=False, description="The admin token of pgstatkit.")

    async def require_bearer_token(
        credentials: HTTPAuthorizationCredentials | None = Depends(scheme),  # noqa: B008 - the closure's scheme
    ) -> None:
        given = b"" if credentials is None else credentials.credentials.encode("utf-8")
        # compare_digest on equal-length inputs only leaks the length, which is fine
        if not hmac.compare_digest(given, expected):
            raise HTTPException(
                status_code=401,
                detail="Missing or invalid bearer token.",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_bearer_token


# --------------------------------------------------------------------------- errors


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    body = Problem(title=title, status=status, detail=detail).model_dump()
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE)


_DRIVER_MODULES = ("asyncpg", "psycopg", "psycopg_pool", "sqlalchemy")


def _is_driver_error(exc: BaseException) -> bool:
    return any(cls.__module__.split(".")[0] in _DRIVER_MODULES for cls in type(exc).__mro__[:-1])


def _own(exc: Exception) -> str:
    return str(exc)  # pgstatkit's own message: English, no SQL, no server text


def _rejected(exc: Exception) -> str:
    return f"The server rejected the statement (SQLSTATE {getattr(exc, 'sqlstate', '?')})."


def _not_permitted(exc: Exception) -> str:
    return (
        "The database role of this service may not run this statement "
        f"(SQLSTATE {getattr(exc, 'sqlstate', '?')})."
    )


def _conflict(exc: Exception) -> str:
    return (
        "The statement lost to a concurrent transaction "
        f"(SQLSTATE {getattr(exc, 'sqlstate', '?')}); retry it."
    )


def _unreachable(exc: Exception) -> str:
    return _UNREACHABLE


def _internal(exc: Exception) -> str:
    return _INTERNAL


_INFO, _WARNING, _ERROR = logging.INFO, logging.WARNING, logging.ERROR
_PGSS = "pg_stat_statements is not available"

# The one mapping from errors to answers: the first row whose class matches wins, so
# subclasses come before their bases. 4xx (the caller's mistake) is logged at INFO,
# 504 at WARNING, everything an operator must fix at ERROR. ``detail`` never holds a
# driver's message, SQL, a DSN or a traceback.
_ANSWERS: tuple[tuple[type[BaseException], int, str, int, Callable[[Exception], str]], ...] = (
    # (error class, status, title, log level, detail)
    (InvalidArgumentError, 422, "Invalid argument", _INFO, _own),
    (UnsafeQueryError, 422, "Invalid argument", _INFO, _own),
    (StatementConflictError, 409, "Statement conflict", _INFO, _conflict),
    (StatementPrivilegeError, 403, "Statement not permitted", _INFO, _not_permitted),
    (StatementRejectedError, 422, "Statement rejected", _INFO, _rejected),
    (StatementTimeoutError, 504, "Statement timeout", _WARNING, _own),
    (ExtensionNotLoadedError, 503, _PGSS, _ERROR, _own),
    (ExtensionNotInstalledError, 503, _PGSS, _ERROR, _own),
    (ExtensionTooOldError, 503, _PGSS, _ERROR, _own),
    (InsufficientPrivilegeError, 503, "Insufficient privilege", _ERROR, _own),
    (TransactionStateError, 503, "Database session unusable", _ERROR, _own),
    (PgStatKitError, 500, "pgstatkit error", _ERROR, _own),
    (OSError, 503, "Database unavailable", _ERROR, _unreachable),
    (asyncio.TimeoutError, 503, "Database unavailable", _ERROR, _unreachable),
)


def _answer(exc: Exception) -> tuple[int, str, int, Callable[[Exception], str]]:
    for cls, status, title, level, detail in _ANSWERS:
        if isinstance(exc, cls):
            return status, title, level, detail
    if _is_driver_error(exc):  # asyncpg / psycopg / pool / SQLAlchemy: the database
        return 503, "Database unavailable", _ERROR, _unreachable
    return 500, "Internal error", _ERROR, _internal


def _error_response(exc: Exception, operation: str) -> JSONResponse:
    """The problem response for an exception of a pgstatkit call; logs it.

    Refusals of the caller's own input (pgstatkit's argument checks) are logged without
    a traceback; everything else with it (the driver's error, in the chain, names what
    the server said).
    """
    status, title, level, detail = _answer(exc)
    quiet = isinstance(exc, InvalidArgumentError | UnsafeQueryError)
    logger.log(
        level, "pgstatkit %s: %s: %s", operation, title, exc, exc_info=None if quiet else exc
    )
    return _problem(status, title, detail(exc))


def _responses(*extra: int) -> dict[int | str, dict[str, Any]]:
    content = {PROBLEM_TYPE: {"schema": Problem.model_json_schema()}}
    described: dict[int, str] = {
        401: "Missing or invalid credentials.",
        403: "Not enabled on this router; or the service's role may not run the statement.",
        409: "The explained statement lost to a concurrent transaction; retry it.",
        422: "Invalid parameters, or a statement the server rejected; the body says which.",
        503: "Database unreachable, pg_stat_statements missing, or a grant missing.",
        504: "The statement timeout of the call was reached.",
    }
    result: dict[int | str, dict[str, Any]] = {}
    for status in (401, 422, 503, 504, *extra):
        entry: dict[str, Any] = {"description": described[status]}
        if status != 401:
            entry["content"] = content
        result[status] = entry
    return result


# --------------------------------------------------------------------------- router


class _NonFiniteNumberError(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NonFiniteNumberError(name)


class _StrictJSONRequest(Request):
    """A request whose JSON body may not hold ``NaN``, ``Infinity`` or ``-Infinity``.

    Python's ``json`` accepts them, JSON does not, and FastAPI's 422 answer echoes the
    offending input: with a non-finite float in it, that answer cannot be encoded and
    the request ends in a 500. Refused at decoding, such a body is FastAPI's own 422
    ``json_invalid`` instead.
    """

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, parse_constant=_refuse_constant)
            except _NonFiniteNumberError as exc:
                text = body.decode("utf-8", errors="replace")
                raise json.JSONDecodeError(
                    f"{exc} is not a JSON number: numbers must be finite", text, 0
                ) from None
        return self._json


class _StrictJSONRoute(APIRoute):
    """The router's routes: request bodies are decoded by :class:`_StrictJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_json(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict_json


def _prometheus() -> Any:
    """:mod:`pgstatkit.prometheus`, or an ImportError that names both ways out."""
    try:
        from pgstatkit import prometheus
    except ImportError as exc:
        raise ImportError(
            "GET /performance/metrics renders with prometheus-client: "
            'pip install "pgstatkit[fastapi]" (which brings it), or pass enable_metrics=False'
        ) from exc
    return prometheus


def _resolve_source(source: Any) -> Callable[[], Awaitable[Any]]:
    if callable(source):

        async def provided() -> Any:
            value = source()
            if inspect.isawaitable(value):
                value = await value
            return value

        return provided
    open_async(source)  # TypeError now for an unsupported source; nothing is opened

    async def fixed() -> Any:
        return source

    return fixed


def create_router(
    source: Any,
    *,
    auth: Callable[..., Any] | None = None,
    allow_unauthenticated: bool = False,
    enable_explain: bool = False,
    enable_explain_analyze: bool = False,
    enable_reset: bool = False,
    enable_metrics: bool = True,
    metrics_top_n: int = 20,
    query_text: QueryTextMode = "truncate",
    max_query_length: int = 500,
    tags: list[str] | None = None,
) -> APIRouter:
    """The pgstatkit admin endpoints as an ``APIRouter``; mount it under your prefix.

    Args:
        source: how to reach the database: an asyncpg ``Pool``, a psycopg
            ``AsyncConnectionPool``, a SQLAlchemy ``AsyncEngine`` (any source
            ``pgstatkit.stats`` accepts), or a callable returning one (sync or async;
            called per request, e.g. ``lambda: app.state.pool`` for a pool created in the
            app's lifespan).
        auth: a FastAPI dependency that raises (``HTTPException(401)``) for unauthorised
            callers, e.g. :func:`bearer_token`. Applied to every route.
        allow_unauthenticated: build the router without ``auth`` (only behind something
            else that authenticates).
        enable_explain: register ``POST /performance/explain``.
        enable_explain_analyze: let explain run ``analyze`` (executes the statement,
            rolled back); otherwise such a request gets 403.
        enable_reset: register ``POST /performance/reset``.
        enable_metrics: register ``GET /performance/metrics`` (Prometheus text format;
            statement texts never included).
        metrics_top_n: statements in the metrics (bounds label cardinality), 1 to 10,000.
        query_text: statement texts in responses: ``"full"``, ``"truncate"`` (the
            default: cut to ``max_query_length`` characters) or ``"hide"`` (``null``).
            Texts are normalized, but may still hold literals.
        max_query_length: the cut of ``"truncate"``, at least 1.
        tags: OpenAPI tags of the routes (default ``["pgstatkit"]``).

    Raises:
        ValueError: no ``auth`` and not ``allow_unauthenticated``; a bad option.
        TypeError: ``source`` is not a supported source nor a callable.
    """
    if auth is None and not allow_unauthenticated:
        raise ValueError(
            "create_router() needs auth= (a FastAPI dependency such as "
            "pgstatkit.fastapi.bearer_token()); pass allow_unauthenticated=True only if "
            "something in front of the service authenticates"
        )
    if auth is not None and not callable(auth):
        raise TypeError("auth must be a FastAPI dependency (a callable)")
    if query_text not in ("full", "truncate", "hide"):
        raise ValueError(f"query_text must be 'full', 'truncate' or 'hide', got {query_text!r}")
    if not isinstance(max_query_length, int) or max_query_length < 1:
        raise ValueError(f"max_query_length must be a positive int, got {max_query_length!r}")
    if enable_explain_analyze and not enable_explain:
        raise ValueError("enable_explain_analyze=True needs enable_explain=True")
    _validate.limit(metrics_top_n, "metrics_top_n")
    get_source = _resolve_source(source)

    router = APIRouter(
        tags=list(tags) if tags is not None else ["pgstatkit"],
        dependencies=[Depends(auth)] if auth is not None else [],
        route_class=_StrictJSONRoute,
    )

    def present(rows: list[QueryStat]) -> list[QueryStat]:
        if query_text == "full":
            return rows
        if query_text == "hide":
            return [dataclasses.replace(r, query=None) for r in rows]
        return [
            dataclasses.replace(r, query=r.query[: max_query_length - 1] + "\u2026")
            if r.query is not None and len(r.query) > max_query_length
            else r
            for r in rows
        ]

    async def call(operation: str, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        try:
            return await fn(await get_source())
        except Exception as exc:
            return _error_response(exc, operation)

    async def statements(operation: str, fn: Callable[[Any], Awaitable[list[QueryStat]]]) -> Any:
        result = await call(operation, fn)
        return result if isinstance(result, Response) else present(result)

    @router.get(
        "/performance/slow-queries",
        response_model=list[QueryStat],
        responses=_responses(),
        summary="Slow statements: mean execution time at least min_duration_ms",
    )
    async def slow_queries(
        min_duration_ms: MinDurationMs = 1000.0,
        limit: Limit = 20,
        all_databases: AllDatabases = False,
        include_pgstatkit: IncludePgstatkit = False,
        timeout_ms: TimeoutMs = None,
    ) -> Any:
        return await statements(
            "slow-queries",
            lambda conn: stats.slow_queries(
                conn,
                min_duration_ms=min_duration_ms,
                limit=limit,
                all_databases=all_databases,
                include_pgstatkit=include_pgstatkit,
                timeout_ms=timeout_ms,
            ),
        )

    @router.get(
        "/performance/top-queries",
        response_model=list[QueryStat],
        responses=_responses(),
        summary="Statements with the highest total execution time",
    )
    async def top_queries(
        limit: Limit = 20,
        all_databases: AllDatabases = False,
        include_pgstatkit: IncludePgstatkit = False,
        timeout_ms: TimeoutMs = None,
    ) -> Any:
        return await statements(
            "top-queries",
            lambda conn: stats.top_queries_by_total_time(
                conn,
                limit=limit,
                all_databases=all_databases,
                include_pgstatkit=include_pgstatkit,
                timeout_ms=timeout_ms,
            ),
        )

    @router.get(
        "/performance/low-cache-hit",
        response_model=list[QueryStat],
        responses=_responses(),
        summary="Statements with a shared-buffer cache hit ratio at most max_cache_hit_ratio",
    )
    async def low_cache_hit(
        max_cache_hit_ratio: MaxCacheHitRatio = 0.9,
        limit: Limit = 20,
        all_databases: AllDatabases = False,
        include_pgstatkit: IncludePgstatkit = False,
        timeout_ms: TimeoutMs = None,
    ) -> Any:
        return await statements(
            "low-cache-hit",
            lambda conn: stats.queries_with_low_cache_hit(
                conn,
                max_cache_hit_ratio=max_cache_hit_ratio,
                limit=limit,
                all_databases=all_databases,
                include_pgstatkit=include_pgstatkit,
                timeout_ms=timeout_ms,
            ),
        )

    @router.get(
        "/performance/database-stats",
        response_model=DatabaseStatistics,
        responses=_responses(),
        summary="Statistics of the current database",
    )
    async def database_stats(timeout_ms: TimeoutMs = None) -> Any:
        return await call(
            "database-stats", lambda conn: stats.database_statistics(conn, timeout_ms=timeout_ms)
        )

    @router.get(
        "/performance/table-stats",
        response_model=list[TableStatistics],
        responses=_responses(),
        summary="User tables: scans, tuples, maintenance, sizes",
    )
    async def table_stats(
        limit: Annotated[
            int, Query(ge=1, le=_validate.MAX_LIMIT, description="At most this many tables.")
        ] = 50,
        order_by: TableOrderParam = "seq_tup_read",
        include_pgstatkit: IncludePgstatkit = False,
        timeout_ms: TimeoutMs = None,
    ) -> Any:
        return await call(
            "table-stats",
            lambda conn: stats.table_statistics(
                conn,
                limit=limit,
                order_by=order_by,
                include_pgstatkit=include_pgstatkit,
                timeout_ms=timeout_ms,
            ),
        )

    @router.get(
        "/performance/index-usage",
        response_model=list[IndexUsage],
        responses=_responses(),
        summary="User indexes with scans, size and an unused flag",
    )
    async def index_usage(
        limit: Annotated[
            int, Query(ge=1, le=_validate.MAX_LIMIT, description="At most this many indexes.")
        ] = 50,
        include_pgstatkit: IncludePgstatkit = False,
        timeout_ms: TimeoutMs = None,
    ) -> Any:
        return await call(
            "index-usage",
            lambda conn: stats.index_usage(
                conn, limit=limit, include_pgstatkit=include_pgstatkit, timeout_ms=timeout_ms
            ),
        )

    @router.get(
        "/performance/setup",
        response_model=SetupReport,
        responses=_responses(),
        summary="The server's setup for pg_stat_statements, each finding with its fix",
    )
    async def setup_check(timeout_ms: TimeoutMs = None) -> Any:
        return await call("setup", lambda conn: stats.check_setup(conn, timeout_ms=timeout_ms))

    if enable_metrics:
        prometheus = _prometheus()

        @router.get(
            "/performance/metrics",
            response_class=Response,
            responses={
                200: {"content": {prometheus.CONTENT_TYPE: {"schema": {"type": "string"}}}},
                **_responses(),
            },
            summary="Prometheus text exposition of database and top-statement metrics",
        )
        async def metrics(
            include_pgstatkit: IncludePgstatkit = False, timeout_ms: TimeoutMs = None
        ) -> Response:
            result = await call(
                "metrics",
                lambda conn: prometheus.render_metrics(
                    conn,
                    top_n=metrics_top_n,
                    include_pgstatkit=include_pgstatkit,
                    timeout_ms=timeout_ms,
                ),
            )
            if isinstance(result, Response):
                return result
            return Response(content=result, media_type=prometheus.CONTENT_TYPE)

    if enable_explain:

        @router.post(
            "/performance/explain",
            response_model=QueryPlan,
            responses=_responses(403, 409),
            summary="Plan of one statement (EXPLAIN FORMAT JSON)",
        )
        async def explain(request: Annotated[ExplainRequest, Body()]) -> Any:
            if request.analyze and not enable_explain_analyze:
                return _problem(
                    403,
                    "Forbidden",
                    "analyze is not enabled on this service (enable_explain_analyze=False)",
                )
            return await call(
                "explain",
                lambda conn: stats.query_plan(
                    conn,
                    request.query,
                    analyze=request.analyze,
                    params=request.params,
                    timeout_ms=request.timeout_ms,
                ),
            )

    if enable_reset:

        @router.post(
            "/performance/reset",
            response_model=ResetResult,
            responses=_responses(),
            summary="pg_stat_statements_reset(): forget every statement, or one queryid",
        )
        async def reset(
            queryid: QueryId = None, minmax_only: MinmaxOnly = False, timeout_ms: TimeoutMs = None
        ) -> Any:
            result = await call(
                "reset",
                lambda conn: stats.reset_query_statistics(
                    conn, queryid=queryid, minmax_only=minmax_only, timeout_ms=timeout_ms
                ),
            )
            if isinstance(result, Response):
                return result
            return ResetResult(queryid=queryid, minmax_only=minmax_only, reset_at=result)

    return router

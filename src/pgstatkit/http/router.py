""":func:`create_router`: the admin routes as a FastAPI ``APIRouter``."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends

from pgstatkit import _validate, reports
from pgstatkit.adapters import open_async
from pgstatkit.http._json import StrictJSONRoute
from pgstatkit.http._models import QueryTextMode
from pgstatkit.http._routes import Service, add_explain, add_metrics, add_report, add_reset

__all__ = ["create_router"]


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


def _check_options(
    auth: Callable[..., Any] | None,
    allow_unauthenticated: bool,
    query_text: str,
    max_query_length: int,
    enable_explain: bool,
    enable_explain_analyze: bool,
    metrics_top_n: int,
    metrics_health: bool,
) -> None:
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
    if not isinstance(metrics_health, bool):
        raise TypeError(f"metrics_health must be a bool, got {metrics_health!r}")


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
    metrics_health: bool = False,
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
        metrics_health: the metrics also run the health checks (``stats.health``, default
            thresholds) and export their gauges ``pgstatkit_health_findings{check,
            severity}`` and ``pgstatkit_health_status{check}``, which the shipped alert
            rule ``PgStatKitHealthCheckCritical`` reads. Off by default: every scrape then
            also runs the health checks' queries (catalog reads over every table and
            index; see docs/health.md and docs/benchmarks.md for their cost), so scrape
            less often or raise the scrape timeout on large databases.
        query_text: statement texts in responses: ``"full"``, ``"truncate"`` (the
            default: cut to ``max_query_length`` characters) or ``"hide"`` (``null``).
            Texts are normalized, but may still hold literals.
        max_query_length: the cut of ``"truncate"``, at least 1.
        tags: OpenAPI tags of the routes (default ``["pgstatkit"]``).

    Raises:
        ValueError: no ``auth`` and not ``allow_unauthenticated``; a bad option.
        TypeError: ``source`` is not a supported source nor a callable; ``metrics_health``
            is not a bool.
    """
    _check_options(
        auth, allow_unauthenticated, query_text, max_query_length, enable_explain,
        enable_explain_analyze, metrics_top_n, metrics_health,
    )  # fmt: skip
    service = Service(
        _resolve_source(source),
        query_text,
        max_query_length,
        metrics_top_n,
        enable_explain_analyze,
        metrics_health,
    )
    router = APIRouter(
        tags=list(tags) if tags is not None else ["pgstatkit"],
        dependencies=[Depends(auth)] if auth is not None else [],
        route_class=StrictJSONRoute,
    )
    for report in reports.with_route():
        add_report(router, service, report)
    if enable_metrics:
        add_metrics(router, service)
    if enable_explain:
        add_explain(router, service)
    if enable_reset:
        add_reset(router, service)
    return router

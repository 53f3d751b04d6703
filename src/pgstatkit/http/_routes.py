"""The routes: one ``GET /performance/<route>`` per report of :mod:`pgstatkit.reports`,
and the metrics, explain and reset routes."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Query, Response

from pgstatkit import stats
from pgstatkit._display import cut
from pgstatkit._protocol import Operation
from pgstatkit._run import run_async
from pgstatkit.adapters import open_async
from pgstatkit.http._errors import error_response, problem, responses
from pgstatkit.http._models import ExplainRequest, QueryTextMode, ResetResult
from pgstatkit.http._params import (
    TIMEOUT_MS_DEFAULT,
    IncludePgstatkit,
    MinmaxOnly,
    QueryId,
    TimeoutMs,
    signature,
)
from pgstatkit.http._schema import response_model
from pgstatkit.models import QueryPlan, QueryStat
from pgstatkit.reports import Report

__all__ = ["Service", "add_explain", "add_metrics", "add_report", "add_reset"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Service:
    """What the routes of one router share: the source and the router's options."""

    get_source: Callable[[], Awaitable[Any]]
    query_text: QueryTextMode
    max_query_length: int
    metrics_top_n: int
    explain_analyze: bool
    metrics_health: bool = False

    async def call(self, operation: str, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        """``fn(source)``, or the problem response for what it raised."""
        try:
            return await fn(await self.get_source())
        except Exception as exc:
            return error_response(exc, operation)

    def present(self, rows: list[QueryStat]) -> list[QueryStat]:
        """Statement texts as the router's ``query_text`` mode wants them."""
        if self.query_text == "full":
            return rows
        if self.query_text == "hide":
            return [dataclasses.replace(r, query=None) for r in rows]
        length = self.max_query_length
        return [
            r if r.query is None else dataclasses.replace(r, query=cut(r.query, length))
            for r in rows
        ]


async def _run(source: Any, op: Operation[T]) -> T:
    async with open_async(source) as session:
        return await run_async(session, op)


def add_report(router: APIRouter, service: Service, report: Report) -> None:
    """``GET /performance/<route>`` of ``report``: its parameters are the query's."""
    assert report.route is not None

    async def endpoint(**values: Any) -> Any:
        timeout_ms = values.pop("timeout_ms")
        result = await service.call(
            report.route or report.name,
            lambda source: _run(
                source, report.operation(**report.arguments(values), timeout_ms=timeout_ms)
            ),
        )
        if report.statements and not isinstance(result, Response):
            return service.present(result)
        return result

    name = report.endpoint or report.route.replace("-", "_")
    model = response_model(report.model)
    endpoint.__name__ = endpoint.__qualname__ = name
    endpoint.__signature__ = signature(report.params)  # type: ignore[attr-defined]
    router.add_api_route(
        f"/performance/{report.route}",
        endpoint,
        methods=["GET"],
        name=name,
        response_model=list[model] if report.many else model,  # type: ignore[valid-type]
        responses=responses(),
        summary=report.summary,
    )


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


def add_metrics(router: APIRouter, service: Service) -> None:
    """``GET /performance/metrics``: the Prometheus exposition."""
    prometheus = _prometheus()

    @router.get(
        "/performance/metrics",
        response_class=Response,
        responses={
            200: {"content": {prometheus.CONTENT_TYPE: {"schema": {"type": "string"}}}},
            # a timeout or a missing extension is 200 with pgstatkit_up 0 (the scrape
            # still says what it could read); only an unreachable database is 503
            **responses(without=(504,)),
        },
        summary="Prometheus text exposition of database and top-statement metrics",
        description=(
            "With the router's metrics_health=True also the health checks' gauges "
            "pgstatkit_health_findings{check,severity} and pgstatkit_health_status{check} "
            "(every scrape runs the health checks' queries)."
            if service.metrics_health
            else None
        ),
    )
    async def metrics(
        include_pgstatkit: IncludePgstatkit = False,
        all_databases: Annotated[
            bool,
            Query(
                description="The statements of every database of the server, not only the "
                "one the service connects to (label database; still at most the router's "
                "metrics_top_n statements in all). Needs pg_read_all_stats."
            ),
        ] = False,
        timeout_ms: TimeoutMs = TIMEOUT_MS_DEFAULT,
    ) -> Response:
        result = await service.call(
            "metrics",
            lambda source: prometheus.render_metrics(
                source,
                top_n=service.metrics_top_n,
                include_pgstatkit=include_pgstatkit,
                timeout_ms=timeout_ms,
                all_databases=all_databases,
                health=service.metrics_health,
            ),
        )
        if isinstance(result, Response):
            return result
        return Response(content=result, media_type=prometheus.CONTENT_TYPE)


def add_explain(router: APIRouter, service: Service) -> None:
    """``POST /performance/explain``; ``analyze`` only if the router enables it."""

    @router.post(
        "/performance/explain",
        response_model=response_model(QueryPlan),
        responses=responses(403, 409),
        summary="Plan of one statement (EXPLAIN FORMAT JSON)",
    )
    async def explain(request: Annotated[ExplainRequest, Body()]) -> Any:
        if request.analyze and not service.explain_analyze:
            return problem(
                403,
                "Forbidden",
                "analyze is not enabled on this service (enable_explain_analyze=False)",
            )
        return await service.call(
            "explain",
            lambda source: stats.query_plan(
                source,
                request.query,
                analyze=request.analyze,
                params=request.params,
                timeout_ms=request.timeout_ms,
            ),
        )


def add_reset(router: APIRouter, service: Service) -> None:
    """``POST /performance/reset``: every statement, or one ``queryid``."""

    @router.post(
        "/performance/reset",
        response_model=ResetResult,
        responses=responses(),
        summary="pg_stat_statements_reset(): forget every statement, or one queryid",
    )
    async def reset(
        queryid: QueryId = None,
        minmax_only: MinmaxOnly = False,
        timeout_ms: TimeoutMs = TIMEOUT_MS_DEFAULT,
    ) -> Any:
        result = await service.call(
            "reset",
            lambda source: stats.reset_query_statistics(
                source, queryid=queryid, minmax_only=minmax_only, timeout_ms=timeout_ms
            ),
        )
        if isinstance(result, Response):
            return result
        return ResetResult(queryid=queryid, minmax_only=minmax_only, reset_at=result)

"""pgstatkit.prometheus: the text renderer, the prometheus_client collector, the endpoint."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import psycopg_pool
import pytest
from http_support import AUTH, PREFIX, TOKEN, http_client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from harness.servers import TestServer
from pgstatkit._health import CHECKS
from pgstatkit.fastapi import bearer_token, create_router
from pgstatkit.models import QueryStat
from pgstatkit.prometheus import (
    CONTENT_TYPE,
    PgStatKitCollector,
    Snapshot,
    collect_snapshot,
    render,
)

STATEMENT_LABELS = {"queryid", "database", "user"}


def _stat(**overrides: Any) -> QueryStat:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(QueryStat):
        values[f.name] = 0 if "int" in str(f.type) or "float" in str(f.type) else None
    values.update(queryid=42, query="SELECT 1", database="db", username="alice", calls=1)
    values.update(overrides)
    return QueryStat(**values)


def _samples(text: str) -> list[Any]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def test_toplevel_rows_are_summed_into_one_label_set() -> None:
    rows = [
        _stat(toplevel=True, calls=3, total_exec_time_ms=1500.0),
        _stat(toplevel=False, calls=2, total_exec_time_ms=500.0),
        _stat(queryid=None, query=None, calls=99),  # hidden from the role: left out
    ]
    samples = _samples(render(Snapshot(None, rows)))
    calls = [s for s in samples if s.name == "pgstatkit_statement_calls_total"]
    assert len(calls) == 1
    assert calls[0].labels == {"queryid": "42", "database": "db", "user": "alice"}
    assert calls[0].value == 5
    seconds = next(s for s in samples if s.name == "pgstatkit_statement_exec_time_seconds_total")
    assert seconds.value == pytest.approx(2.0)
    up = next(s for s in samples if s.name == "pgstatkit_up")
    assert up.value == 0  # no database statistics in this snapshot


def test_query_text_is_opt_in_escaped_and_cut() -> None:
    text = 'SELECT "a\\b"\nFROM t WHERE x = \'' + "y" * 500 + "'"
    rows = [_stat(query=text)]
    assert "SELECT" not in render(Snapshot(None, rows))
    rendered = render(Snapshot(None, rows, include_query_text=True, max_query_length=30))
    calls = next(s for s in _samples(rendered) if s.name == "pgstatkit_statement_calls_total")
    assert calls.labels["query"] == 'SELECT "a\\b" FROM t WHERE x = '[:29] + "\u2026"
    assert len(calls.labels["query"]) == 30


def test_collector_without_source_exposes_the_last_snapshot() -> None:
    collector = PgStatKitCollector()
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    assert registry.get_sample_value("pgstatkit_up") == 0
    assert "pgstatkit_statement_calls_total" not in text
    collector.update(Snapshot(None, [_stat(calls=7)]))
    assert (
        registry.get_sample_value(
            "pgstatkit_statement_calls_total",
            {"queryid": "42", "database": "db", "user": "alice"},
        )
        == 7
    )


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="top_n"):
        PgStatKitCollector(top_n=0)
    with pytest.raises(ValueError, match="max_query_length"):
        PgStatKitCollector(max_query_length=0)


@pytest.fixture
async def pool(pg_server: TestServer) -> AsyncIterator[Any]:
    p = await asyncpg.create_pool(pg_server.dsn, min_size=1, max_size=2)
    try:
        yield p
    finally:
        await p.close()


def _check_bounded(text: str, top_n: int) -> dict[str, float]:
    families = list(text_string_to_metric_families(text))
    names = {f.name for f in families}
    assert "pgstatkit_database_size_bytes" in names
    assert "pgstatkit_statement_calls" in names  # the parser drops _total from counters
    unlabelled: dict[str, float] = {}
    for family in families:
        label_sets = {tuple(sorted(s.labels.items())) for s in family.samples}
        assert len(label_sets) == len(family.samples), f"duplicate series in {family.name}"
        for sample in family.samples:
            if family.name.startswith("pgstatkit_statement_"):
                assert set(sample.labels) == STATEMENT_LABELS
            elif family.name.startswith("pgstatkit_database_"):
                assert set(sample.labels) == {"database"}
            else:
                unlabelled[sample.name] = sample.value
        if family.name.startswith("pgstatkit_statement_"):
            assert len(family.samples) <= top_n
    assert "SELECT" not in text
    return unlabelled


async def test_metrics_endpoint(pool: Any, pg_server: TestServer) -> None:
    pg_server.psql("SELECT 'metrics-probe-literal' AS x")
    router = create_router(pool, auth=bearer_token(TOKEN), metrics_top_n=5, query_text="full")
    async with http_client(router) as client:
        r = await client.get(f"{PREFIX}/performance/metrics", headers=AUTH)
    assert r.status_code == 200
    assert r.headers["content-type"] == CONTENT_TYPE
    unlabelled = _check_bounded(r.text, 5)
    # the evictions counter: a fresh test cluster has evicted nothing (or not much)
    deallocations = unlabelled.pop("pgstatkit_pg_stat_statements_deallocations_total")
    assert deallocations >= 0
    assert unlabelled == {"pgstatkit_up": 1, "pgstatkit_pg_stat_statements_available": 1}
    assert "metrics-probe-literal" not in r.text
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    size = families["pgstatkit_database_size_bytes"].samples[0]
    assert size.labels == {"database": "pgstatkit_test"} and size.value > 0


async def test_metrics_can_be_turned_off(pool: Any) -> None:
    router = create_router(pool, auth=bearer_token(TOKEN), enable_metrics=False)
    async with http_client(router) as client:
        r = await client.get(f"{PREFIX}/performance/metrics", headers=AUTH)
    assert r.status_code == 404


async def test_collector_refresh_from_an_async_source(pool: Any) -> None:
    collector = PgStatKitCollector(top_n=3)
    registry = CollectorRegistry()
    registry.register(collector)
    snapshot = await collector.refresh(pool)
    assert snapshot.database is not None and snapshot.statements is not None
    _check_bounded(generate_latest(registry).decode(), 3)
    assert registry.get_sample_value("pgstatkit_up") == 1


def test_collector_with_a_blocking_source(pg_server: TestServer) -> None:
    with psycopg_pool.ConnectionPool(pg_server.dsn, min_size=1, max_size=1, open=False) as p:
        registry = CollectorRegistry()
        registry.register(PgStatKitCollector(p, top_n=4))
        text = generate_latest(registry).decode()
        assert registry.get_sample_value("pgstatkit_pg_stat_statements_available") == 1
    _check_bounded(text, 4)


async def test_snapshot_with_query_text(pool: Any, pg_server: TestServer) -> None:
    # a table of its own: PostgreSQL 18 merges statements differing only in aliases
    pg_server.psql(
        "CREATE TABLE IF NOT EXISTS http_metrics_probe (x int);"
        "SELECT count(*) FROM http_metrics_probe;"
    )
    snapshot = await collect_snapshot(
        pool, top_n=10_000, include_query_text=True, max_query_length=80
    )
    text = render(snapshot)
    queries = [
        s.labels["query"] for s in _samples(text) if s.name == "pgstatkit_statement_calls_total"
    ]
    assert any("http_metrics_probe" in q for q in queries)
    assert all(len(q) <= 80 for q in queries)


async def test_router_metrics_health_is_opt_in(pool: Any) -> None:
    families = {"pgstatkit_health_findings", "pgstatkit_health_status"}
    async with http_client(create_router(pool, auth=bearer_token(TOKEN))) as client:
        r = await client.get(f"{PREFIX}/performance/metrics", headers=AUTH)
    assert r.status_code == 200
    assert not families & {f.name for f in text_string_to_metric_families(r.text)}
    router = create_router(pool, auth=bearer_token(TOKEN), metrics_health=True)
    async with http_client(router) as client:
        r = await client.get(f"{PREFIX}/performance/metrics", headers=AUTH)
    assert r.status_code == 200
    scraped = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert families <= set(scraped)
    findings = scraped["pgstatkit_health_findings"].samples
    # one series per check and severity, so the alert rule's severity="critical" matches
    assert {s.labels["severity"] for s in findings} >= {"critical", "warning"}
    status = {s.labels["check"]: s.value for s in scraped["pgstatkit_health_status"].samples}
    assert set(status) == set(CHECKS)
    assert all(value in (0, 1, 2, 3) for value in status.values())


def test_router_metrics_health_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="metrics_health"):
        create_router(lambda: None, auth=bearer_token(TOKEN), metrics_health="yes")  # type: ignore[arg-type]

"""What a metrics scrape reads, on real servers (issue 20).

- A statement recorded both top-level and nested (``pg_stat_statements.track = all``: run
  directly and inside a PL/pgSQL function) is ONE series with the summed counters,
  whatever ``top_n`` is (postgres_exporter answers HTTP 500 here: a duplicate label set).
- Scrapes after the first read ``pg_stat_statements(showtext := false)`` and still leave
  pgstatkit's own statements out (by the ``queryid`` s learned from the texts once).
- ``all_databases=True`` exports the statements of the other databases too, labelled
  with the server's own database names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from http_support import AUTH, PREFIX, TOKEN, http_client
from prometheus_client.parser import text_string_to_metric_families

from harness.servers import TestServer
from pgstatkit.fastapi import bearer_token, create_router
from pgstatkit.prometheus import collect_snapshot

pytestmark = pytest.mark.server

DB = "pgstatkit_metrics_reads"
OTHER_DB = "pgstatkit_metrics_reads_other"
NESTED = 4
# the statement's own shape (pg_stat_statements keeps a queryid's first text)
PROBE = "SELECT pg_sleep(0.02) AS one_series_probe FROM reads_probe"
SETUP = (
    "CREATE TABLE IF NOT EXISTS reads_probe (x int);\n"
    "TRUNCATE reads_probe; INSERT INTO reads_probe VALUES (1);\n"
    "CREATE OR REPLACE FUNCTION reads_nested(n int) RETURNS void LANGUAGE plpgsql AS $$\n"
    "BEGIN FOR i IN 1..n LOOP\n"
    f"  EXECUTE '{PROBE}';\n"
    "END LOOP; END $$;\n"
    "SELECT pg_stat_statements_reset();\n"
    f"{PROBE};\n"
    f"SELECT reads_nested({NESTED});\n"
)
OTHER_PROBE = "SELECT 41 + 1 AS other_database_probe"


def _ensure_db(server: TestServer, name: str) -> None:
    if server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'", dbname="postgres") != "1":
        server.psql(f"CREATE DATABASE {name}", dbname="postgres")
        server.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", dbname=name)


@pytest.fixture(scope="module")
def reads_db(pg_server: TestServer) -> TestServer:
    _ensure_db(pg_server, DB)
    _ensure_db(pg_server, OTHER_DB)
    pg_server.psql(SETUP, dbname=DB)  # resets every database's statistics first
    pg_server.psql(f"{OTHER_PROBE};", dbname=OTHER_DB)
    return pg_server


@pytest.fixture
async def pool(reads_db: TestServer) -> AsyncIterator[Any]:
    p = await asyncpg.create_pool(reads_db.dsn_for(dbname=DB), min_size=1, max_size=1)
    try:
        yield p
    finally:
        await p.close()


def _probe_queryid(server: TestServer, marker: str, dbname: str) -> str:
    found = server.psql(
        f"SELECT DISTINCT queryid FROM pg_stat_statements WHERE query LIKE '%{marker}%'"
        " AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        dbname=dbname,
    )
    assert found and "\n" not in found, found
    return found


async def _calls_series(pool: Any, **params: Any) -> list[Any]:
    router = create_router(pool, auth=bearer_token(TOKEN), metrics_top_n=params.pop("top_n"))
    async with http_client(router) as client:
        r = await client.get(f"{PREFIX}/performance/metrics", params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    return [
        s
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if s.name == "pgstatkit_statement_calls_total"
    ]


@pytest.mark.parametrize("top_n", [1, 2, 20])
async def test_toplevel_and_nested_are_one_series(
    reads_db: TestServer, pool: Any, top_n: int
) -> None:
    queryid = _probe_queryid(reads_db, "one_series_probe", DB)
    entries = reads_db.psql(
        f"SELECT count(*) || '/' || sum(calls) FROM pg_stat_statements WHERE queryid = {queryid}",
        dbname=DB,
    )
    assert entries == f"2/{1 + NESTED}", "recorded top-level and nested"
    series = [s for s in await _calls_series(pool, top_n=top_n) if s.labels["queryid"] == queryid]
    assert len(series) == 1, series
    assert series[0].value == 1 + NESTED
    assert series[0].labels["database"] == DB


async def test_own_statements_stay_out_without_texts(reads_db: TestServer, pool: Any) -> None:
    for _ in range(3):  # the first scrape reads the texts, the next ones do not
        snapshot = await collect_snapshot(pool, top_n=10_000)
    assert snapshot.statements is not None
    own = set(
        reads_db.psql(
            "SELECT DISTINCT queryid FROM pg_stat_statements"
            " WHERE query LIKE '%pgstatkit:internal%' AND queryid IS NOT NULL",
            dbname=DB,
        ).split()
    )
    assert own, "pgstatkit's scrapes are tracked"
    exported = {str(s.queryid) for s in snapshot.statements}
    assert exported and not exported & own
    everything = await collect_snapshot(pool, top_n=10_000, include_pgstatkit=True)
    assert everything.statements is not None
    assert own & {str(s.queryid) for s in everything.statements}


async def test_all_databases_labels_other_databases(reads_db: TestServer, pool: Any) -> None:
    other = _probe_queryid(reads_db, "other_database_probe", OTHER_DB)
    here = await _calls_series(pool, top_n=10_000)
    assert {s.labels["database"] for s in here} == {DB}
    everywhere = await _calls_series(pool, top_n=10_000, all_databases="true")
    assert any(
        s.labels["queryid"] == other and s.labels["database"] == OTHER_DB for s in everywhere
    )
    assert len(everywhere) > len(here)
    capped = await _calls_series(pool, top_n=2, all_databases="true")
    assert len(capped) == 2

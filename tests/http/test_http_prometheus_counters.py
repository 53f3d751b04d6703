"""Statement counters never go down between scrapes, whatever ``top_n`` is.

``pg_stat_statements`` keeps a statement run both directly and inside a function as two
entries (``toplevel`` true and false, with ``track = all``). The metrics used to pick the
top N *entries* and sum a statement's entries afterwards: when other statements grew past
one of them, the statement's counter went down (0.352 -> 0.201 was seen). They now sum a
statement's entries first and pick the top N statements after.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from http_support import AUTH, PREFIX, TOKEN, http_client
from prometheus_client.parser import text_string_to_metric_families

from harness.servers import TestServer
from pgstatkit.fastapi import bearer_token, create_router

MONO_DB = "pgstatkit_metrics_mono"
FILLERS = 4

SETUP = (
    "CREATE TABLE IF NOT EXISTS mono_probe (x int);\n"
    "TRUNCATE mono_probe; INSERT INTO mono_probe VALUES (1);\n"
    + "".join(f"CREATE TABLE IF NOT EXISTS mono_fill_{i} (x int);\n" for i in range(FILLERS))
    + "".join(
        f"TRUNCATE mono_fill_{i}; INSERT INTO mono_fill_{i} VALUES (1);\n" for i in range(FILLERS)
    )
    # the same statement, nested: EXECUTE parses the very text run directly below
    + "CREATE OR REPLACE FUNCTION mono_nested(n int) RETURNS void LANGUAGE plpgsql AS $$\n"
    "BEGIN FOR i IN 1..n LOOP\n"
    "  EXECUTE 'SELECT pg_sleep(0.01) FROM mono_probe';\n"
    "END LOOP; END $$;\n"
    "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database"
    " WHERE datname = current_database();\n"
)
PROBE = "SELECT pg_sleep(0.01) FROM mono_probe"


@pytest.fixture
async def mono_pool(pg_server: TestServer) -> AsyncIterator[Any]:
    if pg_server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{MONO_DB}'") != "1":
        pg_server.psql(f"CREATE DATABASE {MONO_DB}", dbname="postgres")
        pg_server.psql("CREATE EXTENSION pg_stat_statements", dbname=MONO_DB)
    pg_server.psql(SETUP, dbname=MONO_DB)
    pool = await asyncpg.create_pool(pg_server.dsn_for(dbname=MONO_DB), min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


def _workload(step: int) -> str:
    """Step 0: the probe statement, top-level once and nested 12 times. Later steps: filler
    statement ``step - 1`` grows past the probe's top-level entry, not past its sum."""
    if step == 0:
        return f"{PROBE};\nSELECT mono_nested(12);\n"
    filler = f"SELECT pg_sleep(0.01) FROM mono_fill_{(step - 1) % FILLERS};\n"
    return filler * 4


Series = tuple[str, tuple[tuple[str, str], ...]]


async def _scrape(pool: Any, top_n: int) -> dict[Series, float]:
    router = create_router(pool, auth=bearer_token(TOKEN), metrics_top_n=top_n)
    async with http_client(router) as client:
        r = await client.get(f"{PREFIX}/performance/metrics", headers=AUTH)
    assert r.status_code == 200, r.text
    found: dict[Series, float] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            if not sample.name.startswith("pgstatkit_statement_"):
                continue
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in found, f"two series for {key}"
            found[key] = sample.value
    return found


async def test_statement_counters_never_decrease(pg_server: TestServer, mono_pool: Any) -> None:
    history: dict[Series, list[float]] = {}
    probe_seen = 0
    for step in range(FILLERS + 1):
        pg_server.psql(_workload(step), dbname=MONO_DB)
        for top_n in (1, 2, 3, 5, 20):
            scraped = await _scrape(mono_pool, top_n)
            for key, value in scraped.items():
                history.setdefault(key, []).append(value)
            calls = [
                v
                for (name, labels), v in scraped.items()
                if name == "pgstatkit_statement_calls_total" and ("user", "postgres") in labels
            ]
            assert len(calls) <= top_n
            probe_seen += 1 if 13.0 in calls else 0
    assert probe_seen >= FILLERS, "the probe (13 calls: 1 direct + 12 nested) must be exported"
    decreased = {k: v for k, v in history.items() if any(b < a for a, b in itertools.pairwise(v))}
    assert not decreased, decreased

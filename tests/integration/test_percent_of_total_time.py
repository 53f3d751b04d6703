"""``percent_of_total_time`` is 0..100 for every row, also for nested statements.

With ``pg_stat_statements.track = all``, a nested statement whose caller is not tracked
(a ``DO`` block or ``CREATE TABLE AS`` with ``track_utility = off``, or a caller whose
entry was reset or evicted) used to get a share of the *top-level* total only: 230% and
3,524% were seen. The share is now of every entry in scope, top-level and nested.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from harness.servers import TestServer
from pgstatkit.models import QueryStat

from .conftest import Client, open_client

pytestmark = pytest.mark.server

PCT_DB = "pgstatkit_percent"

WORKLOAD = """
SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database WHERE datname = current_database();
SET pg_stat_statements.track_utility = off;
-- the DO block and the CTAS are not tracked; the statements inside them are
DO $$ BEGIN PERFORM pg_sleep(0.06); END $$;
DROP TABLE IF EXISTS pct_ctas;
CREATE TABLE pct_ctas AS SELECT n, pg_sleep(0.03)::text AS slept FROM generate_series(1, 2) AS n;
RESET pg_stat_statements.track_utility;
-- a caller whose own entry is reset afterwards (as pg_stat_statements.max evicts it)
CREATE OR REPLACE FUNCTION pct_work() RETURNS void LANGUAGE plpgsql
    AS $$ BEGIN PERFORM pg_sleep(0.025) FROM pct_ctas; END $$;
SELECT pct_work();
SELECT pg_stat_statements_reset(0, 0, queryid) FROM pg_stat_statements
 WHERE query = 'SELECT pct_work()';
"""


@pytest.fixture(scope="session")
def percent_server(pg_server: TestServer) -> TestServer:
    exists = pg_server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{PCT_DB}'")
    if exists != "1":
        pg_server.psql(f"CREATE DATABASE {PCT_DB}", dbname="postgres")
        pg_server.psql("CREATE EXTENSION pg_stat_statements", dbname=PCT_DB)
    return pg_server


@pytest.fixture(params=["asyncpg", "psycopg"])
async def pct_client(
    percent_server: TestServer, request: pytest.FixtureRequest
) -> AsyncIterator[Client]:
    percent_server.psql(WORKLOAD, dbname=PCT_DB)
    async for c in open_client(str(request.param), percent_server.dsn_for(dbname=PCT_DB)):
        yield c


def _nested_sleeps_are_there(rows: list[QueryStat]) -> None:
    nested = [r for r in rows if (r.query or "").startswith("SELECT pg_sleep($1) FROM pct_ctas")]
    assert nested, [r.query for r in rows]  # the statement inside the reset caller
    assert all(r.toplevel in (False, None) for r in nested)


async def test_every_share_is_at_most_100_and_they_add_up_to_100(pct_client: Client) -> None:
    for include in (False, True):
        rows = await pct_client(
            "top_queries_by_total_time", limit=10_000, include_pgstatkit=include
        )
        _nested_sleeps_are_there(rows)
        shares = [r.percent_of_total_time for r in rows]
        assert all(s is not None and 0.0 <= s <= 100.0 for s in shares), shares
        assert sum(s for s in shares if s is not None) == pytest.approx(100.0)
        # the share is the entry's part of the time of every entry returned
        total = sum(r.total_exec_time_ms for r in rows)
        for r in rows:
            assert r.percent_of_total_time == pytest.approx(100.0 * r.total_exec_time_ms / total)


async def test_shares_in_other_listings_and_all_databases(pct_client: Client) -> None:
    slow = await pct_client("slow_queries", min_duration_ms=0.0, limit=10_000)
    _nested_sleeps_are_there(slow)
    everywhere = await pct_client("top_queries_by_total_time", limit=10_000, all_databases=True)
    for rows in (slow, everywhere):
        shares = [r.percent_of_total_time for r in rows]
        assert all(s is not None and 0.0 <= s <= 100.0 for s in shares), shares
        assert sum(s for s in shares if s is not None) == pytest.approx(100.0)
    low = await pct_client("queries_with_low_cache_hit", max_cache_hit_ratio=1.0, limit=10_000)
    assert all(r.percent_of_total_time is None or r.percent_of_total_time <= 100.0 for r in low)

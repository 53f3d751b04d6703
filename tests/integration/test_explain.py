"""query_plan is safe by construction, through every source, on every server."""

from __future__ import annotations

import json

import asyncpg
import pytest

from harness.servers import TestServer
from pgstatkit import stats
from pgstatkit.errors import InvalidArgumentError, UnsafeQueryError

from .conftest import WORKLOAD_DB, Client, open_client

pytestmark = pytest.mark.server

ROWS = 5000


@pytest.fixture
def victim(pg_server: TestServer) -> str:
    pg_server.psql(
        "DROP TABLE IF EXISTS explain_victim; "
        "CREATE TABLE explain_victim (id int PRIMARY KEY, note text); "
        "INSERT INTO explain_victim SELECT g, 'keep' FROM generate_series(1, 5000) AS g; "
        "ANALYZE explain_victim;"
    )
    return "explain_victim"


def _count(server: TestServer, table: str) -> int:
    return int(server.psql(f"SELECT count(*) FROM {table}"))


async def test_plain_plan(client: Client, victim: str) -> None:
    plan = await client("query_plan", f"SELECT * FROM {victim} WHERE id = 5")
    assert plan.node_type == "Index Scan"
    assert plan.total_cost > 0 and plan.startup_cost >= 0
    assert not plan.analyzed and not plan.generic
    assert plan.execution_time_ms is None and plan.actual_rows is None
    assert plan.plan["Plan"]["Relation Name"] == victim
    json.dumps(plan.to_dict())


async def test_explain_analyze_delete_leaves_the_rows(
    client: Client, pg_server: TestServer, victim: str
) -> None:
    plan = await client(
        "query_plan", f"DELETE FROM {victim} WHERE id > $1", analyze=True, params=[10]
    )
    assert plan.analyzed
    assert plan.node_type == "ModifyTable"
    assert plan.execution_time_ms is not None and plan.execution_time_ms >= 0
    assert plan.planning_time_ms is not None
    assert plan.shared_blks_hit is not None
    assert _count(pg_server, victim) == ROWS


async def test_explain_without_analyze_of_update_changes_nothing(
    client: Client, pg_server: TestServer, victim: str
) -> None:
    await client("query_plan", f"UPDATE {victim} SET note = 'gone'")
    assert pg_server.psql(f"SELECT count(*) FROM {victim} WHERE note = 'keep'") == str(ROWS)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT 1; DROP TABLE {t}",
        "DELETE FROM {t}; SELECT 1",
        "SELECT 1;; DELETE FROM {t}",
        "SELECT 'a;b' ; DROP TABLE {t}",
        "SELECT $$;$$; DROP TABLE {t}",
    ],
)
async def test_two_statements_run_nothing(
    client: Client, pg_server: TestServer, victim: str, text: str
) -> None:
    with pytest.raises(UnsafeQueryError, match="statements"):
        await client("query_plan", text.format(t=victim), analyze=True)
    assert _count(pg_server, victim) == ROWS


@pytest.mark.parametrize(
    "text", ["DROP TABLE {t}", "VACUUM {t}", "EXPLAIN SELECT 1", "   ", "COPY {t} TO STDOUT"]
)
async def test_statements_explain_cannot_take_are_refused(
    client: Client, pg_server: TestServer, victim: str, text: str
) -> None:
    with pytest.raises(UnsafeQueryError):
        await client("query_plan", text.format(t=victim))
    assert _count(pg_server, victim) == ROWS


async def test_server_refuses_a_second_statement_even_past_the_scanner(
    pg_server: TestServer, victim: str
) -> None:
    """The extended protocol is the second line of defence: prove the server holds it."""
    conn = await asyncpg.connect(pg_server.dsn)
    try:
        with pytest.raises(asyncpg.PostgresSyntaxError, match="multiple commands"):
            await conn.fetch(f"EXPLAIN (FORMAT JSON) SELECT 1; DELETE FROM {victim}")
    finally:
        await conn.close()
    assert _count(pg_server, victim) == ROWS


async def test_normalized_text_gets_a_generic_plan(workload_client: Client) -> None:
    rows = await workload_client("top_queries_by_total_time", limit=10_000)
    lookup = next(r for r in rows if r.query and r.query.startswith("SELECT payload FROM wl_small"))
    assert lookup.query is not None
    plan = await workload_client("query_plan", lookup.query)
    assert plan.generic
    assert plan.node_type == "Index Scan"
    assert plan.plan["Plan"]["Index Name"] == "wl_small_pkey"
    with pytest.raises(InvalidArgumentError, match="params"):
        await workload_client("query_plan", lookup.query, analyze=True)
    with_value = await workload_client("query_plan", lookup.query, analyze=True, params=[7])
    assert not with_value.generic
    assert with_value.actual_rows == 1


async def test_generic_plan_matches_explain_generic_plan(workload: TestServer) -> None:
    """On PostgreSQL 16+ the PREPARE route gives what EXPLAIN (GENERIC_PLAN) gives."""
    if workload.major < 16:
        pytest.skip("EXPLAIN (GENERIC_PLAN) exists from PostgreSQL 16")
    query = "SELECT * FROM wl_big WHERE id = $1 OR payload = $2"
    native = json.loads(
        workload.psql(f"EXPLAIN (GENERIC_PLAN, FORMAT JSON) {query}", dbname=WORKLOAD_DB)
    )[0]["Plan"]
    async for c in open_client("asyncpg", workload.dsn_for(dbname=WORKLOAD_DB)):
        ours = await c("query_plan", query)
    assert ours.generic
    assert ours.node_type == native["Node Type"]
    assert ours.total_cost == pytest.approx(native["Total Cost"])


async def test_plan_uses_the_callers_search_path(pg_server: TestServer) -> None:
    pg_server.psql(
        "CREATE SCHEMA IF NOT EXISTS app; CREATE TABLE IF NOT EXISTS app.orders (id int)"
    )
    conn = await asyncpg.connect(pg_server.dsn, server_settings={"search_path": "app"})
    try:
        plan = await stats.query_plan(conn, "SELECT * FROM orders")
        assert plan.plan["Plan"]["Relation Name"] == "orders"
        assert await conn.fetchval("SHOW search_path") == "app"
    finally:
        await conn.close()

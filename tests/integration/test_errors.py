"""Setup problems and missing privileges give the right pgstatkit error, with the fix."""

from __future__ import annotations

import asyncpg
import pytest

from harness.servers import TestServer
from pgstatkit import stats
from pgstatkit.errors import (
    ExtensionNotInstalledError,
    ExtensionNotLoadedError,
    InsufficientPrivilegeError,
)

from .conftest import MARK, WORKLOAD_DB, Client, open_client

pytestmark = pytest.mark.server

PGSS_CALLS = [
    "slow_queries",
    "top_queries_by_total_time",
    "queries_with_low_cache_hit",
    "reset_query_statistics",
]


@pytest.mark.parametrize("name", PGSS_CALLS)
async def test_not_preloaded(pg_server_no_preload: TestServer, name: str) -> None:
    async for c in open_client("asyncpg", pg_server_no_preload.dsn):
        with pytest.raises(ExtensionNotLoadedError, match="shared_preload_libraries") as info:
            await c(name)
        assert "restart" in str(info.value)
        assert not c.source.is_in_transaction()
        # the statistics that do not need the extension still work
        assert (await c("database_statistics")).database == "pgstatkit_test"


@pytest.mark.parametrize("name", PGSS_CALLS)
async def test_extension_not_created(client: Client, pg_server: TestServer, name: str) -> None:
    async for c in open_client(client.id, pg_server.dsn_for(dbname=pg_server.no_extension_db)):
        with pytest.raises(ExtensionNotInstalledError, match="install"):
            await c(name)
        assert (await c("database_statistics")).database == pg_server.no_extension_db


async def test_other_users_statements_are_hidden_without_pg_read_all_stats(
    workload: TestServer,
) -> None:
    plain = workload.dsn_for(dbname=WORKLOAD_DB, user=workload.plain_role)
    async for c in open_client("asyncpg", plain):
        rows = await c("top_queries_by_total_time", limit=10_000)
    others = [r for r in rows if r.username != workload.plain_role]
    assert others, "the workload ran as the superuser"
    assert all(r.query is None and r.queryid is None for r in others)
    assert all(r.calls > 0 for r in others)  # the numbers stay visible
    assert not any(r.query == "<insufficient privilege>" for r in rows)


async def test_pg_monitor_role_sees_the_texts(workload: TestServer) -> None:
    monitor = workload.dsn_for(dbname=WORKLOAD_DB, user=workload.monitor_role)
    async for c in open_client("psycopg", monitor):
        rows = await c("slow_queries", min_duration_ms=250.0)
    assert rows and rows[0].query is not None and MARK in rows[0].query
    assert rows[0].queryid is not None


async def test_reset_needs_a_grant(pg_server: TestServer) -> None:
    plain = pg_server.dsn_for(user=pg_server.plain_role)
    async for c in open_client("asyncpg", plain):
        with pytest.raises(InsufficientPrivilegeError, match="GRANT EXECUTE"):
            await c("reset_query_statistics")
        assert not c.source.is_in_transaction()


async def test_reset_forgets_statements(pg_server: TestServer) -> None:
    conn = await asyncpg.connect(pg_server.dsn)
    try:
        for _ in range(3):
            await conn.fetchval("SELECT 1 /* pgstatkit-reset-probe */")
        rows = await stats.top_queries_by_total_time(conn, limit=10_000)
        probe = next(r for r in rows if r.query and "pgstatkit-reset-probe" in r.query)
        assert probe.calls >= 3
        assert probe.queryid is not None
        await stats.reset_query_statistics(conn, queryid=probe.queryid)
        rows = await stats.top_queries_by_total_time(conn, limit=10_000)
        assert not any(r.queryid == probe.queryid for r in rows)
        when = await stats.reset_query_statistics(conn)
        if pg_server.major >= 17:
            assert when is not None and when.tzinfo is not None
        else:
            assert when is None
    finally:
        await conn.close()


async def test_unreachable_server_passes_the_driver_error_through() -> None:
    with pytest.raises(OSError):
        await asyncpg.connect("postgresql://nobody@127.0.0.1:1/none", timeout=2)


async def test_plan_of_a_table_the_role_cannot_read(pg_server: TestServer) -> None:
    pg_server.psql(
        "CREATE TABLE IF NOT EXISTS private_table (x int); "
        f"REVOKE ALL ON private_table FROM {pg_server.plain_role}"
    )
    async for c in open_client("asyncpg", pg_server.dsn_for(user=pg_server.plain_role)):
        with pytest.raises(InsufficientPrivilegeError, match="SELECT on its tables"):
            await c("query_plan", "SELECT * FROM private_table")

"""Setup problems and missing privileges give the right pgstatkit error, with the fix."""

from __future__ import annotations

import asyncpg
import pytest

from harness.servers import TestServer
from pgstatkit import stats
from pgstatkit.errors import (
    ExtensionNotInstalledError,
    ExtensionNotLoadedError,
    ExtensionNotSetUpError,
    InsufficientPrivilegeError,
    InvalidArgumentError,
    StatementPrivilegeError,
    StatementRejectedError,
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
async def test_not_preloaded_and_not_created_name_both_fixes(
    pg_server_no_preload: TestServer, name: str
) -> None:
    """Both problems in one error, so that one pass fixes them (the restart first)."""
    server = pg_server_no_preload
    async for c in open_client("psycopg", server.dsn_for(dbname=server.no_extension_db)):
        with pytest.raises(ExtensionNotSetUpError) as info:
            await c(name)
        error = info.value
        # either except clause catches it
        assert isinstance(error, ExtensionNotLoadedError)
        assert isinstance(error, ExtensionNotInstalledError)
        text = str(error)
        assert "shared_preload_libraries" in text and "restart" in text
        assert "CREATE EXTENSION pg_stat_statements" in text and "install" in text
        assert text.index("shared_preload_libraries") < text.index("CREATE EXTENSION")
        assert (await c("database_statistics")).database == server.no_extension_db


async def test_a_placeholder_setting_is_not_a_loaded_library(
    pg_server_no_preload: TestServer,
) -> None:
    """``pg_stat_statements.max`` set without the library is only a placeholder: the
    read of pg_stat_statements fails with SQLSTATE 55000, which says "not loaded"."""
    async for c in open_client("asyncpg", pg_server_no_preload.dsn):
        await c.source.execute("SET pg_stat_statements.max = 5000")
        assert await c.source.fetchval("SHOW pg_stat_statements.max") == "5000"
        with pytest.raises(ExtensionNotLoadedError, match="shared_preload_libraries"):
            await c("top_queries_by_total_time")


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
            # A shape of its own: pg_stat_statements keeps a queryid's first text, so a
            # bare SELECT <constant> of an earlier test would hide the marker.
            await conn.fetchval("SELECT pg_catalog.int8larger(7, 8) /* pgstatkit-reset-probe */")
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


@pytest.mark.parametrize(
    ("query", "sqlstate"),
    [
        ("INSERT INTO plan_unique VALUES (1)", "23505"),
        ("SELECT (SELECT g FROM generate_series(1, 2) AS g)", "21000"),
        ("SELECT 1 / 0", "22012"),
        ("SELECT no_such_column FROM plan_unique", "42703"),
    ],
    ids=["unique", "cardinality", "division", "column"],
)
async def test_errors_of_the_callers_statement(
    client: Client, pg_server: TestServer, query: str, sqlstate: str
) -> None:
    """The server rejecting the statement given to query_plan is the caller's error."""
    pg_server.psql(
        "CREATE TABLE IF NOT EXISTS plan_unique (id int PRIMARY KEY);"
        "INSERT INTO plan_unique VALUES (1) ON CONFLICT DO NOTHING"
    )
    with pytest.raises(StatementRejectedError) as info:
        await client("query_plan", query, analyze=True)
    error = info.value
    assert error.sqlstate == sqlstate and sqlstate in str(error)
    assert error.__cause__ is not None  # the driver's error, with the server's message
    assert (await client("query_plan", "SELECT 1")).node_type == "Result"


async def test_params_the_driver_cannot_send(client: Client) -> None:
    """A parameter the driver refuses (psycopg: a dict; asyncpg: a dict for jsonb)."""
    with pytest.raises(InvalidArgumentError, match="params") as info:
        await client("query_plan", "SELECT $1::jsonb", analyze=True, params=[{"a": 1}])
    assert info.value.__cause__ is not None
    assert (await client("query_plan", "SELECT 1")).node_type == "Result"


async def test_plan_of_a_table_the_role_cannot_read(pg_server: TestServer) -> None:
    pg_server.psql(
        "CREATE TABLE IF NOT EXISTS private_table (x int); "
        f"REVOKE ALL ON private_table FROM {pg_server.plain_role}"
    )
    async for c in open_client("asyncpg", pg_server.dsn_for(user=pg_server.plain_role)):
        with pytest.raises(InsufficientPrivilegeError, match="SELECT on its tables") as info:
            await c("query_plan", "SELECT * FROM private_table")
        assert isinstance(info.value, StatementPrivilegeError)
        assert info.value.sqlstate == "42501"

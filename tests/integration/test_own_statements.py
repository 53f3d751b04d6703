"""pgstatkit leaves its own statements and objects out of its results, unless asked.

Every pgstatkit call here runs as its own role (``pgstatkit_monitor``, owner of a database
of its own), so the truth is independent of how pgstatkit recognises itself: every
``pg_stat_statements`` entry of that role in that database is pgstatkit's, except the
transaction control the drivers send (``BEGIN``, ``SAVEPOINT``, ``ROLLBACK``...), which
is shared with every client and documented as not recognisable. The user's statements
and tables (the superuser's here), also in pgstatkit's helper schema, stay listed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from harness.servers import TestServer
from pgstatkit import prometheus
from pgstatkit.models import QueryStat

from .conftest import Client, open_client

pytestmark = pytest.mark.server

OWN_DB = "pgstatkit_own"
USER_MARK = "/* pgstatkit-own-test user */"
# Sent by the drivers around pgstatkit's statements, and by everyone else too.
TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.I)
Key = tuple[int, int, int, bool | None]


@pytest.fixture(scope="session")
def own_server(pg_server: TestServer) -> TestServer:
    server = pg_server
    if server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{OWN_DB}'") != "1":
        server.psql(f"CREATE DATABASE {OWN_DB} OWNER {server.monitor_role}", dbname="postgres")
        server.psql("CREATE EXTENSION pg_stat_statements", dbname=OWN_DB)
    return server


@pytest.fixture(params=["asyncpg", "psycopg"])
async def own_client(
    own_server: TestServer, request: pytest.FixtureRequest
) -> AsyncIterator[Client]:
    own_server.psql(
        "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database"
        " WHERE datname = current_database()",
        dbname=OWN_DB,
    )
    dsn = own_server.dsn_for(dbname=OWN_DB, user=own_server.monitor_role)
    async for client in open_client(str(request.param), dsn):
        await _many_calls(client, own_server)
        yield client


async def _many_calls(client: Client, server: TestServer) -> None:
    await client("install")
    # the user's own table and statements, in pgstatkit's schema
    server.psql(
        "CREATE TABLE IF NOT EXISTS pgstatkit.user_orders (id int PRIMARY KEY, total int);\n"
        "INSERT INTO pgstatkit.user_orders VALUES (1, 10) ON CONFLICT DO NOTHING;\n"
        f"SELECT count(*) FROM pgstatkit.user_orders {USER_MARK};\n"
        f"SELECT * FROM pgstatkit.top_queries_by_total_time {USER_MARK};\n",
        dbname=OWN_DB,
    )
    for _ in range(2):
        await client("slow_queries", min_duration_ms=0.0, limit=5)
        await client("top_queries_by_total_time", all_databases=True)
        await client("queries_with_low_cache_hit", max_cache_hit_ratio=1.0)
        await client("database_statistics")
        await client("table_statistics", order_by="name")
        await client("index_usage")
        await client("check_setup")
        await client("query_plan", "SELECT count(*) FROM pg_class WHERE relname = $1")
        await client("query_plan", "SELECT 1")
        await client("install")
    if client.is_async:
        await prometheus.render_metrics(client.source, top_n=50)


def _pgstatkit_entries(server: TestServer) -> set[Key]:
    """Every entry pgstatkit's role left in the database, but transaction control."""
    rows = server.psql(
        "SELECT s.userid, s.dbid, s.queryid, s.toplevel, replace(s.query, E'\\n', ' ')"
        " FROM pg_stat_statements AS s JOIN pg_roles AS r ON r.oid = s.userid"
        " JOIN pg_database AS d ON d.oid = s.dbid"
        f" WHERE r.rolname = '{server.monitor_role}' AND d.datname = '{OWN_DB}'",
        dbname=OWN_DB,
    )
    found: set[Key] = set()
    for line in rows.splitlines():
        userid, dbid, queryid, toplevel, query = line.split("|", 4)
        if TRANSACTION_CONTROL.match(query):
            continue
        found.add((int(userid), int(dbid), int(queryid), {"t": True, "f": False}.get(toplevel)))
    return found


def _keys(rows: list[QueryStat]) -> set[Key]:
    assert all(r.queryid is not None for r in rows)
    return {(r.userid, r.dbid, r.queryid or 0, r.toplevel) for r in rows}


LISTINGS: list[tuple[str, dict[str, Any]]] = [
    ("top_queries_by_total_time", {"limit": 10_000}),
    ("top_queries_by_total_time", {"limit": 10_000, "all_databases": True}),
    ("slow_queries", {"min_duration_ms": 0.0, "limit": 10_000}),
    ("queries_with_low_cache_hit", {"max_cache_hit_ratio": 1.0, "limit": 10_000}),
]


async def test_own_statements_are_left_out_by_default(
    own_client: Client, own_server: TestServer
) -> None:
    own = _pgstatkit_entries(own_server)
    assert len(own) >= 15, own  # setup, listings, catalog, doctor, install, EXPLAINs...
    for name, kwargs in LISTINGS:
        shown = await own_client(name, **kwargs)
        assert not _keys(shown) & own, name
        assert any(USER_MARK in (r.query or "") for r in shown), name  # the user's stay
        everything = await own_client(name, include_pgstatkit=True, **kwargs)
        if name != "queries_with_low_cache_hit":  # not every statement touches a block
            assert own <= _keys(everything), (name, own - _keys(everything))
        else:
            assert _keys(everything) & own
        assert _keys(shown) < _keys(everything)
    # install's helper views leave them out as well
    in_view = own_server.psql(
        "SELECT count(*) FILTER (WHERE query LIKE '%pgstatkit:internal%'),"
        f" count(*) FILTER (WHERE query LIKE '%{USER_MARK}%')"
        " FROM pgstatkit.top_queries_by_total_time",
        dbname=OWN_DB,
    )
    assert in_view == "0|2"


async def test_own_tables_are_left_out_by_default(own_client: Client) -> None:
    tables = {(t.schema, t.table) for t in await own_client("table_statistics", limit=10_000)}
    assert ("pgstatkit", "user_orders") in tables  # a user's table in pgstatkit's schema
    assert ("pgstatkit", "pgstatkit_meta") not in tables
    included = await own_client("table_statistics", limit=10_000, include_pgstatkit=True)
    assert ("pgstatkit", "pgstatkit_meta") in {(t.schema, t.table) for t in included}
    indexes = {i.index for i in await own_client("index_usage", limit=10_000)}
    assert "user_orders_pkey" in indexes
    assert "pgstatkit_meta_pkey" not in indexes
    included_idx = await own_client("index_usage", limit=10_000, include_pgstatkit=True)
    assert "pgstatkit_meta_pkey" in {i.index for i in included_idx}


async def test_own_statements_are_left_out_of_the_metrics(
    own_client: Client, own_server: TestServer
) -> None:
    if not own_client.is_async:
        pytest.skip("the metrics read an async source here")
    own = {queryid for _, _, queryid, _ in _pgstatkit_entries(own_server)}
    snapshot = await prometheus.collect_snapshot(own_client.source, top_n=10_000)
    assert snapshot.statements
    assert not {s.queryid for s in snapshot.statements} & own
    included = await prometheus.collect_snapshot(
        own_client.source, top_n=10_000, include_pgstatkit=True
    )
    assert included.statements is not None
    assert own <= {s.queryid for s in included.statements}

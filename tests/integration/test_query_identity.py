"""``QueryStat.userid`` and ``dbid``: the OIDs that identify an entry, also once its role
or database is gone (``username`` / ``database`` are then ``None``)."""

from __future__ import annotations

import pytest

from harness.servers import TestServer

from .conftest import open_client

pytestmark = pytest.mark.server

IDENTITY_DB = "pgstatkit_identity"
PROBE = "SELECT count(*) FROM pg_catalog.pg_am /* identity-probe */"
ROLES = ("pgstatkit_gone_a", "pgstatkit_gone_b")


@pytest.fixture
def identity_server(pg_server: TestServer) -> TestServer:
    server = pg_server
    if server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{IDENTITY_DB}'") != "1":
        server.psql(f"CREATE DATABASE {IDENTITY_DB}", dbname="postgres")
        server.psql("CREATE EXTENSION pg_stat_statements", dbname=IDENTITY_DB)
    server.psql(
        "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database"
        " WHERE datname = current_database()",
        dbname=IDENTITY_DB,
    )
    return server


async def test_entries_of_dropped_roles_stay_apart(identity_server: TestServer) -> None:
    server = identity_server
    oids = []
    for role in ROLES:
        server.psql(f"DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN", dbname=IDENTITY_DB)
        oids.append(int(server.psql(f"SELECT oid FROM pg_roles WHERE rolname = '{role}'")))
        server.psql(f"{PROBE};\n{PROBE};\n", dbname=IDENTITY_DB, user=role)
    server.psql(f"{PROBE};\n", dbname=IDENTITY_DB)
    for role in ROLES:
        server.psql(f"DROP ROLE {role}", dbname=IDENTITY_DB)
    dbid = int(server.psql(f"SELECT oid FROM pg_database WHERE datname = '{IDENTITY_DB}'"))
    superuser = int(server.psql("SELECT oid FROM pg_roles WHERE rolname = current_user"))
    for kind in ("asyncpg", "psycopg"):
        async for client in open_client(kind, server.dsn_for(dbname=IDENTITY_DB)):
            rows = await client("top_queries_by_total_time", limit=10_000)
        probes = [r for r in rows if r.query and "identity-probe" in r.query]
        assert len({r.queryid for r in probes}) == 1
        assert {r.dbid for r in probes} == {dbid}
        assert {(r.userid, r.username, r.calls) for r in probes} == {
            (oids[0], None, 2),
            (oids[1], None, 2),
            (superuser, server.superuser, 1),
        }
        assert all(isinstance(r.userid, int) and isinstance(r.dbid, int) for r in rows)

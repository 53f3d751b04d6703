"""Every pg_stat_statements version the server can install reads right, live.

A server upgraded without ``ALTER EXTENSION pg_stat_statements UPDATE`` keeps the old
view; pgstatkit picks its columns from the installed version. PostgreSQL 15 ships
1.8 - 1.10 and PostgreSQL 18 ships 1.8 - 1.12, so both servers cover the older ones.
"""

from __future__ import annotations

import dataclasses

import pytest

from harness.servers import TestServer
from pgstatkit._columns import SUPPORTED_VERSIONS, available_fields

from .conftest import open_client

pytestmark = pytest.mark.server


def _installable(server: TestServer) -> list[str]:
    out = server.psql(
        "SELECT version FROM pg_available_extension_versions WHERE name = 'pg_stat_statements'"
    )
    have = set(out.split())
    return [f"{a}.{b}" for a, b in SUPPORTED_VERSIONS if f"{a}.{b}" in have]


@pytest.fixture(scope="session")
def version_dbs(pg_server: TestServer) -> dict[str, str]:
    dbs = {}
    for version in _installable(pg_server):
        db = "pgss_v" + version.replace(".", "_")
        if pg_server.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{db}'") == "0":
            pg_server.psql(f"CREATE DATABASE {db}", dbname="postgres")
            pg_server.psql(f"CREATE EXTENSION pg_stat_statements VERSION '{version}'", dbname=db)
        pg_server.psql("SELECT pg_sleep(0.01) /* pgstatkit-version-probe */", dbname=db)
        dbs[version] = db
    return dbs


async def test_every_installable_version(
    pg_server: TestServer, version_dbs: dict[str, str]
) -> None:
    expected_min = {15: "1.10", 18: "1.12"}.get(pg_server.major)
    if expected_min:
        assert expected_min in version_dbs, f"{pg_server.id} should offer {expected_min}"
    assert "1.8" in version_dbs
    for version, db in version_dbs.items():
        installed = pg_server.psql(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'", dbname=db
        )
        assert installed == version
        major, minor = (int(p) for p in version.split("."))
        present = available_fields((major, minor))
        for kind in ("asyncpg", "psycopg"):
            async for c in open_client(kind, pg_server.dsn_for(dbname=db)):
                rows = await c("top_queries_by_total_time", limit=10_000)
            probe = next(r for r in rows if r.query and "pgstatkit-version-probe" in r.query)
            assert probe.calls >= 1
            for field in dataclasses.fields(probe):
                value = getattr(probe, field.name)
                if field.name in present and field.name not in ("query", "queryid"):
                    assert value is not None, f"{version}: {field.name} should be read"
                elif field.name not in present and field.name not in (
                    "database",
                    "username",
                    "cache_hit_ratio",
                    "percent_of_total_time",
                ):
                    assert value is None, f"{version}: {field.name} must be None, got {value!r}"
            assert probe.toplevel is (None if (major, minor) < (1, 9) else True)

"""stats.check_setup on real servers: the findings, their fixes and the renderers."""

from __future__ import annotations

import json

import pytest

from harness.servers import TestServer
from pgstatkit import stats
from pgstatkit.models import SetupFinding, SetupReport
from pgstatkit.sync import stats as sync_stats

from .conftest import open_client

pytestmark = pytest.mark.server

CHECKS = [
    "shared_preload_libraries",
    "extension",
    "views",
    "pg_stat_statements.track",
    "pg_stat_statements.max",
    "pg_stat_statements.track_planning",
    "track_io_timing",
    "compute_query_id",
    "log_min_duration_statement",
    "log_line_prefix",
    "read_all_stats",
    "evictions",
]


def by_check(report: SetupReport) -> dict[str, SetupFinding]:
    return {f.check: f for f in report.findings}


@pytest.mark.parametrize("kind", ["asyncpg", "psycopg", "sqlalchemy-async-connection"])
async def test_preloaded_server_is_ok(pg_server: TestServer, kind: str) -> None:
    async for c in open_client(kind, pg_server.dsn):
        if c.is_async:
            report = await stats.check_setup(c.source)
        else:
            report = sync_stats.check_setup(c.source)
    assert [f.check for f in report.findings] == CHECKS
    assert report.ok, report.errors
    found = by_check(report)
    assert found["shared_preload_libraries"].severity == "ok"
    assert found["pg_stat_statements.max"].found == "10000"
    assert found["track_io_timing"].severity == "ok"
    assert found["read_all_stats"].severity == "ok"
    # the harness leaves log_min_duration_statement at -1: an info with the fix
    log = found["log_min_duration_statement"]
    assert log.severity == "info"
    assert log.fix is not None
    assert "ALTER SYSTEM SET log_min_duration_statement = '1000ms';" in log.fix
    assert log.restart_required is False
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True and len(data["findings"]) == len(CHECKS)
    conf = report.postgresql_conf()
    assert "shared_preload_libraries = 'pg_stat_statements'  # already set" in conf
    assert "log_min_duration_statement = '1000ms'  # change, then reload" in conf
    cmd = report.docker_compose_command()
    assert cmd.startswith("postgres -c shared_preload_libraries=pg_stat_statements")
    assert "-c 'log_line_prefix=%m [%p] user=%u db=%d client=%h '" in cmd


async def test_no_preload_is_an_error_with_the_fix(pg_server_no_preload: TestServer) -> None:
    async for c in open_client("asyncpg", pg_server_no_preload.dsn):
        report = await stats.check_setup(c.source)
        assert not c.source.is_in_transaction()
    assert not report.ok
    first = report.findings[0]
    assert first.check == "shared_preload_libraries"
    assert first.severity == "error"
    assert first.restart_required is True
    assert first.fix is not None
    assert "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';" in first.fix
    assert "restart" in first.fix
    assert first in report.errors


async def test_plain_role_without_settings_access(pg_server: TestServer) -> None:
    dsn = pg_server.dsn_for(user=pg_server.plain_role)
    async for c in open_client("psycopg", dsn):
        report = sync_stats.check_setup(c.source)
    found = by_check(report)
    preload = found["shared_preload_libraries"]
    assert preload.severity == "ok", preload
    assert "not readable" in preload.found
    grant = found["read_all_stats"]
    assert grant.severity == "warning"
    assert f"GRANT pg_read_all_stats TO {pg_server.plain_role}" in str(grant.fix).replace('"', "")


async def test_extension_missing_and_views(pg_server: TestServer) -> None:
    async for c in open_client("asyncpg", pg_server.dsn_for(dbname=pg_server.no_extension_db)):
        report = await stats.check_setup(c.source)
    ext = by_check(report)["extension"]
    assert ext.severity == "error"
    assert "CREATE EXTENSION pg_stat_statements" in str(ext.fix)
    assert by_check(report)["views"].severity == "info"


async def test_outdated_extension_and_stale_views(pg_server: TestServer) -> None:
    db = "pgstatkit_setup_old"
    pg_server.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", dbname="postgres")
    pg_server.psql(f"CREATE DATABASE {db}", dbname="postgres")
    try:
        pg_server.psql("CREATE EXTENSION pg_stat_statements VERSION '1.8'", dbname=db)
        async for c in open_client("asyncpg", pg_server.dsn_for(dbname=db)):
            await stats.install(c.source)
            report = await stats.check_setup(c.source)
            found = by_check(report)
            assert found["extension"].severity == "warning"
            assert "ALTER EXTENSION pg_stat_statements UPDATE" in str(found["extension"].fix)
            assert found["views"].severity == "ok"
            assert found["evictions"].severity == "info"  # 1.8 has no pg_stat_statements_info
            # updated behind pgstatkit's back (views dropped by hand): check_setup says so
            await c.source.execute(
                "DROP VIEW pgstatkit.slow_queries, pgstatkit.top_queries_by_total_time,"
                " pgstatkit.queries_with_low_cache_hit;"
                " ALTER EXTENSION pg_stat_statements UPDATE"
            )
            report = await stats.check_setup(c.source)
            views = by_check(report)["views"]
            assert views.severity == "warning"
            assert "install" in str(views.fix)
            await stats.install(c.source)
            report = await stats.check_setup(c.source)
            assert by_check(report)["views"].severity == "ok"
            assert by_check(report)["extension"].severity == "ok"
            assert by_check(report)["evictions"].severity in ("ok", "warning")
    finally:
        pg_server.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", dbname="postgres")


async def test_users_table_named_pgstatkit_meta_is_not_read(pg_server: TestServer) -> None:
    """A table of the user's named pgstatkit_meta (no ownership comment) is not pgstatkit's
    record: check_setup reports the views as not installed instead of failing on it."""
    db = "pgstatkit_setup_foreign_meta"
    pg_server.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", dbname="postgres")
    pg_server.psql(f"CREATE DATABASE {db}", dbname="postgres")
    try:
        pg_server.psql(
            "CREATE EXTENSION pg_stat_statements; CREATE SCHEMA reporting;"
            " CREATE TABLE reporting.pgstatkit_meta (note text);"
            " INSERT INTO reporting.pgstatkit_meta VALUES ('mine')",
            dbname=db,
        )
        async for c in open_client("asyncpg", pg_server.dsn_for(dbname=db)):
            report = await stats.check_setup(c.source, schema="reporting")
            views = by_check(report)["views"]
            assert views.severity == "info"
            assert views.found == "not installed in schema 'reporting'"
            await stats.install(c.source, schema="elsewhere")
            found = by_check(await stats.check_setup(c.source, schema="elsewhere"))["views"]
            assert found.severity == "ok"
    finally:
        pg_server.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", dbname="postgres")

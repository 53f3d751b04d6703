"""pgstatkit.migrations: the install / uninstall SQL run as plain statements."""

from __future__ import annotations

import asyncpg
import pytest

from harness.servers import TestServer
from pgstatkit import stats
from pgstatkit._install import SCHEMA_VERSION
from pgstatkit.errors import InvalidArgumentError
from pgstatkit.migrations import install_statements, uninstall_statements

from .test_install import HOSTILE, INSTALLED, NOTHING, catalog, fresh_db, installed

__all__ = ["fresh_db"]

pytestmark = pytest.mark.server


async def run(conn: asyncpg.Connection, statements: list[str]) -> None:
    async with conn.transaction():
        for sql in statements:
            await conn.execute(sql)


async def test_statements_install_and_uninstall(pg_server: TestServer, fresh_db: str) -> None:
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await run(conn, install_statements())
        after = catalog(pg_server, fresh_db)
        assert after == installed(str(after["extension"]))
        meta = await conn.fetchrow("SELECT * FROM pgstatkit.pgstatkit_meta")
        assert meta is not None
        assert (meta["schema_version"], meta["created_extension"], meta["created_schema"]) == (
            SCHEMA_VERSION,
            True,
            True,
        )
        assert meta["pgss_version"] == after["extension"]
        await run(conn, install_statements())
        assert catalog(pg_server, fresh_db) == after
        top = await conn.fetchrow("SELECT * FROM pgstatkit.top_queries_by_total_time LIMIT 1")
        rows = await stats.check_setup(conn)
        assert {f.check: f for f in rows.findings}["views"].severity == "ok"
        assert top is not None
        await run(conn, uninstall_statements())
        assert catalog(pg_server, fresh_db) == NOTHING
        await run(conn, uninstall_statements())
        assert catalog(pg_server, fresh_db) == NOTHING
        # the two paths mix
        await run(conn, install_statements())
        await stats.uninstall(conn)
        assert catalog(pg_server, fresh_db) == NOTHING
        await stats.install(conn)
        await run(conn, uninstall_statements())
        assert catalog(pg_server, fresh_db) == NOTHING
    finally:
        await conn.close()


async def test_fixed_version_must_match(pg_server: TestServer, fresh_db: str) -> None:
    pg_server.psql("CREATE EXTENSION pg_stat_statements VERSION '1.8'", dbname=fresh_db)
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        with pytest.raises(asyncpg.RaiseError, match=r"1\.9 only, installed is 1\.8"):
            await run(conn, install_statements(pgss_version="1.9"))
        assert catalog(pg_server, fresh_db)["schema"] is False  # rolled back
        await run(conn, install_statements(pgss_version="1.8"))
        assert catalog(pg_server, fresh_db)["relations"] == INSTALLED
        await run(conn, uninstall_statements())
        after = catalog(pg_server, fresh_db)
        assert after["extension"] == "1.8" and after["schema"] is False
    finally:
        await conn.close()


async def test_hostile_schema_in_statements(pg_server: TestServer, fresh_db: str) -> None:
    pg_server.psql("CREATE TABLE t (x int)", dbname=fresh_db)
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        for name in (HOSTILE, "a$pgstatkit0$b'; --"):
            await run(conn, install_statements(name))
            assert catalog(pg_server, fresh_db, name)["relations"] == INSTALLED
            await run(conn, uninstall_statements(name))
            assert catalog(pg_server, fresh_db, name)["schema"] is False
        assert await conn.fetchval("SELECT count(*) FROM t") == 0
    finally:
        await conn.close()


@pytest.mark.parametrize("bad", ["", "pg_x", "x\x00"])
def test_bad_schema(bad: str) -> None:
    with pytest.raises(InvalidArgumentError):
        install_statements(bad)
    with pytest.raises(InvalidArgumentError):
        uninstall_statements(bad)


@pytest.mark.parametrize("bad", ["1.7", "one", "1"])
def test_bad_version(bad: str) -> None:
    with pytest.raises(InvalidArgumentError, match="pgss_version"):
        install_statements(pgss_version=bad)

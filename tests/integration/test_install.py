"""stats.install / stats.uninstall on real servers, each test in a database of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import psycopg
import pytest

from harness.servers import TestServer
from pgstatkit import stats
from pgstatkit.errors import InsufficientPrivilegeError, InvalidArgumentError
from pgstatkit.sync import stats as sync_stats

pytestmark = pytest.mark.server

VIEWS = {"slow_queries", "top_queries_by_total_time", "queries_with_low_cache_hit"}
INSTALLED = {("pgstatkit_meta", "r"), ("pgstatkit_meta_pkey", "i")} | {(v, "v") for v in VIEWS}


@pytest.fixture
def fresh_db(pg_server: TestServer) -> Iterator[str]:
    name = f"pgstatkit_inst_{uuid.uuid4().hex[:10]}"
    pg_server.psql(f"CREATE DATABASE {name}", dbname="postgres")
    try:
        yield name
    finally:
        pg_server.psql(f"DROP DATABASE {name} WITH (FORCE)", dbname="postgres")


def catalog(server: TestServer, db: str, schema: str = "pgstatkit") -> dict[str, object]:
    """What exists: the extension, the schema and the relations in it."""
    ext = server.psql(
        "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'", dbname=db
    )
    lit = "'" + schema.replace("'", "''") + "'"
    has_schema = server.psql(f"SELECT count(*) FROM pg_namespace WHERE nspname = {lit}", dbname=db)
    rels = server.psql(
        "SELECT c.relname || ' ' || c.relkind::text FROM pg_class AS c JOIN pg_namespace AS n"
        f" ON n.oid = c.relnamespace WHERE n.nspname = {lit} ORDER BY 1",
        dbname=db,
    )
    return {
        "extension": ext or None,
        "schema": has_schema == "1",
        "relations": {tuple(line.rsplit(" ", 1)) for line in rels.splitlines() if line},
    }


def installed(version: str | None = None) -> dict[str, object]:
    return {"extension": version, "schema": True, "relations": INSTALLED}


NOTHING: dict[str, object] = {"extension": None, "schema": False, "relations": set()}


async def test_install_twice_uninstall_twice_install_again(
    pg_server: TestServer, fresh_db: str
) -> None:
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        assert catalog(pg_server, fresh_db) == NOTHING
        await stats.install(conn)
        after = catalog(pg_server, fresh_db)
        version = after["extension"]
        assert version is not None
        assert after == installed(str(version))
        meta = await conn.fetchrow("SELECT * FROM pgstatkit.pgstatkit_meta")
        assert meta is not None
        assert meta["schema_version"] == 1
        assert meta["created_extension"] is True
        assert meta["created_schema"] is True
        assert meta["pgss_version"] == version
        await stats.install(conn)
        assert catalog(pg_server, fresh_db) == installed(str(version))
        await stats.uninstall(conn)
        assert catalog(pg_server, fresh_db) == NOTHING
        await stats.uninstall(conn)
        assert catalog(pg_server, fresh_db) == NOTHING
        await stats.install(conn)
        assert catalog(pg_server, fresh_db) == installed(str(version))
        assert not conn.is_in_transaction()
    finally:
        await conn.close()


async def test_users_extension_and_schema_survive_uninstall(
    pg_server: TestServer, fresh_db: str
) -> None:
    pg_server.psql(
        "CREATE EXTENSION pg_stat_statements; CREATE SCHEMA pgstatkit;"
        " CREATE TABLE pgstatkit.mine (x int);"
        " CREATE VIEW public.my_view AS SELECT queryid FROM pg_stat_statements",
        dbname=fresh_db,
    )
    with psycopg.connect(pg_server.dsn_for(dbname=fresh_db)) as conn:
        sync_stats.install(conn)
        sync_stats.uninstall(conn)
    after = catalog(pg_server, fresh_db)
    assert after["extension"] is not None
    assert after["relations"] == {("mine", "r")}
    assert pg_server.psql("SELECT count(*) >= 0 FROM public.my_view", dbname=fresh_db) == "t"


async def test_created_extension_kept_while_something_depends_on_it(
    pg_server: TestServer, fresh_db: str
) -> None:
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await stats.install(conn)
        await conn.execute("CREATE VIEW public.dep AS SELECT calls FROM public.pg_stat_statements")
        await conn.execute("CREATE TABLE pgstatkit.extra (x int)")
        await stats.uninstall(conn)
        after = catalog(pg_server, fresh_db)
        assert after["extension"] is not None  # public.dep depends on it
        assert after["relations"] == {("extra", "r")}  # the schema is not empty
    finally:
        await conn.close()


async def test_four_concurrent_installs(pg_server: TestServer, fresh_db: str) -> None:
    conns = [await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db)) for _ in range(4)]
    try:
        await asyncio.gather(*(stats.install(c) for c in conns))
        after = catalog(pg_server, fresh_db)
        assert after == installed(str(after["extension"]))
        await asyncio.gather(*(stats.uninstall(c) for c in conns))
        assert catalog(pg_server, fresh_db) == NOTHING
    finally:
        for c in conns:
            await c.close()


async def test_views_match_the_functions(pg_server: TestServer, fresh_db: str) -> None:
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await stats.install(conn)
        await conn.execute("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) AS g")
        for _ in range(5):
            await conn.fetchval("SELECT count(*) FROM t /* pgstatkit-view-probe */")
        await conn.fetchval("SELECT pg_sleep(1.05) /* pgstatkit-view-slow */")
        top = await stats.top_queries_by_total_time(conn, limit=10_000)
        rows = await conn.fetch("SELECT * FROM pgstatkit.top_queries_by_total_time")
        assert rows[0]["queryid"] == top[0].queryid
        assert list(rows[0].keys()) == list(top[0].to_dict())
        slow = await stats.slow_queries(conn, limit=10_000)
        slow_rows = await conn.fetch("SELECT queryid FROM pgstatkit.slow_queries")
        assert [r["queryid"] for r in slow_rows] == [s.queryid for s in slow]
        assert any("pgstatkit-view-slow" in (s.query or "") for s in slow)
        low = await stats.queries_with_low_cache_hit(
            conn, max_cache_hit_ratio=0.8999999, limit=10_000
        )
        low_rows = await conn.fetch("SELECT queryid FROM pgstatkit.queries_with_low_cache_hit")
        assert {r["queryid"] for r in low_rows} == {s.queryid for s in low}
    finally:
        await conn.close()


async def test_database_owner_installs_when_the_extension_exists(
    pg_server: TestServer, fresh_db: str
) -> None:
    role = pg_server.plain_role
    pg_server.psql(f"ALTER DATABASE {fresh_db} OWNER TO {role}", dbname="postgres")
    dsn = pg_server.dsn_for(dbname=fresh_db, user=role)
    conn = await asyncpg.connect(dsn)
    try:
        with pytest.raises(InsufficientPrivilegeError, match="superuser") as info:
            await stats.install(conn)
        assert "trusted" in str(info.value)
        assert not conn.is_in_transaction()
        assert catalog(pg_server, fresh_db) == NOTHING  # nothing half-made
        pg_server.psql("CREATE EXTENSION pg_stat_statements", dbname=fresh_db)
        await stats.install(conn)
        after = catalog(pg_server, fresh_db)
        assert after == installed(str(after["extension"]))
        assert await conn.fetchval("SELECT count(*) >= 0 FROM pgstatkit.top_queries_by_total_time")
        await stats.uninstall(conn)
        after = catalog(pg_server, fresh_db)
        assert after["extension"] is not None
        assert after["relations"] == set() and after["schema"] is False
    finally:
        await conn.close()


HOSTILE = 'x"; DROP TABLE t; --'


async def test_hostile_schema_name(pg_server: TestServer, fresh_db: str) -> None:
    pg_server.psql("CREATE TABLE t (x int)", dbname=fresh_db)
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await stats.install(conn, schema=HOSTILE)
        names = pg_server.psql(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
            " AND nspname <> 'information_schema' ORDER BY 1",
            dbname=fresh_db,
        ).splitlines()
        assert sorted(names) == sorted(["public", HOSTILE])
        assert catalog(pg_server, fresh_db, HOSTILE)["relations"] == INSTALLED
        assert pg_server.psql("SELECT count(*) FROM t", dbname=fresh_db) == "0"
        await stats.uninstall(conn, schema=HOSTILE)
        assert catalog(pg_server, fresh_db, HOSTILE)["schema"] is False
        assert pg_server.psql("SELECT count(*) FROM t", dbname=fresh_db) == "0"
    finally:
        await conn.close()


@pytest.mark.parametrize("bad", ["", "a" * 64, "é" * 32, "x\x00y", "pg_stats", "PG_x", 5])
async def test_invalid_schema_names_send_nothing(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="schema"):
        await stats.install(object(), schema=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="schema"):
        await stats.uninstall(object(), schema=bad)  # type: ignore[arg-type]


async def test_extension_update_procedure(pg_server: TestServer, fresh_db: str) -> None:
    """Documented: uninstall, ALTER EXTENSION ... UPDATE, install."""
    pg_server.psql("CREATE EXTENSION pg_stat_statements VERSION '1.8'", dbname=fresh_db)
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await stats.install(conn)
        assert await conn.fetchval("SELECT pgss_version FROM pgstatkit.pgstatkit_meta") == "1.8"
        with pytest.raises(asyncpg.DependentObjectsStillExistError):
            await conn.execute("ALTER EXTENSION pg_stat_statements UPDATE")
        await stats.uninstall(conn)
        await conn.execute("ALTER EXTENSION pg_stat_statements UPDATE")
        await stats.install(conn)
        current = await conn.fetchval(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'"
        )
        assert current != "1.8"
        assert await conn.fetchval("SELECT pgss_version FROM pgstatkit.pgstatkit_meta") == current
        top = await stats.top_queries_by_total_time(conn, limit=1)
        row = await conn.fetchrow("SELECT * FROM pgstatkit.top_queries_by_total_time LIMIT 1")
        assert row is not None and list(row.keys()) == list(top[0].to_dict())
    finally:
        await conn.close()


async def test_older_schema_version_is_upgraded_in_place(
    pg_server: TestServer, fresh_db: str
) -> None:
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await stats.install(conn)
        await conn.execute(
            "UPDATE pgstatkit.pgstatkit_meta SET schema_version = 0;"
            " DROP VIEW pgstatkit.slow_queries;"
            " CREATE VIEW pgstatkit.slow_queries AS SELECT 1 AS old"
        )
        await stats.install(conn)
        assert await conn.fetchval("SELECT schema_version FROM pgstatkit.pgstatkit_meta") == 1
        cols = await conn.fetch("SELECT * FROM pgstatkit.slow_queries LIMIT 0")
        assert cols == []
        names = [
            a.name
            for a in (await conn.prepare("SELECT * FROM pgstatkit.slow_queries")).get_attributes()
        ]
        assert "queryid" in names and "old" not in names
        meta = await conn.fetchrow("SELECT * FROM pgstatkit.pgstatkit_meta")
        assert meta is not None and meta["created_schema"] and meta["created_extension"]
    finally:
        await conn.close()


def test_inside_the_callers_transaction(pg_server: TestServer, fresh_db: str) -> None:
    """In the caller's transaction install uses a savepoint: the caller decides."""
    with psycopg.connect(pg_server.dsn_for(dbname=fresh_db)) as conn:
        conn.execute("SET search_path = public")
        sync_stats.install(conn)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        assert conn.execute("SHOW search_path").fetchone() == ("public",)
        conn.rollback()
        assert catalog(pg_server, fresh_db) == NOTHING
        sync_stats.install(conn)
        conn.commit()
        after = catalog(pg_server, fresh_db)
        assert after == installed(str(after["extension"]))

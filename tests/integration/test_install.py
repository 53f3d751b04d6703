"""stats.install / stats.uninstall on real servers, each test in a database of its own."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import Iterator, Sequence

import asyncpg
import psycopg
import pytest

from harness.servers import TestServer
from pgstatkit import _install, _sql, stats
from pgstatkit.errors import InstallRefusedError, InsufficientPrivilegeError, InvalidArgumentError
from pgstatkit.migrations import install_statements, uninstall_statements
from pgstatkit.sync import stats as sync_stats

pytestmark = pytest.mark.server

VIEWS = {"slow_queries", "top_queries_by_total_time", "queries_with_low_cache_hit"}
HISTORY = {
    *((name, kind) for name, kind in _install.HISTORY_TABLES.items()),
    ("history_targets_pkey", "i"),
    ("history_targets_name_key", "i"),
    ("history_targets_id_seq", "S"),
    ("history_snapshots_pkey", "i"),
    ("history_snapshots_id_seq", "S"),
    ("history_snapshots_target_time", "i"),
    ("history_statements_target_time", "I"),
    ("history_statements_target_query", "I"),
    ("history_state_pkey", "i"),
    ("history_texts_pkey", "i"),
    ("history_names_pkey", "i"),
    ("history_databases_pkey", "i"),
    ("history_databases_target_time", "i"),
    ("history_statements_hourly_pkey", "i"),
    ("history_statements_hourly_target_query", "i"),
}
"""Schema versions 3 and 4: the tables of pgstatkit.history (and its hourly roll-ups),
their indexes and sequences."""
INSTALLED = (
    {("pgstatkit_meta", "r"), ("pgstatkit_meta_pkey", "i")} | {(v, "v") for v in VIEWS} | HISTORY
)


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
        assert meta["schema_version"] == _install.SCHEMA_VERSION
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
        await stats.install(conn, grant_select_to=[pg_server.monitor_role])
        assert grants(pg_server, fresh_db) == {
            v: {f"{pg_server.monitor_role}:SELECT"} for v in VIEWS
        }
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
    """Schema version 1 had no ownership comments; its views are rebuilt in place."""
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await stats.install(conn)
        await conn.execute(
            "DROP TABLE " + ", ".join(f"pgstatkit.{t}" for t in _install.HISTORY_TABLES) + ";"
            " UPDATE pgstatkit.pgstatkit_meta SET schema_version = 1;"
            " COMMENT ON TABLE pgstatkit.pgstatkit_meta IS NULL;"
            " COMMENT ON VIEW pgstatkit.top_queries_by_total_time IS NULL;"
            " COMMENT ON VIEW pgstatkit.queries_with_low_cache_hit IS NULL;"
            " DROP VIEW pgstatkit.slow_queries;"
            " CREATE VIEW pgstatkit.slow_queries AS SELECT 1 AS old"
        )
        await stats.install(conn)
        assert (
            await conn.fetchval("SELECT schema_version FROM pgstatkit.pgstatkit_meta")
            == _install.SCHEMA_VERSION
        )
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


async def test_schema_version_2_is_upgraded_by_migrations_3_and_4_alone(
    pg_server: TestServer, fresh_db: str
) -> None:
    """An install of schema version 2 gets exactly 0003 and 0004 (the history tables)."""
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        two = _install.load_migrations()[:2]
        await stats._run(conn, _install.install(migrations=two))
        assert await conn.fetchval("SELECT schema_version FROM pgstatkit.pgstatkit_meta") == 2
        assert await conn.fetchval("SELECT to_regclass('pgstatkit.history_snapshots')") is None
        # a row of version 2 survives: 0001 / 0002 are not applied again
        await conn.execute("UPDATE pgstatkit.pgstatkit_meta SET installed_at = '2001-01-01'")
        await stats.install(conn)
        assert await conn.fetchval("SELECT schema_version FROM pgstatkit.pgstatkit_meta") == 4
        after = catalog(pg_server, fresh_db)
        assert after == installed(str(after["extension"]))
        await stats.uninstall(conn)
        assert catalog(pg_server, fresh_db)["relations"] == set()
    finally:
        await conn.close()


async def test_schema_version_3_is_upgraded_by_migration_4_alone(
    pg_server: TestServer, fresh_db: str
) -> None:
    """An install of schema version 3 with history gets exactly 0004 (the hourly
    roll-ups): its targets and deltas stay, the frontier starts NULL, and changes()
    reads the old deltas raw until a roll-up; history refuses a store still at 3."""
    from pgstatkit import history

    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        three = _install.load_migrations()[:3]
        await stats._run(conn, _install.install(migrations=three))
        assert await conn.fetchval("SELECT schema_version FROM pgstatkit.pgstatkit_meta") == 3
        assert (
            await conn.fetchval("SELECT to_regclass('pgstatkit.history_statements_hourly')") is None
        )
        with pytest.raises(history.HistoryNotInstalledError, match="versions 3 and 4"):
            await history.snapshot(conn, target="old")
        await conn.execute("INSERT INTO pgstatkit.history_targets (name) VALUES ('old')")
        await stats.install(conn)
        assert await conn.fetchval("SELECT schema_version FROM pgstatkit.pgstatkit_meta") == 4
        assert await conn.fetch("SELECT name, rolled_up_until FROM pgstatkit.history_targets") == [
            ("old", None)
        ]
        after = catalog(pg_server, fresh_db)
        assert after == installed(str(after["extension"]))
        first = await history.snapshot(conn, target="old")
        assert first.status == "baseline"
        assert [r.target for r in await history.roll_up(conn)] == ["old"]
        await stats.uninstall(conn)
        assert catalog(pg_server, fresh_db)["relations"] == set()
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


# --------------------------------------------------------------------------------------
# What belongs to the user: objects with pgstatkit's names, grants, dependent views.
# Each test runs through both paths: stats.install/uninstall and the migration DO blocks.


@dataclasses.dataclass
class Installer:
    """install / uninstall through one path: ``stats`` or ``pgstatkit.migrations``."""

    id: str

    async def install(
        self, conn: asyncpg.Connection, schema: str = "pgstatkit", grant: Sequence[str] = ()
    ) -> None:
        options = {"grant_select_to": grant} if grant else {}
        if self.id == "stats":
            await stats.install(conn, schema=schema, **options)
            return
        async with conn.transaction():
            for sql in install_statements(schema, **options):
                await conn.execute(sql)

    async def uninstall(self, conn: asyncpg.Connection, schema: str = "pgstatkit") -> None:
        if self.id == "stats":
            await stats.uninstall(conn, schema=schema)
            return
        async with conn.transaction():
            for sql in uninstall_statements(schema):
                await conn.execute(sql)

    @contextlib.contextmanager
    def refused(self, match: str, sqlstate: str) -> Iterator[None]:
        """The path's refusal: InstallRefusedError, or the DO block's server error."""
        kind: type[Exception] = InstallRefusedError if self.id == "stats" else asyncpg.PostgresError
        with pytest.raises(kind, match=match) as info:
            yield
        if self.id == "migrations":
            assert getattr(info.value, "sqlstate", None) == sqlstate


@pytest.fixture(params=["stats", "migrations"])
def path(request: pytest.FixtureRequest) -> Installer:
    return Installer(str(request.param))


@pytest.fixture
def grantee(pg_server: TestServer, fresh_db: str) -> Iterator[str]:
    """A role (no login) to grant to; its privileges in ``fresh_db`` go with it."""
    role = f"pgstatkit_grafana_{uuid.uuid4().hex[:8]}"
    pg_server.psql(f"CREATE ROLE {role}", dbname="postgres")
    try:
        yield role
    finally:
        pg_server.psql(f"DROP OWNED BY {role}", dbname=fresh_db)
        pg_server.psql(f"DROP ROLE {role}", dbname="postgres")


def grants(server: TestServer, db: str, schema: str = "pgstatkit") -> dict[str, set[str]]:
    """view -> its ACL entries other than the owner's, as ``grantee:privilege[*]``."""
    lit = "'" + schema.replace("'", "''") + "'"
    out = server.psql(
        "SELECT c.relname, CASE WHEN a.grantee = 0 THEN 'PUBLIC'"
        " ELSE pg_get_userbyid(a.grantee) END || ':' || a.privilege_type"
        " || CASE WHEN a.is_grantable THEN '*' ELSE '' END"
        " FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace,"
        " aclexplode(c.relacl) AS a"
        f" WHERE n.nspname = {lit} AND c.relkind = 'v' AND a.grantee <> c.relowner",
        dbname=db,
    )
    found: dict[str, set[str]] = {v: set() for v in VIEWS}
    for line in out.splitlines():
        view, entry = line.split("|")
        found[view].add(entry)
    return found


def view_columns(server: TestServer, db: str, view: str) -> list[str]:
    out = server.psql(
        "SELECT attname FROM pg_attribute WHERE attrelid ="
        f" 'pgstatkit.{view}'::regclass AND attnum > 0 ORDER BY attnum",
        dbname=db,
    )
    return out.splitlines()


async def test_users_view_with_a_pgstatkit_name_is_refused(
    pg_server: TestServer, fresh_db: str, path: Installer
) -> None:
    pg_server.psql(
        "CREATE SCHEMA reporting; CREATE VIEW reporting.slow_queries AS SELECT 42 AS mine",
        dbname=fresh_db,
    )
    before = catalog(pg_server, fresh_db, "reporting")
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        with path.refused(r"view reporting\.slow_queries.*another schema", "42710"):
            await path.install(conn, schema="reporting")
        assert catalog(pg_server, fresh_db, "reporting") == before  # nothing changed
        assert before["extension"] is None and before["relations"] == {("slow_queries", "v")}
        await path.uninstall(conn, schema="reporting")
        assert catalog(pg_server, fresh_db, "reporting") == before
        assert await conn.fetchval("SELECT mine FROM reporting.slow_queries") == 42
        await path.install(conn, schema="elsewhere")  # another schema is fine
        assert catalog(pg_server, fresh_db, "elsewhere")["relations"] == INSTALLED
    finally:
        await conn.close()


async def test_users_table_named_pgstatkit_meta_is_refused(
    pg_server: TestServer, fresh_db: str, path: Installer
) -> None:
    pg_server.psql(
        "CREATE EXTENSION pg_stat_statements; CREATE SCHEMA reporting;"
        " CREATE TABLE reporting.pgstatkit_meta (note text);"
        " INSERT INTO reporting.pgstatkit_meta VALUES ('mine')",
        dbname=fresh_db,
    )
    before = catalog(pg_server, fresh_db, "reporting")
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        with path.refused(r"table reporting\.pgstatkit_meta", "42710"):
            await path.install(conn, schema="reporting")
        await path.uninstall(conn, schema="reporting")
        assert catalog(pg_server, fresh_db, "reporting") == before
        assert await conn.fetchval("SELECT note FROM reporting.pgstatkit_meta") == "mine"
    finally:
        await conn.close()


async def test_view_the_user_put_in_place_of_pgstatkits_is_never_dropped(
    pg_server: TestServer, fresh_db: str, path: Installer
) -> None:
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await path.install(conn)
        await conn.execute(
            "DROP VIEW pgstatkit.slow_queries;"
            " CREATE VIEW pgstatkit.slow_queries AS SELECT 7 AS my_own"
        )
        with path.refused(r"view pgstatkit\.slow_queries", "42710"):
            await path.install(conn)
        await path.uninstall(conn)
        after = catalog(pg_server, fresh_db)
        assert after["relations"] == {("slow_queries", "v")}  # the schema is kept for it
        assert await conn.fetchval("SELECT my_own FROM pgstatkit.slow_queries") == 7
    finally:
        await conn.close()


async def test_reinstall_keeps_grants(
    pg_server: TestServer, fresh_db: str, path: Installer, grantee: str
) -> None:
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await path.install(conn)
        await conn.execute(
            f"GRANT SELECT ON pgstatkit.top_queries_by_total_time TO {grantee};"
            f" GRANT SELECT ON pgstatkit.slow_queries TO {grantee} WITH GRANT OPTION;"
            " GRANT SELECT ON pgstatkit.queries_with_low_cache_hit TO PUBLIC"
        )
        before = grants(pg_server, fresh_db)
        assert before == {
            "top_queries_by_total_time": {f"{grantee}:SELECT"},
            "slow_queries": {f"{grantee}:SELECT*"},
            "queries_with_low_cache_hit": {"PUBLIC:SELECT"},
        }
        await path.install(conn)
        assert grants(pg_server, fresh_db) == before
    finally:
        await conn.close()


async def test_reinstall_rebuilds_a_changed_view_and_keeps_its_grants(
    pg_server: TestServer, fresh_db: str, path: Installer, grantee: str
) -> None:
    """A view of pgstatkit's with other columns (an older pgstatkit's) cannot be
    CREATE OR REPLACEd: install re-creates it and applies its grants again."""
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await path.install(conn)
        expected = view_columns(pg_server, fresh_db, "slow_queries")
        await conn.execute(
            "DROP VIEW pgstatkit.slow_queries;"
            " CREATE VIEW pgstatkit.slow_queries AS SELECT 1::text AS queryid, 2 AS old;"
            f" COMMENT ON VIEW pgstatkit.slow_queries IS {_sql.quote_literal(_install.MARKER)};"
            f" GRANT SELECT ON pgstatkit.slow_queries TO {grantee} WITH GRANT OPTION;"
            f" GRANT SELECT, REFERENCES ON pgstatkit.slow_queries TO PUBLIC"
        )
        await path.install(conn)
        assert view_columns(pg_server, fresh_db, "slow_queries") == expected
        assert grants(pg_server, fresh_db)["slow_queries"] == {
            f"{grantee}:SELECT*",
            "PUBLIC:SELECT",
            "PUBLIC:REFERENCES",
        }
        # A view of the user's over the old one: install refuses, naming it.
        await conn.execute(
            "DROP VIEW pgstatkit.slow_queries;"
            " CREATE VIEW pgstatkit.slow_queries AS SELECT 2 AS old;"
            f" COMMENT ON VIEW pgstatkit.slow_queries IS {_sql.quote_literal(_install.MARKER)};"
            " CREATE VIEW public.on_top AS SELECT old FROM pgstatkit.slow_queries"
        )
        with path.refused(r"slow_queries.*view public\.on_top", "2BP01"):
            await path.install(conn)
        assert await conn.fetchval("SELECT old FROM public.on_top") == 2
    finally:
        await conn.close()


async def test_grant_select_to(
    pg_server: TestServer, fresh_db: str, path: Installer, grantee: str
) -> None:
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        with path.refused(r"pgstatkit_no_such_role", "42704"):
            await path.install(conn, grant=[grantee, "pgstatkit_no_such_role"])
        assert catalog(pg_server, fresh_db) == NOTHING  # nothing half-made
        await path.install(conn, grant=[grantee, "pg_monitor"])
        assert grants(pg_server, fresh_db) == {
            v: {f"{grantee}:SELECT", "pg_monitor:SELECT"} for v in VIEWS
        }
        for view in VIEWS:
            count = pg_server.psql(
                f"SET ROLE {grantee}; SELECT count(*) >= 0 FROM pgstatkit.{view}", dbname=fresh_db
            )
            assert count == "t"
        usage = f"SELECT has_schema_privilege('{grantee}', 'pgstatkit', 'USAGE')"
        assert pg_server.psql(usage, dbname=fresh_db) == "t"
        await path.install(conn, grant=["public"])
        assert all("PUBLIC:SELECT" in g for g in grants(pg_server, fresh_db).values())
    finally:
        await conn.close()


async def test_uninstall_refused_while_a_users_view_depends_on_the_views(
    pg_server: TestServer, fresh_db: str, path: Installer
) -> None:
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await path.install(conn)
        await conn.execute(
            "CREATE VIEW public.my_report AS"
            " SELECT queryid FROM pgstatkit.top_queries_by_total_time;"
            " CREATE MATERIALIZED VIEW public.my_slow AS SELECT calls FROM pgstatkit.slow_queries"
        )
        await path.install(conn)  # a re-install replaces the views in place: they stay
        before = catalog(pg_server, fresh_db)
        with path.refused(r"materialized view public\.my_slow, view public\.my_report", "2BP01"):
            await path.uninstall(conn)
        assert catalog(pg_server, fresh_db) == before  # nothing changed
        await conn.execute("DROP VIEW public.my_report; DROP MATERIALIZED VIEW public.my_slow")
        await path.uninstall(conn)
        assert catalog(pg_server, fresh_db) == NOTHING
    finally:
        await conn.close()


async def test_install_from_before_the_ownership_comments_is_adopted(
    pg_server: TestServer, fresh_db: str, path: Installer
) -> None:
    """Schema version 1 (no ownership comments): its record and views are pgstatkit's."""
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await path.install(conn)
        legacy = (
            ("DROP TABLE " + ", ".join(f"pgstatkit.{t}" for t in _install.HISTORY_TABLES) + ";")
            + "UPDATE pgstatkit.pgstatkit_meta SET schema_version = 1;"
            + "".join(
                f" COMMENT ON {kind} pgstatkit.{name} IS NULL;"
                for kind, name in [("TABLE", "pgstatkit_meta")] + [("VIEW", v) for v in VIEWS]
            )
        )
        await conn.execute(legacy)
        await path.uninstall(conn)
        assert catalog(pg_server, fresh_db) == NOTHING
        await path.install(conn)
        await conn.execute(legacy)
        await path.install(conn)
        meta = await conn.fetchrow("SELECT * FROM pgstatkit.pgstatkit_meta")
        assert meta is not None and meta["schema_version"] == _install.SCHEMA_VERSION
        assert meta["created_schema"] and meta["created_extension"]
        notes = await conn.fetch(
            "SELECT obj_description(c.oid, 'pg_class') FROM pg_class AS c"
            " WHERE c.relnamespace = 'pgstatkit'::regnamespace AND c.relkind IN ('r', 'v')"
        )
        tables = sum(kind == "r" for kind in _install.HISTORY_TABLES.values())
        assert [n[0] for n in notes] == [_install.MARKER] * (4 + tables)
    finally:
        await conn.close()


async def test_extension_update_procedure_grants_again(
    pg_server: TestServer, fresh_db: str, path: Installer, grantee: str
) -> None:
    """uninstall drops the views with their grants; install(grant_select_to=...) after
    ALTER EXTENSION ... UPDATE grants again, on views built for the new version."""
    old = "1.10" if pg_server.major >= 17 else "1.8"
    pg_server.psql(f"CREATE EXTENSION pg_stat_statements VERSION '{old}'", dbname=fresh_db)
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await path.install(conn, grant=[grantee])
        columns = view_columns(pg_server, fresh_db, "top_queries_by_total_time")
        await path.uninstall(conn)
        await conn.execute("ALTER EXTENSION pg_stat_statements UPDATE")
        await path.install(conn, grant=[grantee])
        assert await conn.fetchval("SELECT pgss_version FROM pgstatkit.pgstatkit_meta") != old
        assert view_columns(pg_server, fresh_db, "top_queries_by_total_time") == columns
        assert grants(pg_server, fresh_db) == {v: {f"{grantee}:SELECT"} for v in VIEWS}
        await path.install(conn)  # and a plain re-install keeps them
        assert grants(pg_server, fresh_db) == {v: {f"{grantee}:SELECT"} for v in VIEWS}
    finally:
        await conn.close()


def test_refusals_through_psycopg(pg_server: TestServer, fresh_db: str, grantee: str) -> None:
    """The SQLSTATEs behind the savepoint fallbacks, as psycopg reports them."""
    with psycopg.connect(pg_server.dsn_for(dbname=fresh_db), autocommit=True) as conn:
        sync_stats.install(conn)
        conn.execute(
            "DROP VIEW pgstatkit.slow_queries;"
            " CREATE VIEW pgstatkit.slow_queries AS SELECT 1 AS old;"
            f" COMMENT ON VIEW pgstatkit.slow_queries IS {_sql.quote_literal(_install.MARKER)};"
            f" GRANT SELECT ON pgstatkit.slow_queries TO {grantee}"
        )
        sync_stats.install(conn)  # 42P16: re-created, grant applied again
        assert grants(pg_server, fresh_db)["slow_queries"] == {f"{grantee}:SELECT"}
        conn.execute("CREATE VIEW public.mine AS SELECT calls FROM pgstatkit.slow_queries")
        with pytest.raises(InstallRefusedError, match=r"view public\.mine"):
            sync_stats.uninstall(conn)  # 2BP01
        assert catalog(pg_server, fresh_db)["relations"] == INSTALLED

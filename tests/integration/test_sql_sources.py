"""The SQL files as the one source of install: ``psql -f sql/install.sql`` /
``sql/uninstall.sql``, mixing every path, and the versioned migrations, on real servers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import asyncpg
import pytest

from harness.servers import TestServer
from pgstatkit import _install, _sql, migrations, stats
from pgstatkit._protocol import Operation
from pgstatkit.errors import InstallRefusedError, PgStatKitError
from pgstatkit.migrations import install_statements, uninstall_statements
from pgstatkit.testing import ClusterError

from .test_install import NOTHING, VIEWS, catalog, fresh_db, grants, installed

__all__ = ["fresh_db"]

pytestmark = pytest.mark.server

INSTALL_SQL = _sql.root() / "install.sql"
UNINSTALL_SQL = _sql.root() / "uninstall.sql"


def psql_file(
    server: TestServer, db: str, path: Path, settings: dict[str, str] | None = None
) -> None:
    """``psql -f path`` after ``SET`` of the pgstatkit settings (psql variables, quoted
    by psql), with the SQLSTATE in error messages.

    The file's text goes to psql on its standard input: psql runs as the server's OS
    user, which may not read the checkout (a CI clone in a private temporary directory).
    """
    script = "\\set VERBOSITY verbose\n"
    for name in settings or {}:
        script += f"SET pgstatkit.{name} = :'{name}';\n"
    script += path.read_text(encoding="utf-8") + "\n"
    server.server.psql(script, dbname=db, user=server.superuser, variables=settings)


def snapshot(server: TestServer, db: str, schema: str) -> dict[str, object]:
    """Everything install makes, to compare two installs: the catalog, the comments, the
    view definitions, the grants, the record (but its time)."""
    lit = "'" + schema.replace("'", "''") + "'"
    objects = server.psql(
        "SELECT c.relname, c.relkind, coalesce(obj_description(c.oid, 'pg_class'), '-'),"
        " coalesce(pg_get_viewdef(c.oid), '-') FROM pg_class AS c JOIN pg_namespace AS n"
        f" ON n.oid = c.relnamespace WHERE n.nspname = {lit} ORDER BY 1",
        dbname=db,
    )
    meta = server.psql(
        "SELECT schema_version, created_extension, created_schema, pgss_version"
        f" FROM {_sql.quote_ident(schema)}.pgstatkit_meta",
        dbname=db,
    )
    usage = server.psql(
        f"SELECT array_agg(a.grantee::regrole ORDER BY 1) FROM pg_namespace AS n,"
        f" aclexplode(n.nspacl) AS a WHERE n.nspname = {lit} AND a.grantee <> n.nspowner",
        dbname=db,
    )
    return {
        "catalog": catalog(server, db, schema),
        "objects": objects,
        "meta": meta,
        "grants": grants(server, db, schema),
        "usage": usage,
    }


@pytest.fixture
def other_db(pg_server: TestServer) -> Iterator[str]:
    name = f"pgstatkit_src_{uuid.uuid4().hex[:10]}"
    pg_server.psql(f"CREATE DATABASE {name}", dbname="postgres")
    try:
        yield name
    finally:
        pg_server.psql(f"DROP DATABASE {name} WITH (FORCE)", dbname="postgres")


@pytest.fixture
def role(pg_server: TestServer) -> Iterator[str]:
    name = f"pgstatkit_reader_{uuid.uuid4().hex[:8]}"
    pg_server.psql(f"CREATE ROLE {name}", dbname="postgres")
    try:
        yield name
    finally:
        for db in pg_server.psql("SELECT datname FROM pg_database WHERE datallowconn").split():
            pg_server.psql(f"DROP OWNED BY {name}", dbname=db)
        pg_server.psql(f"DROP ROLE {name}", dbname="postgres")


async def test_psql_install_makes_what_stats_install_makes(
    pg_server: TestServer, fresh_db: str, other_db: str, role: str
) -> None:
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await stats.install(conn, schema="perf", grant_select_to=[role, "pg_monitor"])
    finally:
        await conn.close()
    settings = {"schema": "perf", "grant_select_to": f"{role}, pg_monitor"}
    psql_file(pg_server, other_db, INSTALL_SQL, settings)
    made = snapshot(pg_server, other_db, "perf")
    assert made == snapshot(pg_server, fresh_db, "perf")
    assert made["grants"] == {v: {f"{role}:SELECT", "pg_monitor:SELECT"} for v in VIEWS}
    psql_file(pg_server, other_db, INSTALL_SQL, settings)  # again: nothing changes
    assert snapshot(pg_server, other_db, "perf") == made
    psql_file(pg_server, other_db, UNINSTALL_SQL, {"schema": "perf"})
    assert catalog(pg_server, other_db, "perf") == NOTHING


async def test_every_path_uninstalls_what_any_path_installed(
    pg_server: TestServer, fresh_db: str
) -> None:
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))

    async def alembic(statements: list[str]) -> None:
        async with conn.transaction():
            for sql in statements:
                await conn.execute(sql)

    installs = {
        "psql": lambda: psql_file(pg_server, fresh_db, INSTALL_SQL),
        "stats": lambda: stats.install(conn),
        "alembic": lambda: alembic(install_statements()),
    }
    uninstalls = {
        "psql": lambda: psql_file(pg_server, fresh_db, UNINSTALL_SQL),
        "stats": lambda: stats.uninstall(conn),
        "alembic": lambda: alembic(uninstall_statements()),
    }
    names = list(installs)
    try:
        for i, how in enumerate(names):
            then = names[(i + 1) % len(names)]  # a re-install through another path
            for undo in names:
                for step in (installs[how], installs[then]):
                    result = step()
                    if result is not None:
                        await result
                after = catalog(pg_server, fresh_db)
                assert after == installed(str(after["extension"])), (how, then)
                result = uninstalls[undo]()
                if result is not None:
                    await result
                assert catalog(pg_server, fresh_db) == NOTHING, (how, then, undo)
    finally:
        await conn.close()


def test_psql_refuses_what_is_not_pgstatkits(pg_server: TestServer, fresh_db: str) -> None:
    pg_server.psql(
        "CREATE SCHEMA reporting; CREATE VIEW reporting.slow_queries AS SELECT 42 AS mine",
        dbname=fresh_db,
    )
    before = catalog(pg_server, fresh_db, "reporting")
    with pytest.raises(ClusterError, match=r"42710: install refused.*reporting\.slow_queries"):
        psql_file(pg_server, fresh_db, INSTALL_SQL, {"schema": "reporting"})
    assert catalog(pg_server, fresh_db, "reporting") == before
    with pytest.raises(ClusterError, match=r"22023: pgstatkit\.schema must"):
        psql_file(pg_server, fresh_db, INSTALL_SQL, {"schema": "pg_mine"})
    with pytest.raises(ClusterError, match=r"42704: .*cannot grant SELECT to \"nobody_x\""):
        psql_file(pg_server, fresh_db, INSTALL_SQL, {"grant_select_to": "nobody_x"})
    assert catalog(pg_server, fresh_db) == NOTHING


# --------------------------------------------------------------------------------------
# Migrations: an install of schema version 1 upgraded, a later migration applied once.


def make_version_1(server: TestServer, db: str, pgss_version: str) -> None:
    """An install as pgstatkit made it before the ownership comments (schema version 1):
    the record without a comment, the views without comments."""
    views = _install.view_definitions(tuple(map(int, pgss_version.split("."))), "public")
    server.psql(
        "CREATE SCHEMA pgstatkit;"
        " CREATE TABLE pgstatkit.pgstatkit_meta (id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),"
        " schema_version int NOT NULL, created_extension bool NOT NULL,"
        " created_schema bool NOT NULL, pgss_version text NOT NULL,"
        " installed_at timestamptz NOT NULL DEFAULT pg_catalog.now());"
        " INSERT INTO pgstatkit.pgstatkit_meta"
        f" (schema_version, created_extension, created_schema, pgss_version)"
        f" VALUES (1, false, true, '{pgss_version}');"
        + "".join(f" CREATE VIEW pgstatkit.{name} AS {sql};" for name, sql in views.items()),
        dbname=db,
    )


def notes(server: TestServer, db: str) -> list[str]:
    return server.psql(
        "SELECT coalesce(obj_description(c.oid, 'pg_class'), '-') FROM pg_class AS c"
        " WHERE c.relnamespace = 'pgstatkit'::regnamespace AND c.relkind IN ('r', 'v')",
        dbname=db,
    ).splitlines()


@pytest.mark.parametrize("path", ["stats", "alembic", "psql"])
async def test_schema_version_1_is_upgraded_by_the_missing_migrations_only(
    pg_server: TestServer, fresh_db: str, path: str
) -> None:
    """Migration 1 is a plain CREATE TABLE: it would fail if it ran again."""
    pg_server.psql("CREATE EXTENSION pg_stat_statements", dbname=fresh_db)
    version = pg_server.psql(
        "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'",
        dbname=fresh_db,
    )
    make_version_1(pg_server, fresh_db, version)
    assert notes(pg_server, fresh_db) == ["-"] * 4
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        if path == "stats":
            await stats.install(conn)
        elif path == "alembic":
            async with conn.transaction():
                for sql in install_statements():
                    await conn.execute(sql)
        else:
            psql_file(pg_server, fresh_db, INSTALL_SQL)
        meta = await conn.fetchrow("SELECT * FROM pgstatkit.pgstatkit_meta")
        assert meta is not None
        assert meta["schema_version"] == _install.SCHEMA_VERSION
        assert (meta["created_extension"], meta["created_schema"]) == (False, True)
        after_install = notes(pg_server, fresh_db)
        assert len(after_install) >= 4 and set(after_install) == {_install.MARKER}
        await stats.uninstall(conn)
        after = catalog(pg_server, fresh_db)
        assert after["schema"] is False and after["extension"] == version
    finally:
        await conn.close()


KNOWN = _install.SCHEMA_VERSION
NEXT = KNOWN + 1  # the test's migration: the one after pgstatkit's last
TRACE = f"""\
-- A test's migration: schema version {NEXT}.
CREATE TABLE @schema@.pgstatkit_trace (version int NOT NULL);
INSERT INTO @schema@.pgstatkit_trace VALUES ({NEXT});
"""


@pytest.fixture
def with_trace(tmp_path: Path) -> tuple[_install.Migration, ...]:
    """pgstatkit's migrations and one more, in a directory of the test's."""
    for path in (_sql.root() / "schema").glob("0*.sql"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / f"{NEXT:04d}_trace.sql").write_text(TRACE, encoding="utf-8")
    found = _install.load_migrations(tmp_path)
    assert [m.version for m in found] == list(range(1, NEXT + 1))
    return found


async def run(conn: asyncpg.Connection, op: Operation[None]) -> None:
    await stats._run(conn, op)


@pytest.mark.parametrize("path", ["stats", "alembic"])
async def test_a_later_migration_is_applied_once(
    pg_server: TestServer,
    fresh_db: str,
    with_trace: Sequence[_install.Migration],
    path: str,
) -> None:
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))

    async def install() -> None:
        if path == "stats":
            await run(conn, _install.install(migrations=with_trace))
        else:
            async with conn.transaction():
                await conn.execute(
                    migrations.render("install", schema="pgstatkit", migrations=with_trace)
                )

    try:
        await stats.install(conn)  # pgstatkit's schema version (KNOWN)
        assert await conn.fetchval("SELECT to_regclass('pgstatkit.pgstatkit_trace')") is None
        for _ in range(3):
            await install()
            assert await conn.fetchval(
                "SELECT array_agg(version) FROM pgstatkit.pgstatkit_trace"
            ) == [NEXT]
            version = await conn.fetchval("SELECT schema_version FROM pgstatkit.pgstatkit_meta")
            assert version == NEXT
        newer = rf"newer pgstatkit \(schema version {NEXT}, this one knows {KNOWN}\)"
        with pytest.raises(PgStatKitError, match=newer):
            await stats.install(conn)
        with pytest.raises(PgStatKitError, match=newer):
            await stats.uninstall(conn)
        with pytest.raises(asyncpg.FeatureNotSupportedError, match=newer):
            await conn.execute(install_statements()[0])
        with pytest.raises(
            ClusterError, match=f"0A000: schema 'pgstatkit' was installed by a {newer}"
        ):
            psql_file(pg_server, fresh_db, INSTALL_SQL)
        await run(conn, _install.uninstall(migrations=with_trace))
        after = catalog(pg_server, fresh_db)
        assert after["relations"] == {("pgstatkit_trace", "r")}  # not pgstatkit's: kept
    finally:
        await conn.close()


async def test_rebuild_view_grants_again_what_the_view_had(
    pg_server: TestServer, fresh_db: str
) -> None:
    """The plan rebuild_view (a view whose columns changed) grants exactly the view's
    privileges again: quoted grantees, PUBLIC, WITH GRANT OPTION."""
    weird = f'gra"fana_{uuid.uuid4().hex[:6]}'
    quoted = _sql.quote_ident(weird)
    pg_server.psql(f"CREATE ROLE {quoted}", dbname="postgres")
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await conn.execute(
            "CREATE SCHEMA s; CREATE VIEW s.v AS SELECT 1 AS x;"
            f" GRANT SELECT ON s.v TO {quoted} WITH GRANT OPTION;"
            " GRANT REFERENCES ON s.v TO PUBLIC"
        )
        rows = await conn.fetch(
            _install.plan_sql("rebuild_view"), "s", "v", "CREATE VIEW s.v AS SELECT 2 AS y"
        )
        assert [(r["action"], r["sql"]) for r in rows] == [
            ("run", "DROP VIEW s.v RESTRICT"),
            ("run", "CREATE VIEW s.v AS SELECT 2 AS y"),
            ("run", "GRANT REFERENCES ON s.v TO PUBLIC"),
            ("run", f"GRANT SELECT ON s.v TO {quoted} WITH GRANT OPTION"),
        ]
    finally:
        await conn.close()
        pg_server.psql(f"DROP OWNED BY {quoted}", dbname=fresh_db)
        pg_server.psql(f"DROP ROLE {quoted}", dbname="postgres")


@pytest.mark.parametrize("path", ["stats", "psql"])
async def test_uninstall_refusal_names_only_the_users_objects(
    pg_server: TestServer, fresh_db: str, path: str
) -> None:
    """The objects named are those of the user's that depend on pgstatkit's: not the
    CHECK constraint of pgstatkit_meta on its own table (as docs/setup.md shows)."""
    conn = await asyncpg.connect(pg_server.dsn_for(dbname=fresh_db))
    try:
        await stats.install(conn)
        await conn.execute(
            "CREATE VIEW public.my_report AS"
            " SELECT queryid FROM pgstatkit.top_queries_by_total_time;"
            " CREATE MATERIALIZED VIEW public.my_slow AS SELECT calls FROM pgstatkit.slow_queries"
        )
        listed = "(materialized view public.my_slow, view public.my_report), and"
        if path == "stats":
            with pytest.raises(InstallRefusedError) as info:
                await stats.uninstall(conn)
            message = str(info.value)
        else:
            with pytest.raises(ClusterError) as error:
                psql_file(pg_server, fresh_db, UNINSTALL_SQL)
            message = str(error.value)
        assert f"other objects depend on pgstatkit's objects {listed}" in message
    finally:
        await conn.close()

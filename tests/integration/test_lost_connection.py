"""A source that hands out connections recovers from a lost one on the next call.

For every pool-like source (asyncpg ``Pool``, psycopg pools, SQLAlchemy engines and
sessions outside a transaction, async and blocking, asyncpg and psycopg dialects; plus
SQLAlchemy connections, which reconnect once invalidated), the backend behind it is
terminated with ``pg_terminate_backend``; then at most one call fails, with the
driver's own error (it passes through, as documented), and the next calls succeed.
SQLAlchemy on asyncpg used to fail for good: pgstatkit works on the raw driver
connection, so SQLAlchemy's pool never learnt that it had died.
"""

from __future__ import annotations

import contextlib

import asyncpg
import psycopg
import pytest

from harness.servers import TestServer

from .victims import Observer, Victim, open_victim

pytestmark = pytest.mark.server

RECOVERING = (
    "asyncpg-pool",
    "psycopg-async-pool",
    "psycopg-pool",
    "sqlalchemy-async-engine-asyncpg",
    "sqlalchemy-async-engine-psycopg",
    "sqlalchemy-async-session-asyncpg",
    "sqlalchemy-async-session-psycopg",
    "sqlalchemy-async-connection-asyncpg",
    "sqlalchemy-async-connection-psycopg",
    "sqlalchemy-engine",
    "sqlalchemy-session",
    "sqlalchemy-connection",
)
# asyncpg: InternalClientError too ("cannot switch to state 15") when the backend's
# goodbye message was read while the connection sat idle in its pool
DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    psycopg.Error,
    OSError,
)


async def _outcome(victim: Victim) -> str:
    """``ok``, or the type of the driver's error the call raised."""
    try:
        stats = await victim.call("database_statistics")
    except DRIVER_ERRORS as exc:
        return type(exc).__name__
    assert stats.database == "pgstatkit_test"
    return "ok"


async def _outcomes(victim: Victim, calls: int) -> list[str]:
    return [await _outcome(victim) for _ in range(calls)]


@pytest.mark.parametrize("kind", RECOVERING)
async def test_one_lost_connection_costs_at_most_one_call(pg_server: TestServer, kind: str) -> None:
    async with Observer.open(pg_server.dsn) as observer, open_victim(kind, pg_server.dsn) as victim:
        await observer.forget(kind)
        await victim.call("database_statistics")
        pid = (await victim.state()).pid
        assert await observer.conn.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
        outcomes = await _outcomes(victim, 3)
        assert outcomes[1:] == ["ok", "ok"], outcomes
        # and again, with the call that failed now a query plan (the cleanup path)
        pid = (await victim.state()).pid
        assert await observer.conn.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
        with contextlib.suppress(*DRIVER_ERRORS):
            await victim.call("query_plan", "SELECT $1::int")
        assert await _outcomes(victim, 2) == ["ok", "ok"]

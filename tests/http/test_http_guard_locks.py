"""The guard's timeouts hold before it reads any catalog.

A statement's ``statement_timeout`` is armed when the statement starts, so the guard
used to read ``pg_extension`` in the very statement that set its timeouts: with a lock
held on ``pg_extension`` (an open transaction that ran ``LOCK TABLE``), every call waited
for it without end, whatever ``timeout_ms`` said. The timeouts (``statement_timeout`` and
``lock_timeout``) are now set by a statement that reads no table, and the catalog is read
after: the call fails within its ``timeout_ms`` with the documented timeout error
(:class:`~pgstatkit.errors.StatementTimeoutError`, or its kind ``LockTimeoutError``,
whichever timer fires first; HTTP 504).

The callers connect with a ``statement_timeout`` of their own (20 s), so a regression
fails these tests instead of hanging them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import psycopg
import pytest
from http_support import AUTH, PREFIX, TOKEN, http_client

from harness.servers import TestServer
from pgstatkit import stats
from pgstatkit.errors import StatementTimeoutError
from pgstatkit.fastapi import bearer_token, create_router
from pgstatkit.sync import stats as sync_stats

pytestmark = pytest.mark.server

TIMEOUT_MS = 300
FAST_S = 5.0  # well under the callers' own 20 s statement_timeout
CALLER_OPTIONS = "-c statement_timeout=20s"


@pytest.fixture
def extension_catalog_locked(pg_server: TestServer) -> Iterator[None]:
    """Another session holds ACCESS EXCLUSIVE on pg_extension until the test ends."""
    with psycopg.connect(pg_server.dsn, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")


async def test_asyncpg_call_fails_fast(
    pg_server: TestServer, extension_catalog_locked: None
) -> None:
    conn = await asyncpg.connect(pg_server.dsn, server_settings={"statement_timeout": "20s"})
    try:
        started = time.monotonic()
        with pytest.raises(StatementTimeoutError, match="slow_queries"):
            await stats.slow_queries(conn, min_duration_ms=0, timeout_ms=TIMEOUT_MS)
        assert time.monotonic() - started < FAST_S
        # the connection is as it was: idle, with the caller's own settings
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT current_setting('lock_timeout')") == "0"
        assert await conn.fetchval("SELECT current_setting('statement_timeout')") == "20s"
    finally:
        await conn.close()


def test_psycopg_call_fails_fast(pg_server: TestServer, extension_catalog_locked: None) -> None:
    with psycopg.connect(pg_server.dsn, options=CALLER_OPTIONS) as conn:
        started = time.monotonic()
        with pytest.raises(StatementTimeoutError, match="top_queries_by_total_time"):
            sync_stats.top_queries_by_total_time(conn, timeout_ms=TIMEOUT_MS)
        assert time.monotonic() - started < FAST_S


async def test_http_answers_504_fast(pg_server: TestServer, extension_catalog_locked: None) -> None:
    pool: Any = await asyncpg.create_pool(
        pg_server.dsn, min_size=1, max_size=1, server_settings={"statement_timeout": "20s"}
    )
    try:
        router = create_router(pool, auth=bearer_token(TOKEN))
        async with http_client(router) as client:
            started = time.monotonic()
            r = await client.get(
                f"{PREFIX}/performance/slow-queries",
                params={"min_duration_ms": 0, "timeout_ms": TIMEOUT_MS},
                headers=AUTH,
            )
        assert time.monotonic() - started < FAST_S
        assert r.status_code == 504, r.text
        assert r.headers["content-type"] == "application/problem+json"
    finally:
        await pool.close()

"""The admin router over a SQLAlchemy AsyncEngine survives a lost database connection.

The backend behind the engine's pooled connection is terminated: at most one request
answers 503, the next ones 200. On the asyncpg dialect the router used to answer 503
for good, even with the database back, since SQLAlchemy's pool never learnt that the
connection pgstatkit had used was dead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import sqlalchemy as sa
from http_support import AUTH, PREFIX, TOKEN, http_client
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from harness.servers import TestServer
from pgstatkit.fastapi import bearer_token, create_router

pytestmark = pytest.mark.server


@pytest.fixture(params=["asyncpg", "psycopg"])
async def engine(
    pg_server: TestServer, request: pytest.FixtureRequest
) -> AsyncIterator[AsyncEngine]:
    url = pg_server.dsn.replace("postgresql://", f"postgresql+{request.param}://", 1)
    eng = create_async_engine(url, pool_size=1, max_overflow=0)
    try:
        yield eng
    finally:
        await eng.dispose()


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        pid = (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
    return int(pid)


async def test_router_recovers_after_a_lost_connection(
    engine: AsyncEngine, pg_server: TestServer
) -> None:
    router = create_router(engine, auth=bearer_token(TOKEN))
    url = f"{PREFIX}/performance/database-stats"
    killer = await asyncpg.connect(pg_server.dsn)
    try:
        async with http_client(router) as client:
            assert (await client.get(url, headers=AUTH)).status_code == 200
            pid = await _backend_pid(engine)
            assert await killer.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
            codes = [(await client.get(url, headers=AUTH)).status_code for _ in range(3)]
    finally:
        await killer.close()
    assert codes[0] in (200, 503), codes
    assert codes[1:] == [200, 200], codes

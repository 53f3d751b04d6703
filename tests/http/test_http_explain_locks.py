"""EXPLAIN ANALYZE through the admin router leaves no advisory lock on the pooled connection.

``POST /performance/explain`` with ``analyze`` of ``SELECT pg_advisory_lock(k)``, k being
the key ``install()`` serialises on: the pooled connection behind the router used to
keep that session lock until the pool closed, and every ``install()`` on the server
waited for it. Now the key is free as soon as the request is answered.
"""

from __future__ import annotations

import asyncpg
import pytest
import sqlalchemy as sa
from http_support import AUTH, PREFIX, TOKEN, http_client
from sqlalchemy.ext.asyncio import create_async_engine

from harness.servers import TestServer
from pgstatkit._install import LOCK_KEY
from pgstatkit.fastapi import bearer_token, create_router

pytestmark = pytest.mark.server


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_locking_pgstatkits_key_through_the_router_does_not_block_install(
    pg_server: TestServer, driver: str
) -> None:
    url = pg_server.dsn.replace("postgresql://", f"postgresql+{driver}://", 1)
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    router = create_router(
        engine, auth=bearer_token(TOKEN), enable_explain=True, enable_explain_analyze=True
    )
    body = {"query": f"SELECT pg_advisory_lock({LOCK_KEY})", "analyze": True}
    other = await asyncpg.connect(pg_server.dsn)
    try:
        async with http_client(router) as client:
            r = await client.post(f"{PREFIX}/performance/explain", json=body, headers=AUTH)
            assert r.status_code == 200, r.text
        # install takes pg_advisory_xact_lock(LOCK_KEY): it would wait for the pool
        assert await other.fetchval("SELECT pg_try_advisory_xact_lock($1)", LOCK_KEY) is True
        async with engine.connect() as conn:  # the router's pooled connection
            held = await conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks"
                    " WHERE pid = pg_backend_pid() AND locktype = 'advisory'"
                )
            )
            assert held.scalar() == 0
    finally:
        await other.close()
        await engine.dispose()

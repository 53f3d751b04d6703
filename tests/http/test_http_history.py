"""``GET /performance/history/changes`` and ``/performance/history/timeline`` on real
servers: the registry's routes over pgstatkit.history (the router's database is the
store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from http_support import AUTH, PREFIX, http_client

from harness.servers import TestServer
from pgstatkit import history
from pgstatkit.fastapi import bearer_token, create_router
from pgstatkit.sync import stats as sync_stats

DB = "history_http"
TOKEN = AUTH["Authorization"].removeprefix("Bearer ")


@pytest.fixture
async def pool(pg_server: TestServer) -> AsyncIterator[Any]:
    if pg_server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB}'") != "1":
        pg_server.psql(f"CREATE DATABASE {DB}", dbname="postgres")
        import psycopg

        with psycopg.connect(pg_server.dsn_for(dbname=DB), autocommit=True) as conn:
            sync_stats.install(conn)
    p = await asyncpg.create_pool(pg_server.dsn_for(dbname=DB), min_size=1, max_size=2)
    try:
        yield p
    finally:
        await p.close()


async def test_changes_and_timeline_routes(pg_server: TestServer, pool: Any) -> None:
    await history.snapshot(pool, target="http")
    constants = ", ".join(str(c) for c in range(15))  # a shape of its own
    pg_server.psql(
        f"SELECT g AS http_hist_probe, {constants} FROM generate_series(1, 2) AS g;\n" * 3,
        dbname=DB,
    )
    await history.snapshot(pool, target="http")
    router = create_router(pool, auth=bearer_token(TOKEN))
    async with http_client(router) as client:
        answer = await client.get(
            f"{PREFIX}/performance/history/changes",
            params={"since_s": 600, "target": "http", "limit": 50},
            headers=AUTH,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] in ("complete", "lossy") and body["intervals"] >= 1
        probe = [s for s in body["statements"] if "http_hist_probe" in (s["query"] or "")]
        assert probe and probe[0]["calls"] == 3 and probe[0]["rows"] == 6, body
        queryid = probe[0]["queryid"]
        assert isinstance(queryid, str)  # a 64-bit id is a decimal string in JSON
        series = await client.get(
            f"{PREFIX}/performance/history/timeline",
            params={"queryid": queryid, "since_s": 600, "target": "http"},
            headers=AUTH,
        )
        assert series.status_code == 200, series.text
        assert [i["calls"] for i in series.json()][-1] == 3
        refused = await client.get(
            f"{PREFIX}/performance/history/changes", params={"limit": 0}, headers=AUTH
        )
        assert refused.status_code == 422
        missing = await client.get(f"{PREFIX}/performance/history/timeline", headers=AUTH)
        assert missing.status_code == 422

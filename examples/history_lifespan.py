"""A FastAPI service that collects pgstatkit history in its lifespan.

The lifespan opens an asyncpg pool, makes sure pgstatkit is installed (schema version 3
holds the history tables), and runs :func:`pgstatkit.collector.collect` as a task: one
snapshot of the database every ``interval_s`` seconds (60 in a real service; 1 here), into
the same database. At shutdown it sets the collector's ``stop`` event and waits for it:
a snapshot under way finishes, nothing is half written. A route serves what changed.

    PGSTATKIT_DSN=postgresql://user@host/db python examples/history_lifespan.py

runs a self-test: the app in-process (lifespan included), a few statements, two
snapshots, one request to ``/history/changes``, then shutdown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from pgstatkit import collector, history, stats

INTERVAL_S = 1.0  # 60 in a real service


def build_app(dsn: str) -> FastAPI:
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with asyncpg.create_pool(dsn, min_size=1, max_size=4) as pool:
            async with pool.acquire() as conn:
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                await stats.install(conn)
            stop = asyncio.Event()
            task = asyncio.create_task(
                collector.collect({"app-db": pool}, store=pool, interval_s=INTERVAL_S, stop=stop)
            )
            state["pool"] = pool
            try:
                yield
            finally:
                stop.set()
                await task  # the snapshot under way finishes; none is half written
                print("Collector stopped cleanly.")

    app = FastAPI(lifespan=lifespan)

    @app.get("/history/changes")
    async def changes(minutes: int = 10) -> dict[str, Any]:
        result = await history.changes(
            state["pool"], since=dt.timedelta(minutes=minutes), target="app-db", limit=5
        )
        return {
            "status": result.status,
            "intervals": result.intervals,
            "top": [
                {"queryid": str(s.queryid), "calls": s.calls, "query": s.query}
                for s in result.statements
            ],
        }

    return app


async def _wait_for_snapshots(dsn: str, count: int) -> list[history.Snapshot]:
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(100):  # poll, no fixed sleep
            taken = await history.snapshots(conn, since=dt.timedelta(minutes=5), target="app-db")
            if len(taken) >= count:
                break
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    return taken


async def self_test(dsn: str) -> None:
    app = build_app(dsn)
    async with app.router.lifespan_context(app):
        await _wait_for_snapshots(dsn, 1)  # the baseline
        conn = await asyncpg.connect(dsn)
        try:
            for n in range(10):
                await conn.fetchval("SELECT count(*) FROM generate_series(1, $1::int)", n + 10)
        finally:
            await conn.close()
        taken = await _wait_for_snapshots(dsn, 2)
        print(f"Snapshots taken: {len(taken)} ({', '.join(s.status for s in taken)})")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.get("/history/changes")
            answer.raise_for_status()
            body = answer.json()
        print(f"GET /history/changes: {body['status']}, {body['intervals']} interval(s)")
        assert body["intervals"] >= 1, body
        assert body["top"], body


def main() -> int:
    dsn = os.environ.get("PGSTATKIT_DSN")
    if not dsn:
        print("set PGSTATKIT_DSN to a database with pg_stat_statements preloaded", file=sys.stderr)
        return 2
    asyncio.run(self_test(dsn))
    print("Self-test passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

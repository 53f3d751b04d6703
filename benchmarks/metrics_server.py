"""pgstatkit's metrics endpoint as a service of its own, for benchmarks/metrics.py.

``python benchmarks/metrics_server.py DSN PORT TOP_N``: an asyncpg pool and the admin
router (metrics only) under uvicorn on 127.0.0.1:PORT, as an application would mount
it; the benchmark scrapes ``/performance/metrics`` over HTTP and reads this process's
memory, as for postgres_exporter.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import uvicorn
from fastapi import FastAPI

from pgstatkit.fastapi import create_router


def make_app(dsn: str, top_n: int) -> FastAPI:
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        yield
        await state["pool"].close()  # type: ignore[attr-defined]

    app = FastAPI(lifespan=lifespan)
    router = create_router(
        lambda: state["pool"],
        allow_unauthenticated=True,
        metrics_top_n=top_n,
        enable_explain=False,
    )
    app.include_router(router)
    return app


if __name__ == "__main__":
    dsn, port, top_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    uvicorn.run(make_app(dsn, top_n), host="127.0.0.1", port=port, log_level="warning")

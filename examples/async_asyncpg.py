"""pgstatkit's async API (``pgstatkit.stats``) on an asyncpg pool.

Runs a tiny workload (a ``pg_sleep``, sequential scans, indexed lookups), then prints slow
queries, top queries by total time, low cache hit statements, database, table and index
statistics, and the generic plan of the slowest statement's normalized text.

    pip install "pgstatkit[asyncpg,embedded]"
    python examples/async_asyncpg.py          # starts a throwaway PostgreSQL 18
    PGSTATKIT_DSN=postgresql://postgres@localhost:5432/postgres python examples/async_asyncpg.py

Creates ``pg_stat_statements`` if missing and a table ``example_asyncpg_orders``, which it
drops again at the end.
"""

from __future__ import annotations

import asyncio

import asyncpg
from _server import server_dsn

from pgstatkit import StatementRejectedError, UnsafeQueryError, stats

TABLE = "example_asyncpg_orders"
SETUP = f"""
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (id int PRIMARY KEY, customer int NOT NULL, note text NOT NULL);
INSERT INTO {TABLE} SELECT g, g % 500, md5(g::text) FROM generate_series(1, 50000) AS g;
CREATE INDEX {TABLE}_customer ON {TABLE} (customer);
ANALYZE {TABLE};
"""
MIB = 2**20


def short(text: str | None, width: int = 60) -> str:
    text = " ".join((text or "<not visible to this role>").split())
    return text if len(text) <= width else text[: width - 3] + "..."


async def workload(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(SETUP)
        await conn.fetchval("SELECT pg_sleep(0.3)")
        for _ in range(3):
            await conn.fetchval(f"SELECT count(*) FROM {TABLE} WHERE note LIKE '%abc%'")
        for i in range(1, 21):
            await conn.fetchrow(f"SELECT note FROM {TABLE} WHERE id = $1", i)
        # Table statistics reach the shared views when a backend goes idle; force it now.
        if conn.get_server_version().major >= 15:
            await conn.execute("SELECT pg_stat_force_next_flush()")
        else:
            await asyncio.sleep(1)


async def report(pool: asyncpg.Pool) -> None:
    print("\nSlow queries (mean >= 100 ms):")
    slow = await stats.slow_queries(pool, min_duration_ms=100, limit=5)
    for q in slow:
        print(f"  {q.mean_exec_time_ms:9.1f} ms mean  {q.calls:5d} calls  {short(q.query)}")

    print("\nTop queries by total time:")
    for q in await stats.top_queries_by_total_time(pool, limit=5):
        pct = q.percent_of_total_time or 0.0
        print(f"  {q.total_exec_time_ms:9.1f} ms total {pct:5.1f}%  {short(q.query)}")

    print("\nQueries with a cache hit ratio <= 90%:")
    low = await stats.queries_with_low_cache_hit(pool, max_cache_hit_ratio=0.9, limit=5)
    for q in low:
        print(f"  {q.cache_hit_ratio:6.1%} hit  {q.shared_blks_read:6d} read  {short(q.query)}")
    if not low:
        print("  (none)")

    db = await stats.database_statistics(pool)
    print(
        f"\nDatabase {db.database}: {db.size_bytes / MIB:.1f} MiB, cache hit ratio "
        f"{db.cache_hit_ratio or 0:.1%}, {db.commits} commits, {db.rollbacks} rollbacks"
    )

    print("\nTables (most rows read by sequential scans first):")
    for t in await stats.table_statistics(pool, limit=5):
        print(
            f"  {t.schema}.{t.table}: {t.seq_scan} seq scans, {t.seq_tup_read} rows read, "
            f"{t.n_live_tup} live rows, {t.total_size_bytes / MIB:.1f} MiB"
        )

    print("\nIndexes (unused first):")
    for i in await stats.index_usage(pool, limit=5):
        used = "UNUSED" if i.unused else f"{i.idx_scan} scans"
        print(f"  {i.schema}.{i.index} on {i.table}: {used}, {i.size_bytes / 1024:.0f} KiB")

    # The slowest statement's normalized text ($1 placeholders) gets a generic plan.
    for q in slow:
        try:
            plan = await stats.query_plan(pool, q.query or "")
        except UnsafeQueryError:  # hidden text, or a utility statement (CREATE...)
            continue
        except StatementRejectedError:  # no generic plan, e.g. generate_series($1, $2)
            continue
        print(f"\n{'Generic plan' if plan.generic else 'Plan'} of {short(plan.query)}:")
        print(f"  {plan.node_type}, cost {plan.startup_cost:.2f}..{plan.total_cost:.2f}")
        break


async def main(dsn: str) -> None:
    async with asyncpg.create_pool(dsn, min_size=1, max_size=4) as pool:
        try:
            await workload(pool)
            await report(pool)
        finally:
            await pool.execute(f"DROP TABLE IF EXISTS {TABLE}")


if __name__ == "__main__":
    with server_dsn() as dsn:
        asyncio.run(main(dsn))

"""pgstatkit's blocking API (``pgstatkit.sync.stats``) on a psycopg 3 connection.

The same reports as ``async_asyncpg.py`` through the sync twin: a tiny workload, then slow
queries, top queries, low cache hit statements, database, table and index statistics, and
the generic plan of the slowest statement's normalized text.

    pip install "pgstatkit[psycopg,embedded]"
    python examples/sync_psycopg.py          # starts a throwaway PostgreSQL 18
    PGSTATKIT_DSN=postgresql://postgres@localhost:5432/postgres python examples/sync_psycopg.py

Creates ``pg_stat_statements`` if missing and a table ``example_psycopg_orders``, which it
drops again at the end.
"""

from __future__ import annotations

import time

import psycopg
from _server import server_dsn

from pgstatkit import StatementRejectedError, UnsafeQueryError
from pgstatkit.sync import stats

TABLE = "example_psycopg_orders"
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


def workload(conn: psycopg.Connection) -> None:
    conn.execute(SETUP)
    conn.execute("SELECT pg_sleep(0.3)")
    for _ in range(3):
        conn.execute(f"SELECT count(*) FROM {TABLE} WHERE note LIKE '%abc%'")
    for i in range(1, 21):
        conn.execute(f"SELECT note FROM {TABLE} WHERE id = %s", (i,))
    # Table statistics reach the shared views when a backend goes idle; force it now.
    if conn.info.server_version >= 150000:
        conn.execute("SELECT pg_stat_force_next_flush()")
    else:
        time.sleep(1)


def report(conn: psycopg.Connection) -> None:
    print("\nSlow queries (mean >= 100 ms):")
    slow = stats.slow_queries(conn, min_duration_ms=100, limit=5)
    for q in slow:
        print(f"  {q.mean_exec_time_ms:9.1f} ms mean  {q.calls:5d} calls  {short(q.query)}")

    print("\nTop queries by total time:")
    for q in stats.top_queries_by_total_time(conn, limit=5):
        pct = q.percent_of_total_time or 0.0
        print(f"  {q.total_exec_time_ms:9.1f} ms total {pct:5.1f}%  {short(q.query)}")

    print("\nQueries with a cache hit ratio <= 90%:")
    low = stats.queries_with_low_cache_hit(conn, max_cache_hit_ratio=0.9, limit=5)
    for q in low:
        print(f"  {q.cache_hit_ratio:6.1%} hit  {q.shared_blks_read:6d} read  {short(q.query)}")
    if not low:
        print("  (none)")

    db = stats.database_statistics(conn)
    print(
        f"\nDatabase {db.database}: {db.size_bytes / MIB:.1f} MiB, cache hit ratio "
        f"{db.cache_hit_ratio or 0:.1%}, {db.commits} commits, {db.rollbacks} rollbacks"
    )

    print("\nTables (most rows read by sequential scans first):")
    for t in stats.table_statistics(conn, limit=5):
        print(
            f"  {t.schema}.{t.table}: {t.seq_scan} seq scans, {t.seq_tup_read} rows read, "
            f"{t.n_live_tup} live rows, {t.total_size_bytes / MIB:.1f} MiB"
        )

    print("\nIndexes (unused first):")
    for i in stats.index_usage(conn, limit=5):
        used = "UNUSED" if i.unused else f"{i.idx_scan} scans"
        print(f"  {i.schema}.{i.index} on {i.table}: {used}, {i.size_bytes / 1024:.0f} KiB")

    # The slowest statement's normalized text ($1 placeholders) gets a generic plan.
    for q in slow:
        try:
            plan = stats.query_plan(conn, q.query or "")
        except UnsafeQueryError:  # hidden text, or a utility statement (CREATE...)
            continue
        except StatementRejectedError:  # no generic plan, e.g. generate_series($1, $2)
            continue
        print(f"\n{'Generic plan' if plan.generic else 'Plan'} of {short(plan.query)}:")
        print(f"  {plan.node_type}, cost {plan.startup_cost:.2f}..{plan.total_cost:.2f}")
        break


def main(dsn: str) -> None:
    # autocommit: each workload statement is its own transaction (pgstatkit opens its own;
    # inside an open transaction it would use a savepoint instead).
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            workload(conn)
            report(conn)
        finally:
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")


if __name__ == "__main__":
    with server_dsn() as dsn:
        main(dsn)

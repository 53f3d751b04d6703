"""Health checks (``pgstatkit.sync.stats.health``) on a psycopg 3 connection.

Creates two problems, lets the checks find them, runs the fix each finding suggests, and
checks again:

- a failed ``CREATE UNIQUE INDEX CONCURRENTLY`` (an invalid index);
- a session idle in an open transaction (found with a lowered threshold).

    pip install "pgstatkit[psycopg,embedded]"
    python examples/health_checks.py          # starts a throwaway PostgreSQL 18
    PGSTATKIT_DSN=postgresql://postgres@localhost:5432/postgres python examples/health_checks.py

Creates a table ``example_health`` and drops it again at the end.
"""

from __future__ import annotations

import time

import psycopg
from _server import server_dsn

from pgstatkit.models import HealthReport
from pgstatkit.sync import stats

TABLE = "example_health"
CHECKS = ["invalid_indexes", "idle_in_transaction"]
THRESHOLDS = {"idle_in_transaction_warning_ms": 100}


def show(report: HealthReport) -> None:
    print(f"worst: {report.worst}")
    for f in report.findings:
        print(f"  [{f.severity}] {f.check} {f.object or ''}".rstrip())
        if f.severity != "ok":
            print(f"      {f.explanation}")
            print(f"      fix:  {f.fix}")
            print(f"      risk: {f.risk}")


def main() -> None:
    with server_dsn() as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(f"CREATE TABLE {TABLE} (v int)")
        conn.execute(f"INSERT INTO {TABLE} VALUES (1), (1)")
        try:
            conn.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {TABLE}_v ON {TABLE} (v)")
        except psycopg.errors.UniqueViolation:
            print("CREATE UNIQUE INDEX CONCURRENTLY failed (duplicate values)")
        idle = psycopg.connect(dsn)  # not autocommit: its first statement opens a transaction
        idle.execute("SELECT 1")
        time.sleep(0.2)

        print("Before the fixes:")
        report = stats.health(conn, checks=CHECKS, thresholds=THRESHOLDS)
        show(report)
        for finding in report.problems:
            mine = finding.object == f"public.{TABLE}_v" or finding.object == (
                f"pid {idle.info.backend_pid}"
            )
            if mine and finding.fix:
                print(f"Running: {finding.fix}")
                conn.execute(finding.fix)
        time.sleep(0.2)  # a terminated session leaves pg_stat_activity shortly after

        print("After the fixes:")
        report = stats.health(conn, checks=CHECKS, thresholds=THRESHOLDS)
        show(report)
        idle.close()
        conn.execute(f"DROP TABLE {TABLE}")
        print("All checks ok." if report.worst == "ok" else "Something is left.")


if __name__ == "__main__":
    main()

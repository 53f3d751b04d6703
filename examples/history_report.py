"""A report from history: snapshots around a workload, an index dropped, the regression
found with its statistics, and the report written as terminal text and as HTML.

Installs pgstatkit's helper schema (history needs schema version 3), creates a table
with an index, takes a snapshot, runs a workload, takes another, drops the index, runs
the workload again and takes a third. Then ``regressions()`` compares the last interval
with the one before (Welch's t-test on the mean time, blocks per call), and
``history_report.build`` makes the report; ``render_html`` writes it with its charts
inline (``pip install "pgstatkit[reports]"``).

    pip install "pgstatkit[psycopg,embedded,reports]"
    python examples/history_report.py
    PGSTATKIT_DSN=postgresql://postgres@localhost:5432/postgres python examples/history_report.py
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import psycopg
from _server import server_dsn

from pgstatkit.sync import history, history_report, regressions, stats

TARGET = "example-report"
PROBE = "SELECT count(*) AS example_report_probe FROM example_report_items WHERE k = %s"


def workload(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    with conn.cursor() as cur:
        for i in range(200):
            cur.execute(PROBE, (i * 7 % 5000,))


def main() -> None:
    with server_dsn() as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        stats.install(conn)
        conn.execute("DROP TABLE IF EXISTS example_report_items")
        conn.execute(
            "CREATE TABLE example_report_items AS SELECT g AS id, g % 5000 AS k"
            " FROM generate_series(1, 20000) AS g"
        )
        conn.execute("CREATE INDEX example_report_items_k ON example_report_items (k)")
        conn.execute("ANALYZE example_report_items")
        first = history.snapshot(conn, target=TARGET)
        workload(conn)
        second = history.snapshot(conn, target=TARGET)
        conn.execute("DROP INDEX example_report_items_k")
        workload(conn)
        third = history.snapshot(conn, target=TARGET)
        window = (second.captured_at, third.captured_at)
        baseline = [(first.captured_at, second.captured_at)]

        found = regressions.regressions(conn, window=window, baseline=baseline, target=TARGET)
        for r in found.regressions:
            print(
                f"regression: queryid {r.queryid}: {', '.join(r.regressed)}; mean "
                f"{r.baseline_mean_exec_time_ms:.3f} -> {r.recent_mean_exec_time_ms:.3f} ms, "
                f"p={r.exec_time_p_value:.2g}, {r.baseline_calls} -> {r.recent_calls} calls"
            )

        report = history_report.build(
            conn,
            since=dt.timedelta(hours=1),
            target=TARGET,
            regression_window=window,
            regression_baseline=baseline,
        )
        conn.execute("DROP TABLE example_report_items")
    print(history_report.render_text(report))
    path = Path(tempfile.gettempdir()) / "pgstatkit-example-report.html"
    page = history_report.render_html(report)
    path.write_text(page, encoding="utf-8")
    print(f"HTML report with {page.count('<img ')} charts: {path}")


if __name__ == "__main__":
    main()

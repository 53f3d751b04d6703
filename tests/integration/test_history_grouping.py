"""``history.changes(group_by="fingerprint")`` on every server: the entries of one
query fingerprint, summed over the window like the statement listings sum them.

IN lists of two lengths (separate queryids before PostgreSQL 18, one since) run
between two snapshots become one row whose calls and total time are the entries'
sums and whose mean is the calls-weighted mean.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from harness.servers import TestServer
from pgstatkit.sync import history
from pgstatkit.sync import stats as sync_stats

pytestmark = pytest.mark.server

DB = "pgstatkit_history_grouping"
TARGET = "grouping"
HOUR = dt.timedelta(hours=1)
TEXTS = (
    "SELECT g AS hg_in_probe FROM generate_series(1, 20) AS g WHERE g IN (1, 2)",
    "SELECT g AS hg_in_probe FROM generate_series(1, 20) AS g WHERE g IN (3, 4, 5, 6, 7)",
)


def test_in_lists_of_two_lengths_group_into_one_row(pg_server: TestServer) -> None:
    if pg_server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB}'") != "1":
        pg_server.psql(f"CREATE DATABASE {DB}", dbname="postgres")
        pg_server.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", dbname=DB)
    with psycopg.connect(pg_server.dsn_for(dbname=DB), autocommit=True) as conn:
        sync_stats.install(conn)
        history.snapshot(conn, target=TARGET)
        pg_server.psql(f"{TEXTS[0]};\n" * 3 + f"{TEXTS[1]};\n" * 4, dbname=DB)
        history.snapshot(conn, target=TARGET)
        plain = history.changes(conn, since=HOUR, target=TARGET)
        grouped = history.changes(conn, since=HOUR, target=TARGET, group_by="fingerprint")
        small = history.changes(
            conn, since=HOUR, target=TARGET, group_by="fingerprint", order_by="calls", limit=1
        )
    entries = [s for s in plain.statements if s.query and "hg_in_probe" in s.query]
    rows = [s for s in grouped.statements if s.query and "hg_in_probe" in s.query]
    assert sum(e.calls for e in entries) == 7
    assert len(rows) == 1, [(r.query, r.calls) for r in grouped.statements]
    row = rows[0]
    assert (row.calls, row.rows) == (7, 3 * 2 + 4 * 5)
    assert row.total_exec_time_ms == pytest.approx(sum(e.total_exec_time_ms for e in entries))
    assert row.mean_exec_time_ms == pytest.approx(row.total_exec_time_ms / 7)
    assert row.stddev_exec_time_ms is not None and row.stddev_exec_time_ms >= 0
    assert len(grouped.statements) <= len(plain.statements)
    assert len(small.statements) == 1
    assert small.statements[0].calls == max(s.calls for s in grouped.statements)

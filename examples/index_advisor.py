"""The index advisor and query fingerprints on a small workload.

Builds a table of events, installs pgstatkit (its history tables) and takes a baseline
snapshot, runs a few statements that would each be served by a missing index (plus one
an index serves already), takes a second snapshot, then prints the advisor's
suggestions: the workload they come from (the history window between the snapshots;
without history, the counters since the last reset), the ``CREATE INDEX CONCURRENTLY``
statement, the time it would save per day, whether hypopg validated it (when the
extension exists in the database), and the statements it helps with their
fingerprints. Then the top statements grouped by fingerprint: IN lists of different
lengths are one row.

    pip install "pgstatkit[psycopg,embedded,advisor]"
    python examples/index_advisor.py          # starts a throwaway PostgreSQL 18
    PGSTATKIT_DSN=postgresql://postgres@localhost:5432/postgres python examples/index_advisor.py

Creates ``pg_stat_statements`` if missing, pgstatkit's schema (``stats.install``: its
views and history tables, left in place) and a table ``example_advisor_events``, which
it drops again at the end. It creates no index of the advisor's: it only prints them.
"""

from __future__ import annotations

import psycopg
from _server import server_dsn

from pgstatkit.sync import advisor, history, stats

TABLE = "example_advisor_events"
TARGET = "example-advisor"
SETUP = f"""
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (id int PRIMARY KEY, account_id int NOT NULL, kind text NOT NULL,
                      created_at timestamptz NOT NULL);
INSERT INTO {TABLE}
SELECT g, 1 + g % 400, (ARRAY['click', 'view', 'buy'])[1 + g % 3],
       '2024-01-01'::timestamptz + g * interval '1 minute'
FROM generate_series(1, 60000) AS g;
VACUUM ANALYZE {TABLE};
SELECT pg_stat_reset();
"""


def setup(conn: psycopg.Connection) -> None:
    for statement in SETUP.split(";\n"):  # one by one: VACUUM runs outside a transaction
        if statement.strip():
            conn.execute(statement)


def workload(conn: psycopg.Connection) -> None:
    conn.execute(
        "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database"
        " WHERE datname = current_database()"
    )
    for account in range(1, 11):
        conn.execute(
            f"SELECT id, kind FROM {TABLE} WHERE account_id = {account}"
            " ORDER BY created_at DESC LIMIT 20"
        )
        ids = ", ".join(str(i) for i in range(1, account + 1))
        conn.execute(f"SELECT count(*) FROM {TABLE} WHERE account_id IN ({ids}) AND kind = 'buy'")
        conn.execute(f"SELECT kind FROM {TABLE} WHERE id = {account}")  # the primary key


def main() -> None:
    with server_dsn() as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        setup(conn)
        stats.install(conn)  # the history tables (schema version 3)
        history.snapshot(conn, target=TARGET)  # the baseline: opens the first interval
        workload(conn)
        history.snapshot(conn, target=TARGET)
        # source="auto": the history window (default the last 7 days) of the target,
        # since it has snapshots; without them, the counters since the last reset
        suggestions = advisor.suggest_indexes(conn, max_indexes=3, target=TARGET)
        if suggestions:
            s = suggestions[0]
            span = (s.window_end - s.window_start).total_seconds()
            print(f"Workload: {s.source} ({span:.1f} s between the snapshots)")
        print("Index suggestions:")
        for s in suggestions:
            state = "validated with hypopg" if s.validated else "unvalidated (pg_stats estimate)"
            print(f"  {s.create_statement}")
            print(f"    saves ~{s.time_saved_ms_per_day / 1000:.1f} s/day, {state}")
            for h in s.statements:
                print(f"    helps {h.fingerprint}: {' '.join(h.query.split())[:70]}")
        since_reset = advisor.suggest_indexes(conn, max_indexes=3, source="reset")
        print(f"\nSince the last reset instead: {len(since_reset)} suggestions, source", end=" ")
        print(", ".join(sorted({s.source for s in since_reset})))
        print("\nTop statements grouped by fingerprint:")
        for q in stats.top_queries_by_total_time(conn, limit=5, group_by="fingerprint"):
            print(f"  {q.calls:4d} calls  {' '.join((q.query or '').split())[:70]}")
        conn.execute(f"DROP TABLE {TABLE}")


if __name__ == "__main__":
    main()

"""A periodic report: the statements that took the most time since the previous report.

``pg_stat_statements`` counts since the last reset, so a plain top-N list shows history.
This script takes a snapshot every ``--interval`` seconds and prints, per ``queryid``,
the execution time and calls added since the previous snapshot: what is expensive now.
It uses the blocking API (``pgstatkit.sync.stats``) on a psycopg 3 connection and never
resets the statistics, so it can run next to other monitoring.

    pip install "pgstatkit[psycopg,embedded]"
    python examples/periodic_report.py                          # a short bounded run
    python examples/periodic_report.py --interval 60 --iterations 0   # until Ctrl-C
    PGSTATKIT_DSN=postgresql://postgres@localhost:5432/postgres python examples/periodic_report.py

Without ``PGSTATKIT_DSN`` it starts a throwaway PostgreSQL 18, and with ``--demo-load``
(on by default for the short run) it runs a small workload between snapshots so the
report has something to show.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import psycopg
from _server import server_dsn

from pgstatkit.models import QueryStat
from pgstatkit.sync import stats

SNAPSHOT_LIMIT = 10_000  # pg_stat_statements.max is usually at most this


@dataclass(frozen=True)
class Delta:
    """One statement's activity between two snapshots."""

    query: str
    calls: int
    total_exec_time_ms: float
    rows: int

    @property
    def mean_exec_time_ms(self) -> float:
        return self.total_exec_time_ms / self.calls if self.calls else 0.0


Key = tuple[int | None, str | None, str | None, bool | None]


def key(q: QueryStat) -> Key:
    """An entry is per queryid, user, database and top-level flag."""
    return (q.queryid, q.username, q.database, q.toplevel)


def snapshot(conn: psycopg.Connection) -> dict[Key, QueryStat]:
    rows = stats.top_queries_by_total_time(conn, limit=SNAPSHOT_LIMIT)
    # Another user's statement without pg_read_all_stats has no queryid: skip it.
    return {key(q): q for q in rows if q.queryid is not None}


def deltas(before: dict[Key, QueryStat], after: dict[Key, QueryStat]) -> list[Delta]:
    result = []
    for k, q in after.items():
        old = before.get(k)
        if old is not None and q.calls < old.calls:
            old = None  # the entry was reset or evicted and re-created in between
        calls = q.calls - (old.calls if old else 0)
        if calls <= 0:
            continue
        result.append(
            Delta(
                query=" ".join((q.query or "").split()),
                calls=calls,
                total_exec_time_ms=q.total_exec_time_ms - (old.total_exec_time_ms if old else 0),
                rows=q.rows - (old.rows if old else 0),
            )
        )
    result.sort(key=lambda d: (d.total_exec_time_ms, d.calls), reverse=True)
    return result


def short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def print_report(
    number: int, iterations: int, elapsed_s: float, rows: list[Delta], top: int
) -> None:
    of = f" of {iterations}" if iterations else ""
    print(
        f"\nReport {number}{of}: {elapsed_s:.1f} s, "
        f"{len(rows)} statements with calls since the previous report"
    )
    if not rows:
        print("  (no statements ran)")
        return
    total = sum(d.total_exec_time_ms for d in rows) or 1.0
    print(f"  {'total ms':>10} {'share':>6} {'calls':>7} {'mean ms':>9}  query")
    for d in rows[:top]:
        share = 100 * d.total_exec_time_ms / total
        print(
            f"  {d.total_exec_time_ms:10.1f} {share:5.1f}% {d.calls:7d} "
            f"{d.mean_exec_time_ms:9.2f}  {short(d.query)}"
        )


def demo_load(conn: psycopg.Connection, round_number: int) -> None:
    """A little work between snapshots: one slow statement and a few fast ones."""
    conn.execute("SELECT pg_sleep(%s)", (0.05 * round_number,))
    for i in range(10 * round_number):
        conn.execute("SELECT count(*) FROM generate_series(1, %s)", (1000 + i,))


def main(dsn: str, args: argparse.Namespace) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        before = snapshot(conn)
        started = time.monotonic()
        number = 0
        while args.iterations == 0 or number < args.iterations:
            number += 1
            if args.demo_load:
                demo_load(conn, number)
            time.sleep(args.interval)
            after = snapshot(conn)
            now = time.monotonic()
            print_report(number, args.iterations, now - started, deltas(before, after), args.top)
            before, started = after, now


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between reports (default 1)"
    )
    parser.add_argument(
        "--iterations",
        type=int,
        default=2,
        help="number of reports; 0 = until interrupted (default 2)",
    )
    parser.add_argument("--top", type=int, default=10, help="statements per report (default 10)")
    parser.add_argument(
        "--demo-load",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run a small workload between snapshots (default on)",
    )
    args = parser.parse_args()
    if args.interval <= 0 or args.iterations < 0 or args.top < 1:
        parser.error("--interval must be > 0, --iterations >= 0 and --top >= 1")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    with server_dsn() as dsn:
        try:
            main(dsn, arguments)
        except KeyboardInterrupt:
            print("\nStopped.")

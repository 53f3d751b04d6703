"""History benchmark: pgstatkit.history's snapshots side by side with PoWA, on PostgreSQL 15.

``python benchmarks/history.py`` (``nox -s bench`` runs it after run.py) starts a
throwaway PostgreSQL 15 cluster (Debian's, with ``postgresql-15-powa``), fills
``pg_stat_statements`` with 10,000 distinct statements (benchmarks/workload.py), then for
each interval runs 1,000 of them again (the active ones) and takes a pgstatkit snapshot
and a PoWA snapshot (``powa_take_snapshot()``) of the same interval. It measures:

- time per snapshot: the client's wall time, and the server's (the execution and
  planning time ``pg_stat_statements`` records for the top-level statements each tool
  sent: pgstatkit's carry its marker, PoWA's is ``SELECT powa_take_snapshot()``);
- rows and bytes stored per snapshot (growth of each tool's relations over the
  steady-state intervals; PoWA's also after its aggregation, ``powa_statements_aggregate``
  as ``powa.coalesce`` triggers it);
- a steady-state snapshot against reading the view with its texts
  (``EXPLAIN ANALYZE SELECT * FROM pg_stat_statements``);
- ``history.changes()`` over 24 hours of 1-minute snapshots (1,440 snapshots of 1,000
  rows, synthetic), and its plan;
- exactness across a ``pg_stat_statements_reset()``.

Writes the section between ``<!-- history-bench:begin -->`` and ``<!-- history-bench:end
-->`` of docs/benchmarks.md (before its Findings if missing); ``--output`` writes elsewhere.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql
import workload

from pgstatkit import _history
from pgstatkit.sync import history, stats
from pgstatkit.testing import Cluster, find_installations

ROOT = Path(__file__).resolve().parent.parent
DB = "bench"
BEGIN, END = "<!-- history-bench:begin -->", "<!-- history-bench:end -->"
ENTRIES = 10_000
ACTIVE = 1_000
MARK = "pgstatkit:internal"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def server_ms(conn: psycopg.Connection[Any], pattern: str) -> float:
    """Execution + planning ms pg_stat_statements records for top-level ``pattern``."""
    row = conn.execute(
        "SELECT coalesce(sum(total_exec_time + total_plan_time), 0) FROM pg_stat_statements"
        " WHERE toplevel AND query LIKE %s",
        (pattern,),
    ).fetchone()
    return float(row[0]) if row else 0.0


def relation_bytes(conn: psycopg.Connection[Any], schema: str, like: str) -> int:
    row = conn.execute(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname LIKE %s AND c.relkind IN ('r', 'm')",
        (schema, like),
    ).fetchone()
    return int(row[0]) if row else 0


def rows_of(conn: psycopg.Connection[Any], sql: str) -> int:
    row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def pgstatkit_retained(conn: psycopg.Connection[Any]) -> int:
    """Bytes of what a snapshot keeps: deltas, snapshots, texts, names, database rows
    (not history_state: the working state, one row per entry, rewritten in place)."""
    return relation_bytes(conn, "pgstatkit", "history%") - relation_bytes(
        conn, "pgstatkit", "history_state"
    )


def run(quick: bool) -> dict[str, Any]:
    inst = next(
        (i for i in find_installations() if i.major == 15 and i.has_pg_stat_statements), None
    )
    if inst is None:
        sys.exit("PostgreSQL 15 with pg_stat_statements not found (apt-get install postgresql-15)")
    intervals = 3 if quick else 10
    out: dict[str, Any] = {"server": f"PostgreSQL {inst.version} ({inst.source})"}
    settings = {"pg_stat_statements.max": "12000", "shared_buffers": "128MB"}
    with Cluster(inst, settings=settings) as cluster:
        cluster.psql(f"CREATE DATABASE {DB};")
        workload.create_schema(cluster, DB)
        cluster.psql("CREATE EXTENSION btree_gist; CREATE EXTENSION powa;", dbname=DB)
        cluster.psql("SELECT pg_stat_statements_reset();", dbname=DB)
        start = time.perf_counter()
        workload.fill(cluster, DB, 0, ENTRIES)
        log(f"filled {ENTRIES} statements in {time.perf_counter() - start:.1f} s")
        conn = psycopg.connect(cluster.dsn(DB), autocommit=True)
        stats.install(conn)
        conn.execute("SET powa.coalesce = 100")  # PoWA's default: no aggregation in the run
        out["entries"] = rows_of(conn, "SELECT count(*) FROM pg_stat_statements")
        history.snapshot(conn, target="bench")  # the baseline; also reads every text once
        conn.execute("SELECT powa_take_snapshot()")
        history.snapshot(conn, target="bench")  # pgstatkit's own new statements settle
        conn.execute("SELECT powa_take_snapshot()")
        # in steady state (a snapshot a minute for hours) autovacuum has analyzed the tables
        conn.execute("VACUUM ANALYZE")
        ours: list[dict[str, float]] = []
        theirs: list[dict[str, float]] = []
        ours_bytes0, powa_bytes0 = pgstatkit_retained(conn), relation_bytes(conn, "public", "powa%")
        powa_rows0 = rows_of(conn, "SELECT count(*) FROM powa_statements_history_current")
        for k in range(intervals):
            first = (k * ACTIVE) % ENTRIES
            workload.fill(cluster, DB, first, first + ACTIVE)
            before = server_ms(conn, f"%{MARK}%")
            before_target = server_ms(conn, f"%-- TARGET.%{MARK}%")
            t0 = time.perf_counter()
            snap = history.snapshot(conn, target="bench")
            client = (time.perf_counter() - t0) * 1000
            ours.append(
                {
                    "client_ms": client,
                    "server_ms": server_ms(conn, f"%{MARK}%") - before,
                    "target_ms": server_ms(conn, f"%-- TARGET.%{MARK}%") - before_target,
                    "rows": snap.entries_stored,
                    "texts": snap.texts_read,
                }
            )
            before = server_ms(conn, "%powa_take_snapshot%")
            t0 = time.perf_counter()
            conn.execute("SELECT powa_take_snapshot()")
            client = (time.perf_counter() - t0) * 1000
            theirs.append(
                {"client_ms": client, "server_ms": server_ms(conn, "%powa_take_snapshot%") - before}
            )
        ours_bytes = (pgstatkit_retained(conn) - ours_bytes0) / intervals
        powa_rows = rows_of(conn, "SELECT count(*) FROM powa_statements_history_current")
        powa_bytes = (relation_bytes(conn, "public", "powa%") - powa_bytes0) / intervals
        out["pgstatkit"] = ours
        out["powa"] = theirs
        out["pgstatkit_bytes"] = ours_bytes
        out["powa_bytes"] = powa_bytes
        out["powa_rows"] = (powa_rows - powa_rows0) / intervals
        # PoWA after its aggregation (what powa.coalesce triggers every N snapshots)
        conn.execute("SELECT powa_statements_aggregate(0)")
        conn.execute("SELECT powa_statements_purge(0)")
        conn.execute("VACUUM FULL")
        out["powa_bytes_after_aggregate"] = relation_bytes(conn, "public", "powa%")
        out["pgstatkit_bytes_total"] = pgstatkit_retained(conn)
        out["snapshots_total"] = rows_of(conn, "SELECT count(*) FROM pgstatkit.history_snapshots")
        # steady state against reading the view with its texts, measured as the
        # snapshot is: the time pg_stat_statements records for the statement, rows sent
        for key, sql in (
            ("view_with_texts_ms", "SELECT * FROM pg_stat_statements /* view-read-with */"),
            (
                "view_without_texts_ms",
                "SELECT * FROM pg_stat_statements(false) /* view-read-without */",
            ),
        ):
            pattern = "%" + sql[sql.index("/*") :] + "%"
            runs = []
            for _ in range(5):
                before = server_ms(conn, pattern)
                conn.execute(sql).fetchall()
                runs.append(server_ms(conn, pattern) - before)
            out[key] = statistics.median(runs)
        for key, sql in (
            ("explain_with_texts_ms", "SELECT * FROM pg_stat_statements"),
            ("explain_without_texts_ms", "SELECT * FROM pg_stat_statements(false)"),
        ):
            row = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}").fetchone()
            out[key] = float(row[0][0]["Execution Time"]) if row else 0.0
        out["exactness"] = exactness(cluster, conn)
        out["changes"] = changes_24h(conn, quick)
        conn.close()
    return out


def exactness(cluster: Cluster, conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """A probe run 5 times, snapshot, 4 times, pg_stat_statements_reset(), 3 times,
    snapshot: 12 executions; the 4 between the snapshot and the reset are in no
    snapshot (pgstatkit flags the interval `reset`)."""
    probe = "SELECT count(*) AS exactness_probe, 1, 2, 3, 4, 5, 6, 7 FROM bench_t000"
    queryid = None
    history.snapshot(conn, target="bench")
    conn.execute("SELECT powa_take_snapshot()")
    since = dt.datetime.now(dt.timezone.utc)
    cluster.psql(f"{probe};\n" * 5, dbname=DB)
    history.snapshot(conn, target="bench")
    conn.execute("SELECT powa_take_snapshot()")
    cluster.psql(f"{probe};\n" * 4, dbname=DB)
    conn.execute("SELECT pg_stat_statements_reset()")
    cluster.psql(f"{probe};\n" * 3, dbname=DB)
    snap = history.snapshot(conn, target="bench")
    conn.execute("SELECT powa_take_snapshot()")
    window = history.changes(conn, since=since, target="bench", limit=10_000)
    entry = next(s for s in window.statements if s.query and "exactness_probe" in s.query)
    queryid = entry.queryid
    # PoWA keeps each snapshot's cumulative counters; its delta over a window is the
    # difference of the last and first records (max - min over the window)
    powa = conn.execute(
        "SELECT (record).calls FROM powa_statements_history_current"
        " WHERE queryid = %s ORDER BY (record).ts",
        (queryid,),
    ).fetchall()
    records = [int(r[0]) for r in powa]
    return {
        "executions": 12,
        "pgstatkit_calls": entry.calls,
        "pgstatkit_status": snap.status,
        "powa_records": records,
        "powa_last_minus_first": records[-1] - records[0] if records else None,
        "powa_max_minus_min": max(records) - min(records) if records else None,
    }


def changes_24h(conn: psycopg.Connection[Any], quick: bool) -> dict[str, Any]:
    """1,440 one-minute snapshots of 1,000 rows (synthetic), rolled up into hours
    (``history.roll_up`` until current), then changes() over 24 h; also before the
    roll-ups (every raw row), for comparison."""
    snapshots = 240 if quick else 1440
    conn.execute("INSERT INTO pgstatkit.history_targets (name) VALUES ('synthetic')")
    target_id = rows_of(conn, "SELECT id FROM pgstatkit.history_targets WHERE name = 'synthetic'")
    start = time.perf_counter()
    conn.execute(
        "INSERT INTO pgstatkit.history_snapshots (target_id, captured_at, previous_captured_at,"
        " status, pgss_version, server_version_num, entries_read, entries_stored, entries_new,"
        " entries_recreated, entries_gone)"
        " SELECT %s, now() - make_interval(mins => g), now() - make_interval(mins => g + 1),"
        " 'complete', '1.10', 150000, 10000, 1000, 0, 0, 0"
        " FROM generate_series(0, %s - 1) AS g",
        (target_id, snapshots),
    )
    # the partitions of the days the synthetic snapshots fall in
    history.snapshot(conn, target="synthetic-partitions")
    conn.execute(
        "INSERT INTO pgstatkit.history_statements (snapshot_id, target_id, captured_at, dbid,"
        " userid, queryid, toplevel, recreated, calls, rows, total_exec_time_ms,"
        " exec_time_sumsq, plans, total_plan_time_ms, plan_time_sumsq, shared_blks_hit)"
        " SELECT s.id, s.target_id, s.captured_at, 5, 10, (s.id * 7919 + q) %% 10000, true,"
        " false, 3, 30, 1.5, 0.9, 3, 0.3, 0.04, 12"
        " FROM pgstatkit.history_snapshots s CROSS JOIN generate_series(1, 1000) AS q"
        " WHERE s.target_id = %s",
        (target_id,),
    )
    conn.execute("VACUUM ANALYZE pgstatkit.history_statements")
    filled = time.perf_counter() - start
    rows = rows_of(
        conn, f"SELECT count(*) FROM pgstatkit.history_statements WHERE target_id = {target_id}"
    )

    def timed_changes() -> tuple[list[float], history.HistoryChanges]:
        times = []
        for _ in range(3 if quick else 5):
            t0 = time.perf_counter()
            result = history.changes(
                conn,
                since=dt.timedelta(hours=24),
                target="synthetic",
                limit=100,
                timeout_ms=60_000,
            )
            times.append((time.perf_counter() - t0) * 1000)
        return times, result

    raw_times, raw_result = timed_changes()  # no roll-up yet: every raw row
    # the roll-ups, as the snapshots would have written them hour by hour
    t0 = time.perf_counter()
    runs = buckets = hourly = 0
    while True:
        (done,) = history.roll_up(conn, target="synthetic", timeout_ms=60_000)
        runs, buckets, hourly = runs + 1, buckets + done.buckets, hourly + done.rows_written
        if not done.pending:
            break
    rolled_s = time.perf_counter() - t0
    conn.execute("ANALYZE pgstatkit.history_statements_hourly")
    times, result = timed_changes()
    assert result.intervals >= snapshots - 1, result.intervals  # the edge minute
    assert [(s.queryid, s.calls) for s in result.statements] == [
        (s.queryid, s.calls) for s in raw_result.statements
    ]
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=24)
    conn.execute("SET work_mem = '64MB'")
    conn.execute("SET jit = off")
    conn.execute(
        "PREPARE changes_24h AS " + _history.changes_query("pgstatkit", "total_exec_time_ms")
    )
    # EXECUTE takes no bound parameter: the time as a literal
    plan = conn.execute(
        psycopg.sql.SQL(
            "EXPLAIN (ANALYZE, COSTS OFF)"
            " EXECUTE changes_24h('synthetic', {}, now(), 100, false, NULL, NULL)"
        ).format(psycopg.sql.Literal(since))
    ).fetchall()
    conn.execute("DEALLOCATE changes_24h")
    conn.execute("RESET work_mem")
    conn.execute("RESET jit")
    return {
        "snapshots": snapshots,
        "rows": rows,
        "fill_s": filled,
        "raw_median_ms": statistics.median(raw_times),
        "rollup_s": rolled_s,
        "rollup_runs": runs,
        "buckets": buckets,
        "hourly_rows": hourly,
        "median_ms": statistics.median(times),
        "times_ms": times,
        "plan": [r[0] for r in plan],
    }


def render(r: dict[str, Any]) -> str:
    ours, theirs = r["pgstatkit"], r["powa"]
    o_client = statistics.median(x["client_ms"] for x in ours)
    o_server = statistics.median(x["server_ms"] for x in ours)
    p_client = statistics.median(x["client_ms"] for x in theirs)
    p_server = statistics.median(x["server_ms"] for x in theirs)
    o_rows = statistics.median(x["rows"] for x in ours)
    ex = r["exactness"]
    ch = r["changes"]
    time_ratio = o_server / p_server if p_server else float("nan")
    byte_ratio = r["pgstatkit_bytes"] / r["powa_bytes"] if r["powa_bytes"] else float("nan")
    o_target = statistics.median(x["target_ms"] for x in ours)
    view = r["view_with_texts_ms"]
    view_ratio = o_target / view if view else float("nan")
    whole_ratio = o_server / view if view else float("nan")
    lines = [
        BEGIN,
        "## History snapshots, side by side with PoWA",
        "",
        f"`python benchmarks/history.py` on {r['server']}: {r['entries']:,} entries in"
        f" `pg_stat_statements`, {ACTIVE:,} of them run again in each interval; one pgstatkit"
        " snapshot (`history.snapshot`, the store is the same database) and one PoWA snapshot"
        f" (`powa_take_snapshot()`, PoWA 4.1) per interval, {len(ours)} intervals, medians."
        " Server time: execution + planning time `pg_stat_statements` recorded for the"
        " tool's top-level statements.",
        "",
        "| per snapshot | pgstatkit | PoWA | pgstatkit / PoWA | goal |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| client time | {o_client:.1f} ms | {p_client:.1f} ms | {o_client / p_client:.2f} | |",
        f"| server time | {o_server:.1f} ms | {p_server:.1f} ms | {time_ratio:.2f} | <= 0.20 |",
        f"| rows stored | {o_rows:,.0f} | {r['powa_rows']:,.0f} | | |",
        f"| bytes stored | {r['pgstatkit_bytes'] / 1e3:,.0f} kB | {r['powa_bytes'] / 1e3:,.0f} kB"
        f" | {byte_ratio:.3f} | <= 0.10 |",
        "",
        "- Steady-state snapshot against reading the view with texts, both measured the"
        " same way (the time `pg_stat_statements` records for the statements, rows sent to"
        f" the client included): `SELECT * FROM pg_stat_statements` costs {view:.1f} ms"
        f" (without texts: {r['view_without_texts_ms']:.1f} ms). The snapshot's statements"
        f" on the target (the `-- TARGET.` blocks of sql/queries/history.sql) cost"
        f" {o_target:.1f} ms: ratio {view_ratio:.2f} (goal <= 0.5), what the monitored"
        " server pays when the store is another server; with the store in the same"
        f" database, as here, the whole snapshot costs {o_server:.1f} ms: ratio"
        f" {whole_ratio:.2f}: the store's part is the write of the ~1,000 delta rows (a"
        " daily partition, two indexes) and of the ~1,000 state rows, with their WAL, and"
        " the read of the store's hashes; it is the price of exact deltas kept sparse, and"
        " a store on another server takes it off the monitored one."
        " `EXPLAIN ANALYZE` of the two reads (no rows sent):"
        f" {r['explain_with_texts_ms']:.1f} ms and {r['explain_without_texts_ms']:.1f} ms."
        " The target's part is one pass over `pg_stat_statements(false)`: each entry is"
        " hashed (key, calls, plans, stats_since) and looked up among the store's hashes;"
        " only the ~1,000 that moved are sent, as JSON; the store computes the deltas"
        " against its state by primary key."
        " A snapshot reads the text file only when statements without a stored text"
        " appeared (texts read per snapshot:"
        f" {', '.join(str(x['texts']) for x in ours)}: the new ones are PoWA's and"
        " pgstatkit's own first statements of a kind).",
        f"- PoWA after its aggregation (`powa_statements_aggregate`, what `powa.coalesce`"
        f" triggers, then purge and `VACUUM FULL`): its relations hold"
        f" {r['powa_bytes_after_aggregate'] / 1e6:.1f} MB in all; pgstatkit's retained"
        f" history for the {r['snapshots_total']} snapshots of the run:"
        f" {r['pgstatkit_bytes_total'] / 1e6:.1f} MB, most of it the {r['entries']:,} texts"
        " read once at the baseline (`history_state`, one row per entry, not counted: it"
        " is rewritten, not appended).",
        f"- Exactness across `pg_stat_statements_reset()`: a statement ran {ex['executions']}"
        " times (5, snapshot, 4, reset, 3, snapshot). pgstatkit: "
        f"{ex['pgstatkit_calls']} calls, the interval flagged `{ex['pgstatkit_status']}` (the"
        " 4 between the snapshot and the reset are in no snapshot; nothing is counted twice,"
        " nothing is negative). PoWA's cumulative records for it:"
        f" {ex['powa_records']}: last - first = {ex['powa_last_minus_first']}, max - min ="
        f" {ex['powa_max_minus_min']}.",
        f"- `history.changes()` over 24 hours of 1-minute snapshots ({ch['snapshots']:,}"
        f" snapshots, {ch['rows']:,} delta rows of one target, synthetic): median"
        f" {ch['median_ms']:.0f} ms with the hourly roll-ups (goal < 1 s); summing every"
        f" raw row instead (before the roll-ups): {ch['raw_median_ms']:.0f} ms. Rolling"
        f" the day up took {ch['rollup_s']:.1f} s for {ch['buckets']} hour buckets"
        f" ({ch['rollup_s'] * 1000 / max(ch['buckets'], 1):.0f} ms per hour of 60,000 delta"
        f" rows, {ch['hourly_rows']:,} hourly rows, {ch['rollup_runs']} runs of at most 24"
        " hours): what each snapshot that closes an hour adds. Plan of the query:",
        "",
        "```{ .text .wrap }",  # a plan's lines are wider than the page
        *ch["plan"],
        "```",
        "",
        "Where the time goes: per target, the window is read in three parts whose sums"
        " compose: the raw deltas from `since` to the first whole hour, the hourly roll-ups"
        " (`history_statements_hourly`, one row per entry and closed hour, written by the"
        " snapshot that closes the hour) up to the roll-up frontier or the last whole hour of"
        " the window, and the raw deltas after that. Over a day that is at most two hours of"
        " raw rows (index ranges on the edge partitions) and 22-24 hourly buckets, here about"
        " 10,000 rows each (every one of the 10,000 entries moves in some minute of an"
        " hour), instead of 1.44 million raw rows; the 41 aggregates then run over about a"
        " fifth of the rows, in one hash aggregate in memory (`work_mem` 64 MB, no JIT)."
        " Texts and names are joined to the 10,000 aggregated rows only. The sums are those"
        " of the raw rows (the tests compare both); `timeline()` still reads raw rows.",
        END,
    ]
    return "\n".join(lines) + "\n"


def write(section: str, path: Path) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + section.rstrip("\n") + tail
    elif "## Findings" in text:  # before the Findings, which end the page (findings.py)
        head, _, tail = text.partition("## Findings")
        text = head.rstrip("\n") + "\n\n" + section + "\n## Findings" + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer intervals and snapshots")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    result = run(args.quick)
    section = render(result)
    write(section, args.output)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``pgstatkit snapshot / changes / timeline / collect / prune`` on real servers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from cli_support import clean_env, ok, run_cli

from harness.servers import TestServer

DB = "history_cli"
STORE = "history_cli_store"


@pytest.fixture(scope="module")
def hist(pg_server: TestServer) -> TestServer:
    for name in (DB, STORE):
        if pg_server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
            pg_server.psql(f"CREATE DATABASE {name}", dbname="postgres")
        ok(run_cli("install", "--dsn", pg_server.dsn_for(dbname=name)))
    return pg_server


def _probe(server: TestServer, times: int) -> None:
    constants = ", ".join(str(c) for c in range(14))  # a shape of its own
    sql = f"SELECT g AS cli_hist_probe, {constants} FROM generate_series(1, 3) AS g;"
    server.psql("\n".join([sql] * times), dbname=DB)


def test_snapshot_changes_timeline_prune(hist: TestServer) -> None:
    dsn = hist.dsn_for(dbname=DB)
    first = json.loads(ok(run_cli("snapshot", "--dsn", dsn, "--target", "cli", "--format", "json")))
    assert first["status"] in ("baseline", "complete", "lossy")
    _probe(hist, 4)
    second = json.loads(
        ok(run_cli("snapshot", "--dsn", dsn, "--target", "cli", "--format", "json"))
    )
    assert second["previous_captured_at"] == first["captured_at"]
    out = json.loads(
        ok(run_cli("changes", "--dsn", dsn, "--since", "5m", "--target", "cli", "--format", "json"))
    )
    assert out["intervals"] >= 1
    probe = [s for s in out["statements"] if "cli_hist_probe" in (s["query"] or "")]
    assert probe and probe[0]["calls"] >= 4 and probe[0]["rows"] == 3 * probe[0]["calls"]
    table = ok(run_cli("changes", "--dsn", dsn, "--since", "5m", "--target", "cli"))
    assert "status " in table and "complete" in table and "cli_hist_probe" in table
    markdown = ok(run_cli("changes", "--dsn", dsn, "--since", "1h", "--format", "markdown"))
    assert markdown.startswith("## Changes of every target")
    queryid = probe[0]["queryid"]
    series = json.loads(
        ok(
            run_cli(
                "timeline",
                "--dsn",
                dsn,
                "--queryid",
                str(queryid),
                "--since",
                "1h",
                "--target",
                "cli",
                "--format",
                "json",
            )
        )
    )
    assert sum(i["calls"] for i in series) == probe[0]["calls"]
    pruned = json.loads(ok(run_cli("prune", "--dsn", dsn, "--keep", "1d", "--format", "json")))
    assert pruned["snapshots_deleted"] == 0
    assert pruned["hourly_rows_deleted"] >= 0
    rolled = json.loads(
        ok(
            run_cli(
                "roll-up", "--dsn", dsn, "--target", "cli", "--until-current", "--format", "json"
            )
        )
    )
    assert [(r["target"], r["pending"], r["skipped"]) for r in rolled] == [("cli", False, False)]
    assert rolled[0]["rolled_up_until"] is not None
    assert "rolled up until" in ok(run_cli("roll-up", "--dsn", dsn))
    bad = run_cli("roll-up", "--dsn", dsn, "--max-buckets", "0")
    assert bad.returncode == 2 and "--max-buckets: must be an int from 1 to 744" in bad.stderr
    bad = run_cli("changes", "--dsn", dsn, "--since", "yesterday")
    assert bad.returncode == 2 and "neither a span" in bad.stderr


def _newest_only(server: TestServer) -> None:
    """The loop and its signals do not depend on the server version: one server is
    enough (test time)."""
    if server.major < 18:
        pytest.skip("collect's loop and signals are tested on PostgreSQL 18 only")


def test_collect_two_targets_into_one_store(hist: TestServer) -> None:
    _newest_only(hist)
    store = hist.dsn_for(dbname=STORE)
    proc = run_cli(
        "collect",
        "--interval",
        "1",
        "--jitter",
        "0",
        "--count",
        "2",
        "--target",
        f"one={hist.dsn_for(dbname=DB)}",
        "--target",
        f"two={store}",
        "--store",
        store,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    with psycopg.connect(store) as conn:
        counts = dict(
            conn.execute(
                "SELECT t.name, count(*) FROM pgstatkit.history_snapshots s"
                " JOIN pgstatkit.history_targets t ON t.id = s.target_id"
                " WHERE t.name IN ('one', 'two') GROUP BY t.name"
            ).fetchall()
        )
    assert counts["one"] >= 2 and counts["two"] >= 2, (counts, proc.stderr)


def test_sigterm_in_the_middle_of_a_snapshot_stops_cleanly(hist: TestServer) -> None:
    _newest_only(hist)
    store = hist.dsn_for(dbname=STORE)
    with psycopg.connect(store) as blocker:
        # the snapshot's first step reads history_state: it waits behind this lock
        blocker.execute("LOCK TABLE pgstatkit.history_state IN ACCESS EXCLUSIVE MODE")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pgstatkit",
                "collect",
                "--interval",
                "1",
                "--jitter",
                "0",
                "--lock-timeout-ms",
                "20000",
                "--target",
                f"sigterm={hist.dsn_for(dbname=DB)}",
                "--store",
                store,
            ],
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            with psycopg.connect(store, autocommit=True) as watcher:
                for _ in range(200):
                    waiting = watcher.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name ="
                        " 'pgstatkit collect' AND wait_event_type = 'Lock'"
                    ).fetchone()
                    if waiting and waiting[0]:
                        break
                    time.sleep(0.05)
                else:
                    pytest.fail("the collector never waited on the lock")
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            assert proc.poll() is None  # the snapshot under way is not abandoned
        finally:
            blocker.rollback()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in err
    with psycopg.connect(store) as conn:
        rows = conn.execute(
            "SELECT s.id, s.entries_stored, (SELECT count(*) FROM pgstatkit.history_statements h"
            " WHERE h.snapshot_id = s.id), EXISTS (SELECT FROM pgstatkit.history_databases d"
            " WHERE d.snapshot_id = s.id)"
            " FROM pgstatkit.history_snapshots s JOIN pgstatkit.history_targets t"
            " ON t.id = s.target_id WHERE t.name = 'sigterm'"
        ).fetchall()
    assert len(rows) == 1, rows  # the one snapshot under way was finished, nothing more
    assert all(stored == found and has_db for _, stored, found, has_db in rows), rows

"""The command line against the test clusters (a subprocess per call)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cli_support import CLI_DB, dsn, ok, run_cli

from harness.servers import TestServer
from pgstatkit.models import (
    DatabaseStatistics,
    IndexUsage,
    QueryPlan,
    QueryStat,
    SetupFinding,
    TableStatistics,
)


def keys(model: type) -> set[str]:
    return {f.name for f in dataclasses.fields(model)}


LIST_COMMANDS = [
    (["slow", "--min-duration-ms", "50"], QueryStat),
    (["top"], QueryStat),
    (["low-cache", "--max-cache-hit-ratio", "1"], QueryStat),
    (["tables"], TableStatistics),
    (["indexes"], IndexUsage),
]


@pytest.mark.parametrize(("args", "model"), LIST_COMMANDS, ids=lambda v: str(v))
def test_json_lists_are_the_models_dicts(
    cli_server: TestServer, args: list[str], model: type
) -> None:
    rows = json.loads(ok(run_cli(*args, "--format", "json", "--dsn", dsn(cli_server))))
    assert isinstance(rows, list)
    assert rows
    assert all(set(r) == keys(model) for r in rows)


def test_json_findings(cli_server: TestServer) -> None:
    slow = json.loads(
        ok(run_cli("slow", "--min-duration-ms", "50", "--format", "json", "--dsn", dsn(cli_server)))
    )
    assert any("pg_sleep" in r["query"] for r in slow)
    tables = json.loads(ok(run_cli("tables", "--format", "json", "--dsn", dsn(cli_server))))
    assert tables[0]["table"] == "cli_big"
    indexes = json.loads(
        ok(run_cli("indexes", "--unused", "--format=json", "--dsn", dsn(cli_server)))
    )
    assert [i["index"] for i in indexes] == ["cli_big_payload_unused"]


def test_json_db_doctor_report_explain(cli_server: TestServer) -> None:
    db = json.loads(ok(run_cli("db", "--format", "json", "--dsn", dsn(cli_server))))
    assert set(db) == keys(DatabaseStatistics)
    doctor = json.loads(ok(run_cli("doctor", "--format", "json", "--dsn", dsn(cli_server))))
    assert doctor["ok"] is True
    assert all(set(f) == keys(SetupFinding) for f in doctor["findings"])
    report = json.loads(
        ok(
            run_cli(
                "report", "--min-duration-ms", "50", "--format", "json", "--dsn", dsn(cli_server)
            )
        )
    )
    listings = {
        "setup",
        "database",
        "health",
        "slow_queries",
        "top_queries_by_total_time",
        "queries_with_low_cache_hit",
        "table_statistics",
        "index_usage",
    }
    # sections of the subsystems that are present: the advisor (its extra is in the test
    # extra) and the health checks
    assert listings | {"suggest_indexes"} <= set(report) <= listings | {"suggest_indexes", "health"}
    assert set(report["slow_queries"][0]) == keys(QueryStat)
    assert report["health"]["checks"][0] == "unused_indexes"
    plan = json.loads(
        ok(
            run_cli(
                "explain",
                "SELECT * FROM cli_big WHERE id = $1",
                "--param",
                "5",
                "--analyze",
                "--format",
                "json",
                "--dsn",
                dsn(cli_server),
            )
        )
    )
    assert set(plan) == keys(QueryPlan)
    assert plan["analyzed"] is True


ALL_VIEWS = [
    ["report", "--min-duration-ms", "50"],
    ["slow", "--min-duration-ms", "50"],
    ["top"],
    ["low-cache", "--max-cache-hit-ratio", "1"],
    ["db"],
    ["tables"],
    ["indexes"],
    ["doctor"],
    ["explain", "SELECT count(*) FROM cli_big WHERE id % 7 = 3"],
]


@pytest.mark.parametrize("args", ALL_VIEWS, ids=lambda v: v[0])
@pytest.mark.parametrize("columns", [80, 120])
def test_table_output_fits_the_terminal(
    cli_server: TestServer, args: list[str], columns: int
) -> None:
    out = ok(run_cli(*args, "--dsn", dsn(cli_server), columns=columns))
    assert out.strip()
    too_wide = [line for line in out.splitlines() if len(line) > columns]
    # The recommended postgresql.conf lines are copied verbatim, never cut.
    assert all(" = '" in line for line in too_wide), too_wide


@pytest.mark.parametrize("args", ALL_VIEWS, ids=lambda v: v[0])
def test_markdown_output(cli_server: TestServer, args: list[str]) -> None:
    out = ok(run_cli(*args, "--format", "markdown", "--dsn", dsn(cli_server)))
    if args[0] in ("slow", "top", "low-cache", "tables", "indexes", "report", "db"):
        lines = out.splitlines()
        separators = [i for i, line in enumerate(lines) if line.startswith("| ---")]
        assert separators
        for i in separators:
            assert lines[i - 1].startswith("| ")
            assert lines[i - 1].count(" | ") == lines[i].count(" | ")
    else:
        assert "```" in out


def test_table_names_the_findings(cli_server: TestServer) -> None:
    out = ok(run_cli("report", "--min-duration-ms", "50", "--dsn", dsn(cli_server), columns=120))
    assert "SELECT pg_sleep(" in out
    assert "public.cli_big" in out
    assert "cli_big_payload_unused" in out
    assert "UNUSED" in out


def test_database_url_is_used(cli_server: TestServer) -> None:
    out = ok(run_cli("db", env={"DATABASE_URL": dsn(cli_server)}))
    assert CLI_DB in out


def test_database_without_extension(pg_server: TestServer) -> None:
    target = pg_server.dsn_for(dbname=pg_server.no_extension_db)
    proc = run_cli("slow", "--dsn", target)
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert "pgstatkit install" in line
    # The report still shows what needs no extension, and exits 4.
    proc = run_cli("report", "--dsn", target)
    assert proc.returncode == 4
    assert "Tables" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_doctor_without_preload(pg_server_no_preload: TestServer) -> None:
    proc = run_cli("doctor", "--dsn", pg_server_no_preload.dsn)
    assert proc.returncode == 7, proc.stderr
    assert "[ERROR  ] shared_preload_libraries" in proc.stdout
    assert "shared_preload_libraries = 'pg_stat_statements'" in proc.stdout
    proc = run_cli("slow", "--dsn", pg_server_no_preload.dsn)
    assert proc.returncode == 4
    assert "shared_preload_libraries" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_explain_refuses_two_statements(cli_server: TestServer) -> None:
    proc = run_cli("explain", "SELECT 1; DROP TABLE cli_big", "--dsn", dsn(cli_server))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1


def _calls(server: TestServer, pattern: str) -> str:
    return server.psql(
        f"SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE '{pattern}'",
        dbname=CLI_DB,
    )


def test_reset_needs_yes(cli_server: TestServer) -> None:
    marker = "/* cli-reset-test */"
    # Its own shape (pg_stat_statements keeps a queryid's first text: a bare SELECT 42
    # would share the entry of any earlier SELECT <constant>).
    cli_server.psql(f"SELECT pg_catalog.int4larger(42, 43) {marker};", dbname=CLI_DB)
    pattern = f"SELECT pg_catalog.int4larger($1, $2) {marker}"
    queryid = cli_server.psql(
        f"SELECT queryid FROM pg_stat_statements WHERE query = '{pattern}'", dbname=CLI_DB
    ).splitlines()[0]
    proc = run_cli("reset", "--queryid", queryid, "--dsn", dsn(cli_server))
    assert proc.returncode == 8
    assert "--yes" in proc.stderr
    assert _calls(cli_server, pattern) != "0"
    proc = run_cli(
        "reset", "--queryid", queryid, "--yes", "--format", "json", "--dsn", dsn(cli_server)
    )
    assert json.loads(ok(proc))["reset"] is True
    assert _calls(cli_server, pattern) == "0"


def test_install_and_uninstall(pg_server: TestServer) -> None:
    db = "pgstatkit_cli_install"
    pg_server.psql(f"DROP DATABASE IF EXISTS {db}", dbname="postgres")
    pg_server.psql(f"CREATE DATABASE {db}", dbname="postgres")
    target = pg_server.dsn_for(dbname=db)
    schema_exists = "SELECT count(*) FROM pg_namespace WHERE nspname = 'perf'"
    out = ok(run_cli("install", "--schema", "perf", "--dsn", target))
    assert "installed" in out
    assert pg_server.psql(schema_exists, dbname=db) == "1"
    assert json.loads(
        ok(run_cli("doctor", "--schema", "perf", "--format", "json", "--dsn", target))
    )["ok"]
    proc = run_cli("uninstall", "--schema", "perf", "--dsn", target)
    assert proc.returncode == 8
    assert pg_server.psql(schema_exists, dbname=db) == "1"
    ok(run_cli("uninstall", "--schema", "perf", "--yes", "--dsn", target))
    assert pg_server.psql(schema_exists, dbname=db) == "0"
    pg_server.psql(f"DROP DATABASE {db}", dbname="postgres")


def test_demo_waits_until_a_finished_sessions_statistics_show(cli_server: TestServer) -> None:
    import psycopg

    from pgstatkit.cli._demo import wait_for_table_stats

    cli_server.psql(
        "DROP TABLE IF EXISTS cli_wait; CREATE TABLE cli_wait AS SELECT g FROM "
        "generate_series(1, 1000) AS g",
        dbname=CLI_DB,
    )
    with psycopg.connect(dsn(cli_server), autocommit=True) as conn:
        for _ in range(5):
            conn.execute("SELECT count(*) FROM cli_wait")
    # The session has ended, but its counts may not have reached the shared statistics.
    with psycopg.connect(dsn(cli_server), autocommit=True) as conn:
        assert wait_for_table_stats(conn, {"cli_wait": {"seq_scan": 5, "n_tup_ins": 0}})
        row = conn.execute(
            "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'cli_wait'"
        ).fetchone()
        assert row is not None
        assert row[0] >= 5
        assert not wait_for_table_stats(conn, {"cli_wait": {"seq_scan": 10**9}}, timeout_s=0.2)

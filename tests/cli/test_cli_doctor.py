"""``pgstatkit doctor``: special values in words, and a fix on every problem.

``log_min_duration_statement = -1`` is "disabled", not "-1ms"; every finding that is
not ok says how to fix it, in JSON (``fix``) and in the table (a ``fix:`` line in its
block). Settings are changed with ALTER SYSTEM on a private cluster.
"""

from __future__ import annotations

import json

from cli_support import ok, run_cli

from harness.servers import TestServer
from pgstatkit.testing import Cluster


def doctor(dsn: str) -> tuple[str, dict[str, object]]:
    table = run_cli("doctor", "--dsn", dsn, columns=200)
    assert table.returncode in (0, 7), table.stderr
    assert "Traceback" not in table.stderr
    data = json.loads(run_cli("doctor", "--format", "json", "--dsn", dsn).stdout)
    return table.stdout, data


def blocks(table: str) -> list[list[str]]:
    """The finding blocks of the table output: a "[SEVERITY] check: found" line and the
    indented lines under it."""
    found: list[list[str]] = []
    for line in table.split("Recommended postgresql.conf")[0].splitlines():
        if line.startswith("["):
            found.append([line])
        elif found and line.startswith(" "):
            found[-1].append(line)
    return found


def assert_every_problem_has_its_fix(table: str, data: dict[str, object]) -> None:
    findings = data["findings"]
    assert isinstance(findings, list)
    problems = [f for f in findings if f["severity"] != "ok"]
    assert problems
    for finding in problems:
        assert finding["fix"], finding
    for block in blocks(table):
        if not block[0].startswith("[OK"):
            assert any(line.strip().startswith("fix: ") for line in block[1:]), block


def set_setting(cluster: Cluster, name: str, value: str) -> None:
    cluster.psql(f"ALTER SYSTEM SET {name} = {value}", dbname="postgres")
    cluster.psql("SELECT pg_reload_conf()", dbname="postgres")


def test_minus_one_is_disabled_and_zero_logs_everything(private_server: Cluster) -> None:
    set_setting(private_server, "log_min_duration_statement", "-1")
    table, data = doctor(private_server.dsn())
    assert "log_min_duration_statement: disabled" in table
    assert "-1ms" not in table + json.dumps(data)
    set_setting(private_server, "log_min_duration_statement", "0")
    table, _ = doctor(private_server.dsn())
    assert "log_min_duration_statement: 0ms (every statement is logged)" in table


def test_every_problem_has_its_fix_fresh_server(private_server: Cluster) -> None:
    # Preloaded but nothing created, defaults everywhere else: the extension, views,
    # evictions, logging and log_line_prefix findings.
    set_setting(private_server, "track_io_timing", "off")
    assert_every_problem_has_its_fix(*doctor(private_server.dsn()))


def test_every_problem_has_its_fix_without_preload(pg_server_no_preload: TestServer) -> None:
    assert_every_problem_has_its_fix(*doctor(pg_server_no_preload.dsn))


def test_every_problem_has_its_fix_old_extension(pg_server: TestServer) -> None:
    db = "pgstatkit_cli_doctor_old"
    pg_server.psql(f"DROP DATABASE IF EXISTS {db}", dbname="postgres")
    pg_server.psql(f"CREATE DATABASE {db}", dbname="postgres")
    try:
        pg_server.psql("CREATE EXTENSION pg_stat_statements VERSION '1.8'", dbname=db)
        table, data = doctor(pg_server.dsn_for(dbname=db))
        assert_every_problem_has_its_fix(table, data)
        assert "evictions" in ok(run_cli("doctor", "--dsn", pg_server.dsn_for(dbname=db)))
    finally:
        pg_server.psql(f"DROP DATABASE IF EXISTS {db}", dbname="postgres")

"""Every exit code with a server-side cause, on the real servers; errors speak CLI.

pgstatkit's exception messages are written for the Python API (``timeout_ms``,
``query_plan``, ``stats.install(conn)``, ``params=[...]``); the command line maps them by
exception class to its own words (``--timeout-ms``, ``pgstatkit explain``, ``pgstatkit
install``, ``--param``). A statement timeout is forced with ``--timeout-ms 1`` on
``pg_sleep``; a lost connection by a statement that terminates its own backend.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from cli_support import CLI_DB, UNREACHABLE, dsn, run_cli

from harness.servers import TestServer

# Words of the Python API that must never reach a CLI user.
API_WORDS = re.compile(
    r"\btimeout_ms\b|\bquery_plan\b|stats\.|\(conn\)|params=|analyze=|check_setup|"
    r"reset_query_statistics|\binstall\(|\buninstall\("
)


def one_error_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("pgstatkit: error: "), line
    assert not API_WORDS.search(line), line
    return line


# ---- 6: statement timeout ---------------------------------------------------------------


def test_statement_timeout_is_exit_6_and_names_the_option(cli_server: TestServer) -> None:
    proc = run_cli(
        "explain", "--analyze", "SELECT pg_sleep(1)", "--timeout-ms", "1", "--dsn", dsn(cli_server)
    )
    line = one_error_line(proc, 6)
    assert "pgstatkit explain" in line
    assert "--timeout-ms 1" in line
    assert "raise --timeout-ms" in line


# ---- 5: insufficient privilege ----------------------------------------------------------


def test_reset_without_the_grant_is_exit_5(cli_server: TestServer) -> None:
    target = cli_server.dsn_for(dbname=CLI_DB, user=cli_server.plain_role)
    line = one_error_line(run_cli("reset", "--yes", "--dsn", target), 5)
    assert "permission denied" in line
    assert "pgstatkit reset needs a superuser or `GRANT EXECUTE ON FUNCTION" in line
    assert cli_server.plain_role in line


def test_explain_of_a_table_the_role_may_not_read_is_exit_5(cli_server: TestServer) -> None:
    cli_server.psql(
        "CREATE TABLE IF NOT EXISTS cli_secret (x int); REVOKE ALL ON cli_secret FROM PUBLIC",
        dbname=CLI_DB,
    )
    target = cli_server.dsn_for(dbname=CLI_DB, user=cli_server.plain_role)
    line = one_error_line(run_cli("explain", "SELECT x FROM cli_secret", "--dsn", target), 5)
    assert "cli_secret" in line  # the server's own message
    assert "grant" in line.lower()


def test_install_as_a_plain_role_is_exit_5(pg_server: TestServer) -> None:
    db = "pgstatkit_cli_noinstall"
    pg_server.psql(f"DROP DATABASE IF EXISTS {db}", dbname="postgres")
    pg_server.psql(f"CREATE DATABASE {db}", dbname="postgres")
    try:
        target = pg_server.dsn_for(dbname=db, user=pg_server.plain_role)
        line = one_error_line(run_cli("install", "--dsn", target), 5)
        assert "pgstatkit install" in line
        assert "superuser" in line
    finally:
        pg_server.psql(f"DROP DATABASE IF EXISTS {db}", dbname="postgres")


# ---- 4: pg_stat_statements too old ------------------------------------------------------


def test_too_old_extension_is_exit_4(pg_server: TestServer) -> None:
    db = "pgstatkit_cli_old"
    pg_server.psql(f"DROP DATABASE IF EXISTS {db}", dbname="postgres")
    pg_server.psql(f"CREATE DATABASE {db}", dbname="postgres")
    try:
        pg_server.psql("CREATE EXTENSION pg_stat_statements VERSION '1.7'", dbname=db)
        line = one_error_line(run_cli("top", "--dsn", pg_server.dsn_for(dbname=db)), 4)
        assert "1.7" in line
        assert "ALTER EXTENSION pg_stat_statements UPDATE" in line
    finally:
        pg_server.psql(f"DROP DATABASE IF EXISTS {db}", dbname="postgres")


# ---- 3: lost connection, 1: other server errors ----------------------------------------


def test_lost_connection_is_exit_3(cli_server: TestServer) -> None:
    proc = run_cli(
        "explain",
        "--analyze",
        "SELECT pg_terminate_backend(pg_backend_pid())",
        "--dsn",
        dsn(cli_server),
    )
    line = one_error_line(proc, 3)
    assert "lost the connection" in line


def test_rejected_statement_is_exit_2_with_the_servers_message(cli_server: TestServer) -> None:
    """The server rejecting the statement given to explain is the caller's mistake."""
    proc = run_cli("explain", "SELECT * FROM no_such_table", "--dsn", dsn(cli_server))
    line = one_error_line(proc, 2)
    assert "no_such_table" in line
    assert "SQLSTATE 42P01" in line
    assert "--debug" not in line  # not a bug of pgstatkit
    proc = run_cli("explain", "--analyze", "SELECT 1 / 0", "--dsn", dsn(cli_server))
    assert "SQLSTATE 22012" in one_error_line(proc, 2)


def test_not_loaded_and_not_created_names_both_fixes(pg_server_no_preload: TestServer) -> None:
    """One pass fixes both: the restart and pgstatkit install, in the command's words."""
    target = pg_server_no_preload.dsn_for(dbname=pg_server_no_preload.no_extension_db)
    line = one_error_line(run_cli("top", "--dsn", target), 4)
    assert "shared_preload_libraries" in line
    assert "restart" in line
    assert "pgstatkit install" in line


# ---- 2: explain refuses before anything runs (no server needed) -------------------------


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["SELECT 1; SELECT 2"], ["2 statements", "pgstatkit explain"]),
        (["EXPLAIN SELECT 1"], ["without EXPLAIN", "--analyze"]),
        (["CREATE TABLE t ()"], ["pgstatkit explain", "'CREATE'"]),
        (["  -- nothing\n"], ["empty"]),
        (["SELECT 'x"], ["incomplete"]),
        (["SELECT $1", "--analyze"], ["--param"]),
        (["SELECT $1 + $2", "--param", "1"], ["--param", "2 placeholder"]),
        (["SELECT 1", "--param", "1"], ["--param", "no placeholder"]),
    ],
)
def test_explain_refusals_speak_cli_and_need_no_server(args: list[str], needles: list[str]) -> None:
    line = one_error_line(run_cli("explain", *args, "--dsn", UNREACHABLE), 2)
    for needle in needles:
        assert needle in line

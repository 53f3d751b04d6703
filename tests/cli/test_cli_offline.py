"""The command line without a server: arguments, connection errors, formatting."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cli_support import PASSWORD, UNREACHABLE, run_cli

from pgstatkit.cli import _format as fmt
from pgstatkit.cli import mask_dsn, resolve_dsn


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert proc.stdout == ""
    return lines[0]


def test_help_documents_exit_codes_and_commands() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    for word in ("report", "low-cache", "doctor", "demo", "exit codes", "130", "DATABASE_URL"):
        assert word in proc.stdout


@pytest.mark.parametrize("command", ["slow", "report"])
def test_unreachable_dsn_is_one_line_exit_3_without_password(command: str) -> None:
    proc = run_cli(command, "--dsn", UNREACHABLE)
    line = assert_one_line_error(proc, 3)
    assert "could not connect to 127.0.0.1:1/shop as alice" in line
    assert PASSWORD not in proc.stderr + proc.stdout


def test_unreachable_database_url_and_option_before_command() -> None:
    proc = run_cli("--format", "json", "top", env={"DATABASE_URL": UNREACHABLE})
    assert_one_line_error(proc, 3)
    assert PASSWORD not in proc.stderr


def test_libpq_environment_is_used() -> None:
    env = {"PGHOST": "127.0.0.1", "PGPORT": "1", "PGUSER": "carol", "PGPASSWORD": PASSWORD}
    proc = run_cli("db", env=env)
    line = assert_one_line_error(proc, 3)
    assert "127.0.0.1:1/carol as carol" in line
    assert PASSWORD not in proc.stderr


def test_debug_shows_a_traceback() -> None:
    proc = run_cli("slow", "--dsn", UNREACHABLE, "--debug")
    assert proc.returncode == 3
    assert "Traceback" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("pgstatkit: error: could not connect")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["slow", "--limit", "0"], "--limit"),
        (["report", "--limit", "10001"], "--limit"),
        (["low-cache", "--max-cache-hit-ratio", "2"], "0.9 means 90%"),
        (["slow", "--min-duration-ms", "-1"], "--min-duration-ms"),
        (["slow", "--min-duration-ms", "abc"], "not a number"),
        (["top", "--timeout-ms", "0"], "--timeout-ms"),
        (["tables", "--order-by", "size"], "--order-by"),
        (["slow", "--format", "yaml"], "--format"),
        (["install", "--schema", "pg_x"], "--schema"),
        (["reset", "--queryid", "0"], "--queryid"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_arguments_are_one_line_exit_2(args: list[str], needle: str) -> None:
    proc = run_cli(*args, "--dsn", UNREACHABLE) if args else run_cli()
    line = assert_one_line_error(proc, 2)
    assert needle in line


def test_invalid_dsn_is_exit_2_without_echo() -> None:
    proc = run_cli("slow", "--dsn", f"host=x password={PASSWORD} bogus_option=1")
    line = assert_one_line_error(proc, 2)
    assert "invalid connection string" in line
    assert PASSWORD not in proc.stderr


def test_mask_and_resolve_dsn() -> None:
    assert mask_dsn(UNREACHABLE) == "postgresql://alice:***@127.0.0.1:1/shop"
    assert mask_dsn(f"host=h password={PASSWORD} user=u") == "host=h password=*** user=u"
    assert mask_dsn("postgresql://u@h/db") == "postgresql://u@h/db"
    assert resolve_dsn("postgresql+psycopg://u@h/db") == "postgresql://u@h/db"


def test_table_fits_and_cuts_long_text() -> None:
    columns = (
        fmt.Column("n", lambda r: str(r[0]), priority=9),
        fmt.Column("low", lambda r: "x" * 30, priority=1),
        fmt.Column("query", lambda r: r[1], right=False, flex=True, min_width=20),
    )
    rows = [(1, "SELECT " + "a, " * 100 + "b\n  FROM t"), (22, "SELECT 1")]
    for width in (40, 80, 120):
        lines = fmt.table(columns, rows, width)
        assert all(len(line) <= width for line in lines), lines
        assert lines[2].endswith(fmt.ELLIPSIS)
    assert "low" not in fmt.table(columns, rows, 40)[0]
    assert "low" in fmt.table(columns, rows, 200)[0]
    assert fmt.one_line("SELECT 1\n   FROM  t") == "SELECT 1 FROM t"


def test_importing_the_cli_loads_no_driver() -> None:
    code = (
        "import sys, pgstatkit.cli, pgstatkit.cli._demo, pgstatkit.__main__\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'asyncpg')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("where", ["before", "after"])
def test_demo_refuses_a_dsn(where: str) -> None:
    dsn_args = ["--dsn", UNREACHABLE]
    args = [*dsn_args, "demo"] if where == "before" else ["demo", *dsn_args]
    line = assert_one_line_error(run_cli(*args), 2)
    assert "cannot use --dsn" in line
    assert PASSWORD not in line

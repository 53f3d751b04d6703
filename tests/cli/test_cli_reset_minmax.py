"""``pgstatkit reset --minmax-only`` against the test clusters (a subprocess per call)."""

from __future__ import annotations

import json
import secrets

from test_cli_server import ok, run_cli

from harness.servers import TestServer


def _statement(server: TestServer) -> tuple[str, str]:
    """A statement of its own run twice (min < max); (table, queryid)."""
    table = f"cli_minmax_{secrets.token_hex(6)}"
    server.psql(
        f"CREATE TABLE {table} AS SELECT 1 AS x;\n"
        f"SELECT pg_sleep(0.002) FROM {table};\n"
        f"SELECT pg_sleep(0.02) FROM {table};\n"
    )
    queryid = server.psql(
        f"SELECT queryid FROM pg_stat_statements WHERE query = 'SELECT pg_sleep($1) FROM {table}'"
    )
    assert queryid.lstrip("-").isdigit(), queryid
    return table, queryid


def _calls_min_max(server: TestServer, queryid: str) -> str:
    return server.psql(
        "SELECT calls, min_exec_time > 0, max_exec_time > 0 FROM pg_stat_statements"
        f" WHERE queryid = {int(queryid)}"
    )


def test_help_names_the_option() -> None:
    out = ok(run_cli("reset", "--help"))
    assert "--minmax-only" in out
    assert "PostgreSQL 17" in out


def test_reset_minmax_only(pg_server: TestServer) -> None:
    table, queryid = _statement(pg_server)
    dsn = pg_server.dsn
    proc = run_cli("reset", "--queryid", queryid, "--minmax-only", "--dsn", dsn)
    assert proc.returncode == 8  # not confirmed
    assert f"min/max times of statement {queryid}" in proc.stderr
    assert _calls_min_max(pg_server, queryid) == "2|t|t"
    args = ("reset", "--queryid", queryid, "--minmax-only", "--yes", "--dsn", dsn)
    if pg_server.major < 17:
        proc = run_cli(*args)
        assert proc.returncode == 4, proc.stderr  # the extension is too old
        assert "1.11 (PostgreSQL 17)" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert _calls_min_max(pg_server, queryid) == "2|t|t"  # nothing reset
    else:
        result = json.loads(ok(run_cli(*args, "--format", "json")))
        assert result["reset"] is True and result["minmax_only"] is True
        assert result["queryid"] == int(queryid)
        assert isinstance(result["reset_at"], str)
        assert _calls_min_max(pg_server, queryid) == "2|f|f"  # calls kept, min/max reset
        text = ok(run_cli(*args))
        assert text.startswith("reset min/max times of 1 entry of statement "), text
        assert f"of statement {queryid} (any user, any database)" in text
        assert " at " in text
    pg_server.psql(f"DROP TABLE {table}")

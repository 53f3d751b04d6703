"""The CLI's scope options: ``--all-databases`` shows whose statements they are, and
``--include-pgstatkit`` brings back pgstatkit's own statements and tables."""

from __future__ import annotations

import json

from test_cli_escaping import ESCAPE_DB, escape_server  # noqa: F401 - a fixture
from test_cli_server import ok, run_cli

from harness.servers import TestServer


def _header(out: str, first: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.split()[:1] == [first])
    return line.split()


def test_all_databases_shows_database_and_user(escape_server: TestServer) -> None:  # noqa: F811
    dsn = escape_server.dsn_for(dbname=ESCAPE_DB)
    out = ok(run_cli("top", "--all-databases", "--limit", "10000", "--dsn", dsn, columns=250))
    assert _header(out, "queryid")[:3] == ["queryid", "database", "user"]
    row = next(line for line in out.splitlines() if "pwned" in line)
    assert f" {ESCAPE_DB} " in row
    assert f" {escape_server.superuser} " in row
    markdown = ok(
        run_cli(
            "slow",
            "--min-duration-ms",
            "0",
            "--all-databases",
            "--format",
            "markdown",
            "--dsn",
            dsn,
        )
    )
    assert markdown.splitlines()[2].startswith("| queryid | database | user | calls |")
    # one database only: the columns would say the same on every row
    narrow = ok(run_cli("top", "--limit", "500", "--dsn", dsn, columns=250))
    assert "database" not in _header(narrow, "queryid")


def test_include_pgstatkit(escape_server: TestServer) -> None:  # noqa: F811
    dsn = escape_server.dsn_for(dbname=ESCAPE_DB)
    ok(run_cli("install", "--dsn", dsn))
    ok(run_cli("report", "--dsn", dsn))  # plenty of pgstatkit's own statements
    for command in (["top"], ["slow", "--min-duration-ms", "0"]):
        args = [*command, "--limit", "10000", "--format", "json", "--dsn", dsn]
        default = json.loads(ok(run_cli(*args)))
        assert not any("pgstatkit:internal" in (r["query"] or "") for r in default)
        everything = json.loads(ok(run_cli(*args, "--include-pgstatkit")))
        assert any("pgstatkit:internal" in (r["query"] or "") for r in everything)
    tables = json.loads(ok(run_cli("tables", "--format", "json", "--dsn", dsn)))
    assert "pgstatkit_meta" not in [t["table"] for t in tables]
    tables = json.loads(
        ok(run_cli("tables", "--include-pgstatkit", "--format", "json", "--dsn", dsn))
    )
    assert "pgstatkit_meta" in [t["table"] for t in tables]
    indexes = json.loads(
        ok(run_cli("indexes", "--include-pgstatkit", "--format", "json", "--dsn", dsn))
    )
    assert "pgstatkit_meta_pkey" in [i["index"] for i in indexes]
    report = json.loads(
        ok(run_cli("report", "--include-pgstatkit", "--format", "json", "--dsn", dsn))
    )
    assert "pgstatkit_meta" in [t["table"] for t in report["table_statistics"]]

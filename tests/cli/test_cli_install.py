"""``pgstatkit install --grant-to`` and the refusals of install / uninstall (exit 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from harness.servers import TestServer


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "pgstatkit", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def one_line_error(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    return line


@pytest.mark.parametrize(
    ("value", "needle"), [("", "must not be empty"), ("r" * 64, "at most 63 bytes")]
)
def test_bad_grant_to_is_exit_2(value: str, needle: str) -> None:
    proc = run_cli("install", "--grant-to", value, "--dsn", "postgresql://x@127.0.0.1:1/x")
    line = one_line_error(proc, 2)
    assert "--grant-to" in line and needle in line


@pytest.fixture
def target(pg_server: TestServer) -> Iterator[tuple[TestServer, str, str]]:
    """(server, database, role): a fresh database and a role to grant to."""
    db = f"pgstatkit_cli_inst_{uuid.uuid4().hex[:8]}"
    role = f"pgstatkit_cli_grafana_{uuid.uuid4().hex[:8]}"
    pg_server.psql(f"CREATE DATABASE {db}", dbname="postgres")
    pg_server.psql(f"CREATE ROLE {role}", dbname="postgres")
    try:
        yield pg_server, db, role
    finally:
        pg_server.psql(f"DROP DATABASE {db} WITH (FORCE)", dbname="postgres")
        pg_server.psql(f"DROP ROLE {role}", dbname="postgres")


@pytest.mark.server
def test_install_grant_to_and_refusals(target: tuple[TestServer, str, str]) -> None:
    server, db, role = target
    dsn = server.dsn_for(dbname=db)
    line = one_line_error(run_cli("install", "--grant-to", "no_such_role_x", "--dsn", dsn), 10)
    assert '"no_such_role_x"' in line and "nothing changed" in line
    args = ["install", "--grant-to", role, "--grant-to", "pg_monitor", "--grant-to", role]
    proc = run_cli(*args, "--format", "json", "--dsn", dsn)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "installed": True,
        "schema": "pgstatkit",
        "granted_to": [role, "pg_monitor"],
    }
    can = f"SELECT has_table_privilege('{role}', 'pgstatkit.slow_queries', 'SELECT')"
    assert server.psql(can, dbname=db) == "t"
    proc = run_cli("install", "--dsn", dsn)  # a re-install keeps the grant
    assert proc.returncode == 0 and "granted" not in proc.stdout
    assert server.psql(can, dbname=db) == "t"
    server.psql("CREATE VIEW public.mine AS SELECT calls FROM pgstatkit.slow_queries", dbname=db)
    line = one_line_error(run_cli("uninstall", "--yes", "--dsn", dsn), 10)
    assert "view public.mine" in line
    server.psql("CREATE SCHEMA perf; CREATE VIEW perf.slow_queries AS SELECT 1 AS x", dbname=db)
    line = one_line_error(run_cli("install", "--schema", "perf", "--dsn", dsn), 10)
    assert "view perf.slow_queries" in line and "another schema" in line

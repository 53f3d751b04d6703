"""The SQL queries (``sql/queries/*.sql``) and their loader (``pgstatkit._sql``)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgstatkit import _sql
from pgstatkit._scan import scan

SQL_DIR = _sql.root() / "queries"
NAME_LINE = re.compile(r"^--\s*name:\s*(\S+)\s*$", re.MULTILINE)


def _sql_files() -> list[str]:
    files = sorted(p.name for p in SQL_DIR.glob("*.sql"))
    assert files, "no SQL files found"
    return files


def _blocks() -> list[tuple[str, str]]:
    found = []
    for filename in _sql_files():
        text = (SQL_DIR / filename).read_text(encoding="utf-8")
        found += [(filename, name) for name in NAME_LINE.findall(text)]
    return found


BLOCKS = _blocks()


def test_expected_files_and_blocks() -> None:
    assert _sql_files() == [
        "advisor.sql",
        "catalog.sql",
        "health.sql",
        "history.sql",
        "install.sql",
        "session.sql",
        "statements.sql",
    ]
    names = {name for _, name in BLOCKS}
    assert {
        "database_statistics",
        "table_statistics",
        "index_usage",
        "setup",
        "restore",
        "slow_queries",
        "top_queries_by_total_time",
        "queries_with_low_cache_hit",
        "reset_all",
        "reset_all_1_11",
        "reset_query",
        "reset_query_1_11",
    } <= names


def test_names_are_unique() -> None:
    names = [name for _, name in BLOCKS]
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize(("filename", "name"), BLOCKS)
def test_every_block_loads(filename: str, name: str) -> None:
    assert re.fullmatch(r"[a-z0-9_]+", name), "a name the loader's pattern accepts"
    sql = _sql.load(filename, name)
    assert sql.strip() == sql
    assert sql
    assert not sql.endswith(";")
    assert "-- name:" not in sql
    # One statement per block, with markers filled by something harmless.
    markers = set(re.findall(r"\{\{(\w+)\}\}", sql))
    rendered = _sql.render(sql, **dict.fromkeys(markers, "x")) if markers else sql
    # Every bundled block is a single SELECT (the scanner would refuse two statements);
    # history.sql also writes the store (one INSERT / UPDATE, or WITH ... INSERT); the
    # health checks' catalog queries may start with WITH (they run read-only).
    allowed = {"SELECT", "WITH", "INSERT", "UPDATE"} if filename == "history.sql" else {"SELECT"}
    if filename == "health.sql":
        allowed = {"SELECT", "WITH"}
    assert scan(rendered).keyword in allowed


def test_block_text_excludes_following_blocks() -> None:
    setup = _sql.load("session.sql", "setup")
    assert "restore" not in setup
    assert _sql.load("session.sql", "restore").startswith("-- After a committed savepoint")


def test_unknown_block() -> None:
    with pytest.raises(KeyError):
        _sql.load("statements.sql", "no_such_block")
    with pytest.raises(KeyError):
        _sql.load("catalog.sql", "slow_queries")  # exists, but in another file


def test_unknown_file() -> None:
    with pytest.raises((FileNotFoundError, OSError)):
        _sql.load("missing.sql", "x")


def test_packaged_as_data() -> None:
    root = _sql.root() / "queries"  # the wheel's pgstatkit/sql, or the checkout's sql/
    for filename in _sql_files():
        assert root.joinpath(filename).is_file()
        assert "-- name:" in root.joinpath(filename).read_text(encoding="utf-8")


# ---- render -----------------------------------------------------------------------------


def test_render_fills_markers() -> None:
    sql = "SELECT {{a}} FROM {{b}} WHERE {{a}} > 1"
    assert _sql.render(sql, a="x", b='"s".t') == 'SELECT x FROM "s".t WHERE x > 1'


def test_render_refuses_unknown_marker() -> None:
    with pytest.raises(KeyError, match="no"):
        _sql.render("SELECT 1", statements="x")


def test_render_refuses_unfilled_marker() -> None:
    with pytest.raises(KeyError, match="unfilled"):
        _sql.render("SELECT {{a}}, {{b}}", a="1")
    with pytest.raises(KeyError, match="unfilled"):
        _sql.render(_sql.load("statements.sql", "slow_queries"))


def test_render_without_markers() -> None:
    assert _sql.render("SELECT 1") == "SELECT 1"


@pytest.mark.parametrize(
    ("filename", "name", "marker"),
    [
        ("statements.sql", "slow_queries", "statements"),
        ("statements.sql", "reset_all", "schema"),
        ("catalog.sql", "table_statistics", "order_by"),
    ],
)
def test_real_blocks_need_their_marker(filename: str, name: str, marker: str) -> None:
    sql = _sql.load(filename, name)
    with pytest.raises(KeyError):
        _sql.render(sql)
    assert "{{" not in _sql.render(sql, **{marker: "x"})


# ---- quote_ident ------------------------------------------------------------------------


@given(st.text(min_size=1, max_size=30).filter(lambda s: "\x00" not in s))
def test_quote_ident_doubles_quotes(name: str) -> None:
    quoted = _sql.quote_ident(name)
    assert quoted.startswith('"')
    assert quoted.endswith('"')
    inner = quoted[1:-1]
    assert inner.replace('""', "").count('"') == 0
    assert inner.replace('""', '"') == name
    # A quoted identifier is one opaque token to the scanner.
    assert scan(f"SELECT 1 AS {quoted}").max_placeholder == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [("public", '"public"'), ('a"b', '"a""b"'), ('"', '""""'), ("Mixed Case", '"Mixed Case"')],
)
def test_quote_ident_examples(name: str, expected: str) -> None:
    assert _sql.quote_ident(name) == expected


@pytest.mark.parametrize("name", ["", "\x00", "a\x00b"])
def test_quote_ident_rejects(name: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        _sql.quote_ident(name)

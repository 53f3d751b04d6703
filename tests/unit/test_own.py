"""The marker of pgstatkit's own statements (``pgstatkit._own``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgstatkit import _sql
from pgstatkit._own import MARKER, mark, statement_filter

_IDENT = re.compile("[A-Za-z0-9_$\x80-\U0010ffff]")
SQL_DIR = Path(__file__).resolve().parents[2] / "src" / "pgstatkit" / "sql"


@pytest.mark.parametrize(
    ("sql", "marked"),
    [
        ("SELECT 1", f"SELECT {MARKER} 1"),
        ("-- a comment\nSELECT x FROM t", f"-- a comment\nSELECT {MARKER} x FROM t"),
        ("/* a /* nested */ one */ WITH a AS (SELECT 1) TABLE a", None),
        ("  (SELECT 1) UNION (SELECT 2)", f"  (SELECT {MARKER} 1) UNION (SELECT 2)"),
        ("EXPLAIN (FORMAT JSON) SELECT 1", f"EXPLAIN {MARKER} (FORMAT JSON) SELECT 1"),
        ("SAVEPOINT pgstatkit_plan", f"SAVEPOINT {MARKER} pgstatkit_plan"),
        ("DO $$BEGIN END$$", f"DO {MARKER} $$BEGIN END$$"),
        ("SELECT*FROM t", f"SELECT {MARKER} *FROM t"),
    ],
)
def test_marker_follows_the_first_keyword(sql: str, marked: str | None) -> None:
    result = mark(sql)
    if marked is not None:
        assert result == marked
    first = re.search(r"[A-Za-z_]+", sql.split("*/")[-1] if sql.startswith("/*") else sql)
    assert first is not None
    assert result.count(MARKER) == 1
    assert mark(result) == result  # idempotent


_WORDS = st.sampled_from(["SELECT", "WITH", "EXPLAIN", "CREATE", "insert", "DO", "(", "$1"])
_TAILS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
_HEADS = st.lists(
    st.sampled_from(["", " ", "\n", "-- c\n", "/* c */", "/* a /* b */ c */", "\t"]), max_size=3
).map("".join)


@given(_HEADS, _WORDS, _TAILS)
def test_mark_only_inserts_the_marker(head: str, word: str, tail: str) -> None:
    sql = f"{head}{word}{tail}"
    result = mark(sql)
    assert mark(result) == result
    if MARKER not in sql:
        assert result.count(MARKER) == 1
        # nothing but the marker and whitespace was added
        assert re.sub(r"\s+", "", result.replace(MARKER, "", 1)) == re.sub(r"\s+", "", sql)
        # and never splits a token: what precedes it in the statement ends a word
        before = result[: result.index(MARKER)].rstrip(" ")
        after = sql[len(before) :]
        assert sql.startswith(before)
        if before and _IDENT.match(before[-1]):
            assert not after or not _IDENT.match(after[0])


def test_every_bundled_block_gets_the_marker_inside() -> None:
    for path in SQL_DIR.glob("*.sql"):
        for name in _sql._file(path.name):
            marked = mark(_sql.load(path.name, name))
            code = "\n".join(
                line for line in marked.splitlines() if not line.lstrip().startswith("--")
            )
            assert code.lstrip().split(None, 2)[1] == "/*", (path.name, name)
            assert MARKER in code


def test_statement_filter_is_fixed_sql() -> None:
    assert statement_filter("p.query") == (
        "(pg_catalog.strpos(p.query, '/* pgstatkit:internal */') > 0) IS NOT TRUE"
    )


def test_every_table_of_the_schema_migrations_is_an_own_table() -> None:
    """A table a migration creates is left out of the table and index listings by
    default: ``OWN_TABLES`` names every ``CREATE TABLE`` of ``sql/schema``."""
    from pgstatkit._own import OWN_TABLES

    schema_dir = Path(__file__).resolve().parents[2] / "sql" / "schema"
    created = {
        m.group(1)
        for path in schema_dir.glob("[0-9]*.sql")
        for m in re.finditer(r"CREATE TABLE (?:IF NOT EXISTS )?@schema@\.(\w+)", path.read_text())
    }
    assert created, schema_dir
    assert created <= set(OWN_TABLES), sorted(created - set(OWN_TABLES))
    assert OWN_TABLES[0] == "pgstatkit_meta"


def test_marked_reuses_the_marked_text_of_a_statement() -> None:
    from pgstatkit._drive import MARK_CACHE_MAX_CHARS, marked
    from pgstatkit._protocol import Query

    text = "SELECT 1 AS x"
    first = marked(Query(text, (1,)))
    again = marked(Query("".join(["SELECT 1", " AS x"]), (2,)))  # equal text, new object
    assert first.sql == mark(text)
    assert again.sql is first.sql  # the same string: its hash is computed once
    assert again.params == (2,)
    long = "SELECT " + "1, " * MARK_CACHE_MAX_CHARS + "1"  # not kept in the cache
    assert marked(Query(long)).sql == mark(long)
    assert marked(Query(long)).sql is not marked(Query(long)).sql

"""The statement scanner behind ``query_plan`` (``pgstatkit._scan.scan``)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pgstatkit import _operations
from pgstatkit._scan import EXPLAINABLE, scan
from pgstatkit.errors import PgStatKitError, UnsafeQueryError

ANY_TEXT = st.text(max_size=40)
NO_NEWLINE = st.text(max_size=40).filter(lambda t: "\n" not in t and "\r" not in t)
TAG = st.one_of(
    st.just(""),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True),
)


def single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quoted_ident(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@st.composite
def dollar_quoted(draw: st.DrawFn) -> str:
    tag = "$" + draw(TAG) + "$"
    body = draw(ANY_TEXT)
    # The body must not close the quote early (PostgreSQL ends at the first tag).
    assume((body + tag).find(tag) == len(body))
    return tag + body + tag


def _plain_comment_text() -> st.SearchStrategy[str]:
    return st.text(max_size=20).filter(lambda t: "/*" not in t and "*/" not in t)


block_comment = st.recursive(
    _plain_comment_text().map(lambda t: f"/* {t} */"),
    lambda inner: st.lists(st.one_of(inner, _plain_comment_text()), max_size=3).map(
        lambda parts: "/* " + " ".join(parts) + " */"
    ),
    max_leaves=6,
)

literal = st.one_of(
    ANY_TEXT.map(single_quoted),
    dollar_quoted(),
)

# Text that, wherever a token may go, hides its content from the scanner.
opaque = st.one_of(
    literal,
    ANY_TEXT.filter(bool).map(lambda t: "1 AS " + quoted_ident(t)),
    NO_NEWLINE.map(lambda t: "1 --" + t + "\n"),
    block_comment.map(lambda c: "1 " + c),
)

whitespace = st.text(alphabet=" \t\n", max_size=4)
trailer = st.lists(
    st.one_of(whitespace, NO_NEWLINE.map(lambda t: "--" + t + "\n"), block_comment),
    max_size=3,
).map(" ".join)

simple_statement = st.one_of(
    literal.map(lambda lit: "SELECT " + lit),
    st.sampled_from(
        [
            "SELECT 1",
            "select * from t where a = 'x'",
            "VALUES (1), (2)",
            "TABLE t",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "INSERT INTO t VALUES (1)",
            "UPDATE t SET a = 1",
            "DELETE FROM t",
            "(SELECT 1)",
            "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
        ]
    ),
)


# ---- contents of literals, identifiers and comments are opaque --------------------------


@given(opaque)
def test_opaque_text_is_one_statement_without_placeholders(piece: str) -> None:
    sql = "SELECT " + piece
    scanned = scan(sql)
    assert scanned.max_placeholder == 0
    assert scanned.keyword == "SELECT"
    assert scanned.text == sql.strip()


@given(st.lists(opaque, min_size=1, max_size=4))
def test_many_opaque_pieces(pieces: list[str]) -> None:
    sql = "SELECT " + ", ".join(f"({p}\n)" for p in pieces)
    scanned = scan(sql)
    assert scanned.max_placeholder == 0
    assert scanned.keyword == "SELECT"


@given(st.sampled_from(["SELECT", "DROP TABLE t", "$1", "1; DELETE FROM t"]), block_comment)
def test_block_comment_before_keyword(after: str, comment: str) -> None:
    sql = comment + " SELECT 1 /* " + after + " */"
    assert scan(sql).keyword == "SELECT"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'a;b'",
        "SELECT 'it''s; $1'",
        "SELECT $$; DROP TABLE t; $1$$",
        "SELECT $fn$ $$ ; $1 $fn$",
        'SELECT 1 AS "a;""$1"',
        "SELECT 1 -- ; DROP TABLE t $1",
        "SELECT 1 /* ; /* nested ; */ still ; $1 */",
        "SELECT E'\\'; DROP TABLE t; \\''",
        "SELECT e'\\\\'",
        "SELECT x'00', b'01', U&'\\0041;'",
    ],
)
def test_hidden_semicolons_and_placeholders(sql: str) -> None:
    scanned = scan(sql)
    assert scanned.max_placeholder == 0
    assert scanned.text == sql


# ---- more than one statement ------------------------------------------------------------


@given(simple_statement, simple_statement, whitespace, trailer)
def test_two_statements_are_refused(first: str, second: str, space: str, tail: str) -> None:
    with pytest.raises(UnsafeQueryError, match="2 statements"):
        scan(first + ";" + space + second + tail)


@given(simple_statement, whitespace)
def test_injected_statement_after_literal_is_refused(statement: str, space: str) -> None:
    with pytest.raises(UnsafeQueryError):
        scan(statement + ";" + space + "DROP TABLE t")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; SELECT 2",
        "SELECT 'a'; DELETE FROM t",
        "SELECT E'\\''; DROP TABLE t",
        "SELECT $$a$$; VACUUM",
        "SELECT 1 /* a */; /* b */ SELECT 2;",
        "SELECT 1 -- c\n; DROP TABLE t",
        "SELECT 1;SELECT 2;SELECT 3",
    ],
)
def test_statement_lists_are_refused(sql: str) -> None:
    with pytest.raises(UnsafeQueryError, match="statements"):
        scan(sql)


def test_line_comment_ends_at_carriage_return() -> None:
    with pytest.raises(UnsafeQueryError):
        scan("SELECT 1 -- c\r; DROP TABLE t")


# ---- one trailing semicolon is fine -----------------------------------------------------


@given(simple_statement, whitespace, trailer)
def test_trailing_semicolon_and_comments(statement: str, space: str, tail: str) -> None:
    scanned = scan(statement + space + ";" + tail)
    assert scanned.text == statement.strip()


@given(whitespace, simple_statement, whitespace)
def test_surrounding_whitespace_is_stripped(before: str, statement: str, after: str) -> None:
    assert scan(before + statement + after).text == statement


# ---- placeholders -----------------------------------------------------------------------


@given(st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=6))
def test_placeholders_outside_literals_are_found(numbers: list[int]) -> None:
    sql = "SELECT " + ", ".join(f"${n}" for n in numbers)
    assert scan(sql).max_placeholder == max(numbers)


@given(st.integers(min_value=1, max_value=99), opaque)
def test_placeholders_beside_opaque_text(number: int, piece: str) -> None:
    sql = f"SELECT ${number}, {piece}\n, ${number}::int"
    assert scan(sql).max_placeholder == number


@given(st.integers(min_value=1, max_value=99))
def test_placeholders_inside_literals_and_comments_are_not(number: int) -> None:
    inside = [
        f"'${number}'",
        f"$q$ ${number} $q$",
        f"$$ ${number} $$",
        f'1 AS "${number}"',
        f"1 -- ${number}\n",
        f"1 /* ${number} /* ${number} */ */",
        f"E'\\' ${number}'",
    ]
    for piece in inside:
        assert scan("SELECT " + piece).max_placeholder == 0, piece


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT a$1 FROM t", 0),
        ("SELECT a$1, $2 FROM t", 2),
        ("SELECT x$ FROM t WHERE x$ = $3", 3),
        ("SELECT $1+$10", 10),
        ("SELECT * FROM t WHERE id = $1 AND name = '$9'", 1),
        ("SELECT $1::text || $2", 2),
        ("SELECT $tag$ $5 $tag$, $4", 4),
    ],
)
def test_max_placeholder(sql: str, expected: int) -> None:
    assert scan(sql).max_placeholder == expected


# ---- escape strings ---------------------------------------------------------------------


@given(st.text(alphabet="ab;$1'\\ ", max_size=20))
def test_escape_string_backslashes(body: str) -> None:
    escaped = body.replace("\\", "\\\\").replace("'", "\\'")
    for prefix in ("E", "e"):
        sql = f"SELECT {prefix}'{escaped}'"
        scanned = scan(sql)
        assert scanned.text == sql
        assert scanned.max_placeholder == 0


def test_backslash_is_not_an_escape_in_standard_strings() -> None:
    # standard_conforming_strings: 'a\' is a complete constant, then a second statement.
    with pytest.raises(UnsafeQueryError, match="2 statements"):
        scan("SELECT 'a\\'; DROP TABLE t")
    # ...but after E it escapes the quote.
    assert scan("SELECT E'a\\'; DROP TABLE t'").max_placeholder == 0
    # An identifier that happens to end in e does not make an escape string.
    with pytest.raises(UnsafeQueryError, match="2 statements"):
        scan("SELECT some'a\\'; DROP TABLE t")


# ---- refused input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    ["", " ", "\n\t ", ";", " ; ;", "-- only a comment", "/* c */", "/* a */ -- b\n;"],
)
def test_empty_input(sql: str) -> None:
    with pytest.raises(UnsafeQueryError, match="empty"):
        scan(sql)


@given(st.lists(st.one_of(whitespace, block_comment, st.just(";")), max_size=4).map("".join))
def test_generated_empty_input(sql: str) -> None:
    with pytest.raises(UnsafeQueryError, match="empty"):
        scan(sql)


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT 'abc", "string constant"),
        ("SELECT 'it''s", "string constant"),
        ("SELECT E'abc\\'", "string constant"),
        ('SELECT "abc', "quoted identifier"),
        ("SELECT $$abc", "dollar-quoted"),
        ("SELECT $a$abc$b$", "dollar-quoted"),
        ("SELECT 1 /* abc", "comment"),
        ("SELECT 1 /* a /* b */", "comment"),
        ("/* SELECT 1", "comment"),
    ],
)
def test_unterminated(sql: str, kind: str) -> None:
    with pytest.raises(UnsafeQueryError, match=kind):
        scan(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "EXPLAIN SELECT 1",
        "explain analyze select 1",
        "  /* c */ Explain (FORMAT JSON) SELECT 1",
        "(EXPLAIN SELECT 1)",
        "-- x\nEXPLAIN VALUES (1);",
    ],
)
def test_explain_prefix_is_refused(sql: str) -> None:
    with pytest.raises(UnsafeQueryError, match="without EXPLAIN"):
        scan(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE t (a int)",
        "DROP TABLE t",
        "VACUUM t",
        "ANALYZE t",
        "COPY t TO STDOUT",
        "SET search_path = x",
        "RESET ALL",
        "BEGIN",
        "START TRANSACTION",
        "COMMIT",
        "ROLLBACK",
        "TRUNCATE t",
        "ALTER TABLE t ADD b int",
        "GRANT ALL ON t TO PUBLIC",
        "DO $$BEGIN END$$",
        "CALL p()",
        "SHOW ALL",
        "PREPARE p AS SELECT 1",
        "EXECUTE p",
        "DEALLOCATE p",
        "DECLARE c CURSOR FOR SELECT 1",
        "LOCK t",
        "CHECKPOINT",
        "NOTIFY x",
        "REINDEX TABLE t",
        "(DROP TABLE t)",
        "'SELECT'",
        "$$SELECT$$",
        '"SELECT" 1',
        "42",
    ],
)
def test_non_explainable_statements(sql: str) -> None:
    with pytest.raises(UnsafeQueryError, match="explains only"):
        scan(sql)


@given(
    st.sampled_from(sorted(EXPLAINABLE)),
    st.sampled_from(["", "(", "((", "/* c */ ", "-- c\n", "/* a /* b */ */ ( "]),
)
def test_keywords_case_insensitive_and_prefixes(keyword: str, prefix: str) -> None:
    for spelled in (keyword, keyword.lower(), keyword.title(), keyword.swapcase()):
        scanned = scan(prefix + spelled + " x")
        assert scanned.keyword == keyword


@given(st.text(max_size=30))
def test_scan_only_raises_unsafe_query_error(sql: str) -> None:
    assert issubclass(UnsafeQueryError, PgStatKitError)
    try:
        scanned = scan(sql)
    except UnsafeQueryError:
        return
    assert scanned.keyword in EXPLAINABLE
    assert scanned.text
    assert scanned.max_placeholder >= 0


# ---- through query_plan -----------------------------------------------------------------


def test_query_plan_refuses_before_building() -> None:
    with pytest.raises(UnsafeQueryError):
        _operations.query_plan("SELECT 1; DROP TABLE t")
    with pytest.raises(UnsafeQueryError):
        _operations.query_plan("VACUUM")


def test_huge_placeholder_number_is_refused() -> None:
    from pgstatkit._protocol import Context

    # refused when the operation is built, before anything could run
    for text in ("SELECT $99999999999999999999", "SELECT $100000000", "SELECT $65536"):
        with pytest.raises(PgStatKitError):
            _operations.query_plan(text)
    op = _operations.query_plan("SELECT $65535")
    steps = op.steps(Context((1, 11), "public"))
    from pgstatkit._protocol import NO_ROWS, Cleanup

    assert isinstance(next(steps), Cleanup)  # the DEALLOCATE, registered before PREPARE
    assert steps.send(NO_ROWS).sql.startswith("PREPARE pgstatkit_plan_")


@pytest.mark.parametrize(
    ("sql", "reason", "statements", "keyword"),
    [
        ("  -- only a comment\n", "empty", None, None),
        ("SELECT 'x", "incomplete", None, None),
        ("SELECT 1 /* open", "incomplete", None, None),
        ("SELECT $a$ x", "incomplete", None, None),
        ("SELECT 1; SELECT 2; SELECT 3", "several", 3, None),
        ("explain SELECT 1", "explain", None, None),
        ("create table t ()", "not_explainable", None, "CREATE"),
        ("SELECT $70000", "placeholder", None, None),
    ],
)
def test_refusals_carry_a_reason_code(
    sql: str, reason: str, statements: int | None, keyword: str | None
) -> None:
    # The command line words its messages from these attributes, never from the text.
    with pytest.raises(UnsafeQueryError) as info:
        scan(sql)
    assert (info.value.reason, info.value.statements, info.value.keyword) == (
        reason,
        statements,
        keyword,
    )

"""A small PostgreSQL lexer: enough to tell statements apart, never to parse them.

Used by :func:`pgstatkit.stats.query_plan` to refuse, before anything runs, input that
holds more than one statement or a statement ``EXPLAIN`` cannot take, and to find
``$n`` placeholders (normalized texts from ``pg_stat_statements``). It knows string
constants (``'...'``, ``E'...'`` with backslash escapes, dollar quotes ``$tag$...$tag$``),
quoted identifiers, ``--`` and nested ``/* */`` comments. It assumes
``standard_conforming_strings = on`` (the default since PostgreSQL 9.1); the server
is the second line of defence, since pgstatkit sends the statement with the extended
query protocol, which refuses more than one command.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from pgstatkit.errors import UnsafeQueryError

__all__ = ["EXPLAINABLE", "MAX_PLACEHOLDER", "Scanned", "scan"]

MAX_PLACEHOLDER = 65_535
"""The most parameters a statement can have (the wire protocol counts them in 16 bits)."""

EXPLAINABLE = frozenset(
    {"SELECT", "WITH", "VALUES", "TABLE", "INSERT", "UPDATE", "DELETE", "MERGE"}
)
"""First keywords of statements pgstatkit will explain (what PREPARE accepts)."""


@dataclass(frozen=True, slots=True)
class _Patterns:
    """The lexer's regular expressions.

    Compiled on first use (:func:`_patterns`), not at import: a character class that
    spans all of Unicode takes milliseconds to compile, and ``import pgstatkit`` should
    not pay for a lexer only :func:`scan` needs.
    """

    ident_start: re.Pattern[str]
    ident_char: re.Pattern[str]
    dollar_tag: re.Pattern[str]
    param: re.Pattern[str]
    newline: re.Pattern[str]
    word: re.Pattern[str]


@functools.cache
def _patterns() -> _Patterns:
    start = r"A-Za-z_\u0080-\U0010ffff"
    return _Patterns(
        ident_start=re.compile(f"[{start}]"),
        ident_char=re.compile(r"[A-Za-z0-9_$\u0080-\U0010ffff]"),
        dollar_tag=re.compile(rf"\$([{start}][A-Za-z0-9_\u0080-\U0010ffff]*)?\$"),
        param=re.compile(r"\$([0-9]+)"),
        newline=re.compile(r"[\r\n]"),
        word=re.compile(rf"[{start}][A-Za-z0-9_$\u0080-\U0010ffff]*"),
    )


@dataclass(frozen=True, slots=True)
class Scanned:
    """What :func:`scan` found in one statement.

    ``text`` is the statement without a trailing semicolon or surrounding whitespace;
    ``max_placeholder`` the highest ``$n`` (0 when there is none); ``keyword`` the
    first keyword, upper-cased.
    """

    text: str
    max_placeholder: int
    keyword: str


def _skip_quoted(sql: str, i: int, quote: str, backslash: bool) -> int:
    """Index just past the constant or identifier opening at ``sql[i] == quote``."""
    n = len(sql)
    i += 1
    while i < n:
        ch = sql[i]
        if backslash and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    kind = "quoted identifier" if quote == '"' else "string constant"
    raise UnsafeQueryError(f"unterminated {kind}: the statement is incomplete", reason="incomplete")


def _end_of_line_comment(sql: str, i: int) -> int:
    """Index just past a ``--`` comment; like PostgreSQL, ``\r`` ends it as well as ``\n``."""
    match = _patterns().newline.search(sql, i)
    return len(sql) if match is None else match.end()


def _skip_block_comment(sql: str, i: int) -> int:
    depth = 0
    n = len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise UnsafeQueryError(
        "unterminated /* comment: the statement is incomplete", reason="incomplete"
    )


def _split(sql: str) -> tuple[list[tuple[int, int]], list[int]]:
    """Statement spans (start, end) with code in them, and the $n numbers seen."""
    pat = _patterns()
    spans: list[tuple[int, int]] = []
    params: list[int] = []
    n = len(sql)
    i = 0
    start = 0
    has_code = False
    while i < n:
        ch = sql[i]
        prev_is_ident = i > 0 and pat.ident_char.match(sql[i - 1]) is not None
        if ch.isspace():
            i += 1
            continue
        if sql.startswith("--", i):
            i = _end_of_line_comment(sql, i)
            continue
        if sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
            continue
        if ch == ";":
            if has_code:
                spans.append((start, i))
            start = i + 1
            has_code = False
            i += 1
            continue
        has_code = True
        if ch == "'":
            escaped = (
                i > 0 and sql[i - 1] in "eE" and (i < 2 or not pat.ident_char.match(sql[i - 2]))
            )
            i = _skip_quoted(sql, i, "'", backslash=escaped)
        elif ch == '"':
            i = _skip_quoted(sql, i, '"', backslash=False)
        elif ch == "$" and not prev_is_ident:
            param = pat.param.match(sql, i)
            if param:
                digits = param.group(1)
                params.append(int(digits) if len(digits) <= 6 else MAX_PLACEHOLDER + 1)
                i = param.end()
                continue
            tag = pat.dollar_tag.match(sql, i)
            if tag is None:
                i += 1
                continue
            close = sql.find(tag.group(0), tag.end())
            if close < 0:
                raise UnsafeQueryError(
                    "unterminated dollar-quoted string: the statement is incomplete",
                    reason="incomplete",
                )
            i = close + len(tag.group(0))
        elif pat.ident_start.match(ch):
            word = pat.word.match(sql, i)
            assert word is not None
            i = word.end()
        else:
            i += 1
    if has_code:
        spans.append((start, n))
    return spans, params


def _first_keyword(text: str) -> str:
    i = 0
    n = len(text)
    while i < n:
        if text[i].isspace() or text[i] == "(":
            i += 1
        elif text.startswith("--", i):
            i = _end_of_line_comment(text, i)
        elif text.startswith("/*", i):
            i = _skip_block_comment(text, i)
        else:
            break
    word = _patterns().word.match(text, i)
    return word.group(0).upper() if word else ""


def scan(sql: str) -> Scanned:
    """Check that ``sql`` is exactly one statement EXPLAIN can take; describe it.

    A single trailing semicolon and comments are allowed.

    Raises:
        UnsafeQueryError: empty input, an unterminated constant or comment, more than
            one statement, an ``EXPLAIN`` already in the text, or a statement that is
            not one of :data:`EXPLAINABLE`.
    """
    spans, params = _split(sql)
    if not spans:
        raise UnsafeQueryError(
            "the query is empty: pass one SQL statement to explain", reason="empty"
        )
    if len(spans) > 1:
        raise UnsafeQueryError(
            f"the query holds {len(spans)} statements; query_plan explains exactly one "
            "and ran nothing",
            reason="several",
            statements=len(spans),
        )
    start, end = spans[0]
    text = sql[start:end].strip()
    keyword = _first_keyword(text)
    if keyword == "EXPLAIN":
        raise UnsafeQueryError(
            "pass the statement without EXPLAIN: query_plan adds EXPLAIN itself "
            "(use analyze=True for EXPLAIN ANALYZE)",
            reason="explain",
        )
    if keyword not in EXPLAINABLE:
        allowed = ", ".join(sorted(EXPLAINABLE))
        raise UnsafeQueryError(
            f"query_plan explains only {allowed} statements, got {keyword or sql[:20]!r}",
            reason="not_explainable",
            keyword=keyword or sql[:20],
        )
    highest = max(params, default=0)
    if highest > MAX_PLACEHOLDER:
        raise UnsafeQueryError(
            f"placeholder ${highest} is beyond ${MAX_PLACEHOLDER}, the most a statement can have",
            reason="placeholder",
        )
    return Scanned(text=text, max_placeholder=highest, keyword=keyword)

"""How pgstatkit recognises its own statements and objects, to leave them out of results.

Statements
    Every statement an operation sends carries :data:`MARKER`, a comment placed right
    after the statement's first keyword (``SELECT /* pgstatkit:internal */ ...``):
    :func:`mark` puts it there, :mod:`pgstatkit._run` applies it to every query. A
    comment *inside* the statement survives in ``pg_stat_statements``' stored text on
    every version; a leading one does not (PostgreSQL 18 stores the text from the
    first keyword). The SQL filter :func:`statement_filter` keeps the entries whose text
    lacks the marker.

    Limits: ``pg_stat_statements`` keeps the text of the *first* execution of a
    ``queryid``, and comments do not change the ``queryid``; an entry is recognised
    only if pgstatkit ran it first. Transaction control (``BEGIN``, ``SAVEPOINT``,
    ``ROLLBACK``, ``COMMIT``...) is sent by the drivers and shared with every other
    client (PostgreSQL 16+ even merges savepoint names): those utility entries are
    never hidden.

Objects
    :data:`OWN_TABLES` are the tables pgstatkit's ``install`` creates in its helper
    schema; :func:`pgstatkit._operations.table_statistics` and ``index_usage`` leave out
    a table of that name, or a partition of one (history's daily partitions), and their
    indexes when its schema holds ``pgstatkit_meta``,
    pgstatkit's ownership record. A user's tables in the same schema stay listed. The
    helper views are not in the table statistics at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MARKER", "OWN_TABLES", "OwnQueryids", "mark", "statement_filter"]

MARKER = "/* pgstatkit:internal */"
"""The comment in every statement pgstatkit sends."""

OWN_TABLES: tuple[str, ...] = (
    "pgstatkit_meta",
    "history_targets",
    "history_snapshots",
    "history_statements",
    "history_state",
    "history_texts",
    "history_names",
    "history_databases",
    "history_statements_hourly",
)
"""Tables the schema migrations create in the helper schema (the first is the ownership
record); a unit test checks that every ``CREATE TABLE`` of ``sql/schema`` is here."""

# Leading whitespace, comments (block comments nest in PostgreSQL) and parentheses.
_SPACE_OR_LINE_COMMENT = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|\()*")
# A whole identifier or keyword, as PostgreSQL's lexer reads one (never split it).
_WORD = re.compile("[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*")


def _skip_block_comment(sql: str, pos: int) -> int:
    """The position after the (nested) block comment starting at ``pos``."""
    depth = 0
    while pos < len(sql):
        if sql.startswith("/*", pos):
            depth, pos = depth + 1, pos + 2
        elif sql.startswith("*/", pos):
            depth, pos = depth - 1, pos + 2
            if depth == 0:
                return pos
        else:
            pos += 1
    return pos


def _first_token(sql: str) -> int:
    pos = 0
    while True:
        skipped = _SPACE_OR_LINE_COMMENT.match(sql, pos)  # always matches (maybe empty)
        pos = skipped.end() if skipped is not None else pos
        if not sql.startswith("/*", pos):
            return pos
        pos = _skip_block_comment(sql, pos)


def mark(sql: str) -> str:
    """``sql`` with :data:`MARKER` right after its first keyword (idempotent).

    Leading comments and parentheses are skipped; a statement that does not start with
    a keyword gets the marker before its first token.
    """
    start = _first_token(sql)
    word = _WORD.match(sql, start)
    if word is None:
        if sql[:start].rstrip().endswith(MARKER):
            return sql
        return f"{sql[:start]}{MARKER} {sql[start:]}"
    at = word.end()
    if sql[at:].lstrip().startswith(MARKER):
        return sql
    return f"{sql[:at]} {MARKER} {sql[at:].lstrip(' ')}"


def statement_filter(query_column: str = "p.query") -> str:
    """A SQL condition true for the entries pgstatkit did not send (fixed SQL text).

    Entries without a visible text (``NULL``, or another role's
    ``<insufficient privilege>``) are kept: they are not pgstatkit's.
    """
    return f"(pg_catalog.strpos({query_column}, '{MARKER}') > 0) IS NOT TRUE"


class OwnQueryids:
    """What a poller learned about which ``queryid`` s are pgstatkit's own, so it can
    leave them out while reading ``pg_stat_statements(showtext := false)``.

    Telling pgstatkit's statements apart needs their texts (the marker), and reading
    the texts makes the server read its whole query-text file. A poller that runs again
    and again (the metrics) reads them once, learns the own ``queryid`` s (:attr:`own`)
    and the ones it saw that are not (:attr:`others`), and from then on reads without
    texts, leaving :attr:`own` out by ``queryid``. When a result holds a ``queryid`` it
    has not classified yet (a statement new to the top N), it reads with texts again:
    the result is always the one the texts would give.

    A ``queryid`` is a hash of a statement's shape (comments aside), so whether it is
    pgstatkit's stays true while the statement is tracked (the same limits as the text
    filter: an entry is recognised only if pgstatkit ran it first). Not locked: the
    sets only grow, and a lost update only costs one more read with texts.
    """

    __slots__ = ("others", "own")

    MAX_KNOWN = 100_000
    """Above this many classified ``queryid`` s, start over (bounded memory)."""

    def __init__(self) -> None:
        self.own: frozenset[int] | None = None
        self.others: set[int] = set()

    def knows(self, queryids: Iterable[int]) -> bool:
        """Whether every one of ``queryids`` is classified (texts were learned before)."""
        return self.own is not None and all(q in self.others for q in queryids)

    def learn(self, own: Iterable[int], others: Iterable[int]) -> None:
        """Record a read with texts: the own ``queryid`` s in scope, and others seen."""
        if len(self.others) > self.MAX_KNOWN:
            self.others = set()
        self.own = frozenset(own) | (self.own or frozenset())
        self.others.update(others)

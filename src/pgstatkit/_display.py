"""How results read as text: the one truncation, terminal escaping, value formats, and
the display columns of the reports (:mod:`pgstatkit.reports`).

Standard library only; shared by the command line (tables), the HTTP API (statement
texts cut to ``max_query_length``) and the Prometheus metrics (the ``query`` label).

Text from the database is untrusted: any role can put escape sequences in a statement
comment, and a table owner can name a table with a newline. :func:`safe` escapes
control and format characters visibly, for a terminal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pgstatkit.models import DatabaseStatistics

__all__ = [
    "ELLIPSIS",
    "INDEX_COLUMNS",
    "SUGGESTION_COLUMNS",
    "QUERY_COLUMNS",
    "SCOPE_COLUMNS",
    "TABLE_COLUMNS",
    "Column",
    "cut",
    "database_lines",
    "ms",
    "num",
    "one_line",
    "pct",
    "query_columns",
    "safe",
    "size",
    "unsafe_char",
]

ELLIPSIS = "\u2026"
_SPACE_RE = re.compile(r"\s+")
_MIN_FLEX = 16


def cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in an ellipsis (``…``) when cut.

    The one truncation of pgstatkit: table cells, statement texts over HTTP
    (``query_text="truncate"``) and the metrics' ``query`` label.
    """
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    return text[: width - 1] + ELLIPSIS


# Characters a terminal may interpret rather than show: C0 and C1 controls and DEL (Cc),
# format characters such as the bidi overrides and isolates of "Trojan Source" and
# zero-width characters (Cf), surrogates (Cs), line and paragraph separators (Zl, Zp).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def unsafe_char(ch: str) -> bool:
    """Whether a terminal may interpret ``ch`` rather than show it."""
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def safe(text: str) -> str:
    """``text`` with every control or format character escaped visibly, for a terminal.

    C0 and C1 controls, DEL, Unicode format characters (bidi overrides and isolates,
    zero-width characters), surrogates and line/paragraph separators become Python-style
    escapes (``\\x1b``, ``\\n``, ``\\u202e``); everything else, backslashes included, is
    kept as it is.
    """
    if text.isprintable():  # fast path: nothing to escape (nor any other non-printable)
        return text
    return "".join(_escape_char(ch) if unsafe_char(ch) else ch for ch in text)


def one_line(text: str | None) -> str:
    """Collapse whitespace (newlines in a query text) into single spaces."""
    if text is None:
        return "<not visible>"
    return _SPACE_RE.sub(" ", text).strip()


# ----------------------------------------------------------------------- values


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 10_000:
        return f"{value / 1000:,.1f} s"
    return f"{value:,.1f}"


def pct(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.1f}%"


def num(value: int | float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def size(value: int | None) -> str:
    if value is None:
        return "-"
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if amount < 1024 or unit == "TB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{value} B"  # pragma: no cover


# ----------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """One column: header, cell text of a row, right-aligned?, priority (high = kept)."""

    header: str
    cell: Callable[[Any], str]
    right: bool = True
    priority: int = 5
    flex: bool = False
    min_width: int = _MIN_FLEX


def _share(percent: float | None) -> str:
    return "-" if percent is None else f"{percent:.1f}%"


QUERY_COLUMNS: tuple[Column, ...] = (
    Column("queryid", lambda q: "-" if q.queryid is None else str(q.queryid), priority=1),
    Column("calls", lambda q: num(q.calls), priority=8),
    Column("mean ms", lambda q: ms(q.mean_exec_time_ms), priority=9),
    Column("total ms", lambda q: ms(q.total_exec_time_ms), priority=7),
    Column("% time", lambda q: _share(q.percent_of_total_time), priority=4),
    Column("rows", lambda q: num(q.rows), priority=2),
    Column("cache hit", lambda q: pct(q.cache_hit_ratio), priority=6),
    Column("blks read", lambda q: num(q.shared_blks_read), priority=3),
    Column("query", lambda q: one_line(q.query), right=False, flex=True, min_width=40),
)


def _named(name: str | None, oid: int | None) -> str:
    """A database or role name; ``oid 1234`` once it was dropped."""
    if name is not None:
        return name
    return "-" if oid is None else f"oid {oid}"


SCOPE_COLUMNS: tuple[Column, ...] = (
    Column("database", lambda q: _named(q.database, q.dbid), right=False, priority=8),
    Column("user", lambda q: _named(q.username, q.userid), right=False, priority=6),
)
"""The columns that tell the databases and users apart, for ``--all-databases``."""


def query_columns(*, all_databases: bool = False) -> tuple[Column, ...]:
    """The columns of a statement list; with ``all_databases`` also database and user."""
    if not all_databases:
        return QUERY_COLUMNS
    return (QUERY_COLUMNS[0], *SCOPE_COLUMNS, *QUERY_COLUMNS[1:])


TABLE_COLUMNS: tuple[Column, ...] = (
    Column("table", lambda t: f"{t.schema}.{t.table}", right=False, flex=True, min_width=24),
    Column("seq scans", lambda t: num(t.seq_scan), priority=8),
    Column("seq rows read", lambda t: num(t.seq_tup_read), priority=9),
    Column("idx scans", lambda t: num(t.idx_scan), priority=7),
    Column("live rows", lambda t: num(t.n_live_tup), priority=5),
    Column("dead", lambda t: pct(t.dead_tuple_ratio), priority=3),
    Column("size", lambda t: size(t.total_size_bytes), priority=6),
    Column("cache hit", lambda t: pct(t.cache_hit_ratio), priority=4),
)

INDEX_COLUMNS: tuple[Column, ...] = (
    Column("index", lambda i: f"{i.schema}.{i.index}", right=False, priority=9),
    Column("table", lambda i: i.table, right=False, priority=6),
    Column("scans", lambda i: num(i.idx_scan), priority=8),
    Column("size", lambda i: size(i.size_bytes), priority=7),
    Column("unused", lambda i: "UNUSED" if i.unused else "", right=False, priority=10),
    Column("definition", lambda i: i.definition, right=False, flex=True, min_width=30),
)


SUGGESTION_COLUMNS: tuple[Column, ...] = (
    Column("table", lambda s: safe(f"{s.schema}.{s.table}"), right=False, priority=9),
    Column("columns", lambda s: safe(", ".join(s.columns)), right=False, priority=10),
    Column("saved/day", lambda s: ms(s.time_saved_ms_per_day), priority=8),
    Column("writes/day", lambda s: ms(s.write_overhead_ms_per_day), priority=4),
    Column("size", lambda s: size(s.estimated_size_bytes), priority=6),
    Column("stmts", lambda s: num(len(s.statements)), priority=5),
    Column("validated", lambda s: "yes" if s.validated else "no", right=False, priority=7),
    Column("source", lambda s: s.source.replace("_", " "), right=False, priority=3),
    Column("create", lambda s: safe(s.create_statement), right=False, flex=True, min_width=30),
)


def database_lines(d: DatabaseStatistics) -> list[tuple[str, str]]:
    """Label/value pairs of the database statistics worth a glance."""
    return [
        ("database", safe(d.database)),
        ("size", size(d.size_bytes)),
        ("backends", num(d.backends)),
        ("cache hit", pct(d.cache_hit_ratio)),
        ("commits / rollbacks", f"{num(d.commits)} / {num(d.rollbacks)}"),
        ("blocks hit / read", f"{num(d.blks_hit)} / {num(d.blks_read)}"),
        ("rows returned / fetched", f"{num(d.tup_returned)} / {num(d.tup_fetched)}"),
        (
            "rows ins / upd / del",
            f"{num(d.tup_inserted)} / {num(d.tup_updated)} / {num(d.tup_deleted)}",
        ),
        ("temp files", f"{num(d.temp_files)} ({size(d.temp_bytes)})"),
        ("deadlocks / conflicts", f"{num(d.deadlocks)} / {num(d.conflicts)}"),
        ("stats reset", "-" if d.stats_reset is None else d.stats_reset.isoformat()),
    ]

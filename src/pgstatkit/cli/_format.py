"""Rendering of results for the command line: ``table``, ``markdown`` and ``json``.

Standard library only. Tables fit the terminal width (``shutil.get_terminal_size``,
which honours ``COLUMNS``): low-priority columns are dropped first, then the one
free-text column (a query text, an index definition) is cut with an ellipsis.

Text from the database is untrusted: any role can put escape sequences in a statement
comment, and a table owner can name a table with a newline. Every cell, plan line,
setup finding and database name goes through :func:`safe`, which escapes control and
format characters visibly; :func:`json_dump` escapes the ones ``json.dumps`` leaves raw.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pgstatkit.models import (
    DatabaseStatistics,
    IndexUsage,
    QueryPlan,
    QueryStat,
    SetupReport,
    TableStatistics,
)

__all__ = [
    "Column",
    "database_lines",
    "json_dump",
    "markdown_table",
    "plan_lines",
    "query_columns",
    "safe",
    "setup_lines",
    "table",
    "terminal_width",
]

ELLIPSIS = "…"
_SPACE_RE = re.compile(r"\s+")
_MIN_FLEX = 16


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


def _unsafe(ch: str) -> bool:
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
    return "".join(_escape_char(ch) if _unsafe(ch) else ch for ch in text)


def terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` wins), at least 40."""
    return max(40, shutil.get_terminal_size((100, 24)).columns)


def one_line(text: str | None) -> str:
    """Collapse whitespace (newlines in a query text) into single spaces."""
    if text is None:
        return "<not visible>"
    return _SPACE_RE.sub(" ", text).strip()


def cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in an ellipsis when cut."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    return text[: width - 1] + ELLIPSIS


# json.dumps(ensure_ascii=False) escapes C0 controls but leaves DEL, C1 controls and the
# format / separator characters raw: :func:`json_dump` looks at every non-ASCII character.
_NOT_ASCII = re.compile("[^\x00-\x7e]")


def _json_escape(match: re.Match[str]) -> str:
    ch = match.group()
    if not _unsafe(ch):
        return ch
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)  # a UTF-16 surrogate pair, as JSON wants
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"


def json_dump(value: Any) -> str:
    """JSON of ``value``: UTF-8 text, with every control or format character as ``\\uXXXX``.

    The characters only ever occur inside JSON strings, where ``\\uXXXX`` means the same
    character: ``json.loads`` gives back exactly the data.
    """
    text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False, default=str)
    return _NOT_ASCII.sub(_json_escape, text)


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


# ----------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    """One column: header, cell text of a row, right-aligned?, priority (high = kept)."""

    header: str
    cell: Callable[[Any], str]
    right: bool = True
    priority: int = 5
    flex: bool = False
    min_width: int = _MIN_FLEX


def _cell(column: Column, row: Any) -> str:
    """The text of one cell, made safe for a terminal (:func:`safe`)."""
    return safe(column.cell(row))


def _fit(
    columns: Sequence[Column], cells: dict[int, list[str]], width: int
) -> list[tuple[Column, int]]:
    natural = {id(c): max([len(c.header), *(len(x) for x in cells[id(c)])]) for c in columns}
    kept = list(columns)

    def needed(cols: list[Column]) -> int:
        fixed = sum(natural[id(c)] for c in cols if not c.flex)
        flex = sum(min(natural[id(c)], c.min_width) for c in cols if c.flex)
        return fixed + flex + 2 * (len(cols) - 1)

    while needed(kept) > width and len(kept) > 1:
        droppable = [c for c in kept if not c.flex]
        if not droppable:
            break
        kept.remove(min(droppable, key=lambda c: c.priority))
    fixed = sum(natural[id(c)] for c in kept if not c.flex) + 2 * (len(kept) - 1)
    result = []
    for c in kept:
        w = natural[id(c)]
        if c.flex:
            w = max(min(w, width - fixed), min(w, c.min_width))
        result.append((c, w))
    return result


def table(columns: Sequence[Column], rows: Sequence[Any], width: int | None = None) -> list[str]:
    """Lines of an aligned text table no wider than ``width`` (the terminal's)."""
    width = terminal_width() if width is None else width
    if not rows:
        return ["(none)"]
    cells = {id(c): [_cell(c, r) for r in rows] for c in columns}
    fitted = _fit(columns, cells, width)

    def line(texts: list[str]) -> str:
        parts = []
        for (col, w), text in zip(fitted, texts, strict=True):
            text = cut(text, w)
            parts.append(text.rjust(w) if col.right else text.ljust(w))
        return "  ".join(parts).rstrip()

    out = [line([safe(c.header) for c, _ in fitted])]
    out.append("  ".join("-" * w for _, w in fitted))
    out += [line([cells[id(c)][i] for c, _ in fitted]) for i in range(len(rows))]
    return out


def _md_cell(text: str) -> str:
    """A Markdown table cell: backslash and pipe escaped, HTML characters as entities."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\\", "\\\\").replace("|", "\\|")


def markdown_table(columns: Sequence[Column], rows: Sequence[Any]) -> list[str]:
    """A GitHub-flavoured Markdown table (every column, nothing cut but whitespace)."""
    if not rows:
        return ["_(none)_"]
    out = ["| " + " | ".join(_md_cell(safe(c.header)) for c in columns) + " |"]
    out.append("| " + " | ".join("---:" if c.right else "---" for c in columns) + " |")
    out += ["| " + " | ".join(_md_cell(_cell(c, r)) for c in columns) + " |" for r in rows]
    return out


# ----------------------------------------------------------------------- column sets


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


def setup_lines(report: SetupReport, width: int | None = None) -> list[str]:
    """The findings, one block each (severity, check, what was found, why, fix)."""
    width = terminal_width() if width is None else width
    out: list[str] = []
    for f in report.findings:
        head = f"[{f.severity.upper():<7}] {safe(f.check)}: {safe(f.found)}"
        out += textwrap.wrap(head, width, subsequent_indent=" " * 10) or [head]
        if f.severity != "ok":
            out += textwrap.wrap(
                f"why: {safe(f.why)}", width, initial_indent=" " * 10, subsequent_indent=" " * 15
            )
        if f.fix is not None and f.severity != "ok":
            restart = " (restart required)" if f.restart_required else ""
            out += textwrap.wrap(
                f"fix: {safe(f.fix)}{restart}",
                width,
                initial_indent=" " * 10,
                subsequent_indent=" " * 15,
                break_on_hyphens=False,
            )
    return out


def _plan_node(node: dict[str, Any], depth: int, out: list[str]) -> None:
    label = str(node.get("Node Type", "?"))
    for key in ("Relation Name", "Index Name"):
        if key in node:
            label += f" on {node[key]}" if key == "Relation Name" else f" using {node[key]}"
    cost = f"cost={node.get('Startup Cost', 0)}..{node.get('Total Cost', 0)}"
    rows = f"rows={node.get('Plan Rows', '?')}"
    actual = ""
    if "Actual Total Time" in node:
        actual = (
            f" (actual time={node['Actual Total Time']} ms rows={node.get('Actual Rows', '?')}"
            f" loops={node.get('Actual Loops', '?')})"
        )
    prefix = "  " * depth + ("-> " if depth else "")
    out.append(f"{prefix}{label}  ({cost} {rows}){actual}")
    indent = "  " * depth + ("   " if depth else "")
    out.extend(
        f"{indent}  {key}: {node[key]}"
        for key in ("Filter", "Index Cond", "Hash Cond", "Join Filter")
        if key in node
    )
    for child in node.get("Plans", []) or []:
        if isinstance(child, dict):
            _plan_node(child, depth + 1, out)


def plan_lines(plan: QueryPlan) -> list[str]:
    """An indented plan tree like ``EXPLAIN``'s text format, plus a summary.

    Relation and index names and conditions come from the database: every line is
    made safe for a terminal (:func:`safe`).
    """
    out: list[str] = []
    root = plan.plan.get("Plan")
    if isinstance(root, dict):
        _plan_node(root, 0, out)
        out = [safe(line) for line in out]
    summary = [f"total cost {plan.total_cost}", f"estimated rows {plan.plan_rows}"]
    if plan.generic:
        summary.append("generic plan (no parameter values)")
    if plan.analyzed:
        summary += [
            f"planning {ms(plan.planning_time_ms)} ms",
            f"execution {ms(plan.execution_time_ms)} ms",
            f"shared blocks hit {num(plan.shared_blks_hit)} read {num(plan.shared_blks_read)}",
        ]
    out.append("")
    out.append("; ".join(summary))
    return out


KIND_COLUMNS: dict[type, tuple[Column, ...]] = {
    QueryStat: QUERY_COLUMNS,
    TableStatistics: TABLE_COLUMNS,
    IndexUsage: INDEX_COLUMNS,
}

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
from collections.abc import Sequence
from typing import Any

from pgstatkit._display import (
    ELLIPSIS,
    INDEX_COLUMNS,
    QUERY_COLUMNS,
    SCOPE_COLUMNS,
    TABLE_COLUMNS,
    Column,
    cut,
    database_lines,
    ms,
    num,
    one_line,
    pct,
    query_columns,
    safe,
    size,
    unsafe_char,
)
from pgstatkit.models import IndexUsage, QueryPlan, QueryStat, SetupReport, TableStatistics

__all__ = [
    "ELLIPSIS",
    "INDEX_COLUMNS",
    "KIND_COLUMNS",
    "QUERY_COLUMNS",
    "SCOPE_COLUMNS",
    "TABLE_COLUMNS",
    "Column",
    "cut",
    "database_lines",
    "ident",
    "json_dump",
    "markdown_table",
    "md_cell",
    "ms",
    "num",
    "one_line",
    "pct",
    "plan_lines",
    "query_columns",
    "safe",
    "setup_lines",
    "size",
    "table",
    "terminal_width",
]


def ident(name: str) -> str:
    """A name from the database in a message: quoted as an SQL identifier (an inner
    ``"`` doubled, so the message shows where the name ends) and made :func:`safe`.

    The one way the command line quotes a database, schema or role name.
    """
    return safe('"' + name.replace('"', '""') + '"')


def terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` wins), at least 40."""
    return max(40, shutil.get_terminal_size((100, 24)).columns)


# json.dumps(ensure_ascii=False) escapes C0 controls but leaves DEL, C1 controls and the
# format / separator characters raw: :func:`json_dump` looks at every non-ASCII character.
_NOT_ASCII = re.compile("[^\x00-\x7e]")


def _json_escape(match: re.Match[str]) -> str:
    ch = match.group()
    if not unsafe_char(ch):
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


# ----------------------------------------------------------------------- tables


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


def md_cell(text: str) -> str:
    """A Markdown table cell: backslash and pipe escaped, HTML characters as entities."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\\", "\\\\").replace("|", "\\|")


def markdown_table(columns: Sequence[Column], rows: Sequence[Any]) -> list[str]:
    """A GitHub-flavoured Markdown table (every column, nothing cut but whitespace)."""
    if not rows:
        return ["_(none)_"]
    out = ["| " + " | ".join(md_cell(safe(c.header)) for c in columns) + " |"]
    out.append("| " + " | ".join("---:" if c.right else "---" for c in columns) + " |")
    out += ["| " + " | ".join(md_cell(_cell(c, r)) for c in columns) + " |" for r in rows]
    return out


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

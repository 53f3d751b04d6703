"""Terminal safety of the CLI renderers (``pgstatkit.cli._format``), as properties.

Whatever text the database holds, no column renderer, table, Markdown table, plan,
setup or database view lets a control or format character through, a row stays one
line, and JSON gives the data back exactly without raw C1 or bidi characters.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pgstatkit.cli import _format as fmt
from pgstatkit.models import (
    DatabaseStatistics,
    QueryPlan,
    QueryStat,
    SetupFinding,
    SetupReport,
)

UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}

# Any text, with the dangerous characters much more likely than uniform sampling makes
# them: ESC/BEL/CSI, newlines, DEL, C1, bidi overrides and isolates, zero-width, BOM,
# line separators, a tag character, a lone surrogate.
HOSTILE = st.sampled_from(
    [
        *"\x1b\x07\x08\n\r\t\x00\x7f\x85\x9b\u200b\u200d\u200e\u202a\u202e\u2066\u2069\ufeff",
        *("\u2028", "\U000e0041", "\ud800", "|", "\\", "<", "&"),
    ]
)
TEXT = st.lists(st.one_of(HOSTILE, st.characters()), max_size=40).map("".join)


def unsafe(text: str) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch) in UNSAFE_CATEGORIES]


def _model(model: type[Any], text: str) -> Any:
    values: dict[str, Any] = {}
    for i, f in enumerate(dataclasses.fields(model)):
        kind = str(f.type)
        if "str" in kind:
            values[f.name] = text
        elif "datetime" in kind:
            values[f.name] = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        elif kind.startswith("float"):
            values[f.name] = i + 0.5
        elif kind.startswith("bool"):
            values[f.name] = True
        else:
            values[f.name] = i
    return model(**values)


ROW_KINDS = [(QueryStat, fmt.query_columns(all_databases=True)), *fmt.KIND_COLUMNS.items()]


@settings(max_examples=200)
@given(TEXT, st.integers(40, 200))
def test_no_control_character_survives_any_column_renderer(text: str, width: int) -> None:
    for model, columns in ROW_KINDS:
        rows = [_model(model, text), _model(model, text + "x")]
        for column in columns:
            assert not unsafe(fmt.safe(column.cell(rows[0])))
        lines = fmt.table(columns, rows, width)
        assert len(lines) == 2 + len(rows)  # header, rule, one line per row
        assert not unsafe("".join(lines))
        markdown = fmt.markdown_table(columns, rows)
        assert len(markdown) == 2 + len(rows)
        assert not unsafe("".join(markdown))
        assert "<" not in "".join(markdown)


@given(TEXT)
def test_safe_escapes_visibly_and_keeps_printable_text(text: str) -> None:
    shown = fmt.safe(text)
    assert not unsafe(shown)
    if not unsafe(text):
        assert shown == text
    assert fmt.safe("\x1b]0;t\x07\u202e\n") == "\\x1b]0;t\\x07\\u202e\\n"


@given(TEXT)
def test_json_round_trips_without_raw_controls(text: str) -> None:
    data = {"query": text, "nested": [text, {"k": text}]}
    dumped = fmt.json_dump(data)
    assert not unsafe(dumped.replace("\n", ""))
    assert json.loads(dumped) == data


@given(TEXT)
def test_plan_setup_and_database_views_are_safe(text: str) -> None:
    node = {
        "Node Type": text,
        "Relation Name": text,
        "Index Name": text,
        "Filter": text,
        "Plans": [{"Node Type": "Seq Scan", "Hash Cond": text}],
    }
    plan = QueryPlan(text, {"Plan": node}, 1.0, 0.0, 1.0, text, False, False, *[None] * 5)
    assert not unsafe("".join(fmt.plan_lines(plan)))
    finding = SetupFinding(text, "warning", text, text, text, True, text)
    assert not unsafe("".join(fmt.setup_lines(SetupReport((finding,)), width=60)))
    pairs = fmt.database_lines(_model(DatabaseStatistics, text))
    assert not unsafe("".join(value for _, value in pairs))

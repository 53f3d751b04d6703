"""Markdown output keeps its table shape whatever the database's text holds: a pipe or
a backslash in a value never adds or removes a cell (GitHub-flavoured Markdown splits
a row at every pipe that a backslash does not escape, and ``\\\\`` is an escaped
backslash, so ``\\\\|`` ends a cell)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pgstatkit.cli import Out
from pgstatkit.cli import _format as fmt
from pgstatkit.models import DatabaseStatistics

TEXT = st.lists(st.sampled_from(["|", "\\", "a", " ", "<", "&", "`"]), max_size=20).map("".join)


def cells(row: str) -> list[str]:
    """The cells of a Markdown table row, split as GFM (cmark-gfm) splits them."""
    assert row.startswith("|") and row.endswith("|"), row
    found, current, i = [], "", 1
    while i < len(row) - 1:
        if row[i] == "\\" and i + 1 < len(row) - 1:
            current += row[i : i + 2]
            i += 2
            continue
        if row[i] == "|":
            found.append(current)
            current = ""
        else:
            current += row[i]
        i += 1
    if row[-2:] == "\\|":  # the closing pipe escaped: the row has lost its end
        return [*found, current + "\\|"]
    return [*found, current]


def _database(name: str) -> DatabaseStatistics:
    values: dict[str, object] = dict.fromkeys(DatabaseStatistics.__dataclass_fields__, 0)
    values.update(database=name, cache_hit_ratio=None, stats_reset=None)
    values.update(blk_read_time_ms=0.0, blk_write_time_ms=0.0)
    return DatabaseStatistics(**values)  # type: ignore[arg-type]


@given(TEXT)
def test_markdown_pairs_keep_two_cells(name: str) -> None:
    pairs = fmt.database_lines(_database(name))
    for row in Out("markdown").pairs(pairs)[2:]:
        assert len(cells(row)) == 2, row


@given(TEXT)
def test_markdown_table_cells_stay_cells(text: str) -> None:
    columns = (fmt.Column("a", lambda r: r, right=False), fmt.Column("b", lambda r: "x"))
    for row in fmt.markdown_table(columns, [text]):
        if not row.startswith("| -"):
            assert len(cells(row)) == 2, row

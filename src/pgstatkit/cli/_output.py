"""Where the command line's results go: stdout, as ``table``, ``markdown`` or ``json``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from pgstatkit.cli import _format as fmt
from pgstatkit.models import SetupReport

__all__ = ["Out"]


class Out:
    """Writes results in the chosen format (``--format``) to stdout."""

    def __init__(self, form: str) -> None:
        self.form = form

    def write(self, lines: Sequence[str]) -> None:
        sys.stdout.write("\n".join(lines) + "\n")

    def json(self, value: Any) -> None:
        """Write ``value`` (a model, a list of models, or plain data) as JSON."""
        if isinstance(value, list):
            value = [item.to_dict() for item in value]
        elif hasattr(value, "to_dict"):
            value = value.to_dict()
        self.write([fmt.json_dump(value)])

    def title(self, text: str) -> list[str]:
        if self.form == "markdown":
            return [f"## {text}", ""]
        return [text, "=" * min(len(text), fmt.terminal_width())]

    def rows(self, rows: Sequence[Any], columns: Sequence[fmt.Column]) -> list[str]:
        if self.form == "markdown":
            return fmt.markdown_table(columns, rows)
        return fmt.table(columns, rows)

    def pairs(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        if self.form == "markdown":
            return ["| | |", "| --- | ---: |", *(f"| {k} | {fmt.md_cell(v)} |" for k, v in pairs)]
        width = max(len(k) for k, _ in pairs)
        return [f"{k.ljust(width)}  {v}" for k, v in pairs]

    def setup(self, report: SetupReport) -> list[str]:
        lines = fmt.setup_lines(report)
        conf = [fmt.safe(ln) for ln in report.postgresql_conf().splitlines()]
        if self.form == "markdown":
            head = ["```", *lines, "```", "", "Recommended `postgresql.conf`:", ""]
            return [*head, "```", *conf, "```"]
        return [*lines, "", "Recommended postgresql.conf:", *("  " + ln for ln in conf)]

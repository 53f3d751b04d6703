"""The subcommands made from the reports of :mod:`pgstatkit.reports` (``slow``, ``top``,
``low-cache``, ``db``, ``tables``, ``indexes``, and any report registered with a
``command``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pgstatkit.cli._base import EXIT_OK
from pgstatkit.cli._connect import connect, import_psycopg, run_operation
from pgstatkit.cli._options import add_param
from pgstatkit.cli._output import Out
from pgstatkit.cli.commands._command import Command
from pgstatkit.reports import Report

__all__ = ["report_command", "run_report", "show"]


def run_report(report: Report, args: argparse.Namespace, out: Out) -> int:
    """Run ``report`` with the options' values and write its result."""
    import_psycopg()
    values = {p.name: getattr(args, p.name) for p in report.params if p.cli}
    with connect(args) as conn:
        op = report.operation(**report.arguments(values), timeout_ms=args.timeout_ms)
        shown = report.progress is not None and sys.stderr.isatty()
        if shown:  # a slow report: say what it does on a terminal, nothing when piped
            sys.stderr.write(f"pgstatkit {report.command}: {report.progress}...")
            sys.stderr.flush()
        try:
            result = run_operation(conn, op)
        finally:
            if shown:
                sys.stderr.write("\r\x1b[K")
                sys.stderr.flush()
    if report.keep is not None:
        result = [row for row in result if report.keep(row, values)]
    if out.form == "json":
        out.json(result)
    else:
        out.write([*out.title(report.title.format(**values)), *show(report, result, values, out)])
    return EXIT_OK


def show(report: Report, result: Any, values: dict[str, Any], out: Out) -> list[str]:
    """The lines of a report's result under its title: a table, or label/value pairs."""
    if report.lines is not None:
        return out.pairs(report.lines(result))
    return out.rows(result, report.display_columns(values))


def report_command(report: Report) -> Command:
    """The subcommand of ``report``: its options are the report's parameters."""
    assert report.command is not None

    def add_arguments(p: argparse.ArgumentParser) -> None:
        for param in report.params:
            if param.cli:
                add_param(p, param)

    def run(args: argparse.Namespace, out: Out) -> int:
        return run_report(report, args, out)

    return Command(report.command, report.help, add_arguments, run)

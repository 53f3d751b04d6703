"""``pgstatkit report``: everything in one view (setup check, database, and the sections
of the reports that have an ``overview`` title in :mod:`pgstatkit.reports`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pgstatkit import reports
from pgstatkit.cli import _format as fmt
from pgstatkit.cli._base import EXIT_EXTENSION, EXIT_OK, EXTENSION_ERRORS
from pgstatkit.cli._connect import blocking_api, connect, run_operation
from pgstatkit.cli._errors import extension_message
from pgstatkit.cli._options import add_param, add_schema
from pgstatkit.cli._output import Out
from pgstatkit.cli.commands import _history_report
from pgstatkit.cli.commands._command import Command
from pgstatkit.cli.commands.health import health_lines
from pgstatkit.cli.commands.listing import show
from pgstatkit.errors import ExtraNotInstalledError
from pgstatkit.models import HealthReport

__all__ = ["COMMAND", "build_report"]

PARAMS = (
    reports.min_duration_ms("slow-query threshold on the mean execution time (default 1000)"),
    reports.max_cache_hit_ratio("low-cache-hit threshold, a fraction 0..1 (default 0.9)"),
    reports.limit(10, "rows per section (default 10)"),
)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    for param in PARAMS:
        add_param(p, param)
    add_schema(p, "pgstatkit's helper schema, for the setup check (default pgstatkit)")
    for param in reports.STATEMENT_SCOPE:
        add_param(p, param)
    _history_report.add_arguments(p)


def _section(
    conn: Any, out: Out, report: reports.Report, values: dict[str, Any], data: dict[str, Any]
) -> tuple[list[str], bool]:
    """The lines of one section and whether it ran (``data`` gets its JSON)."""
    assert report.overview is not None
    title = out.title(report.overview.format(**values))
    op = report.operation(**report.arguments(values), timeout_ms=values["timeout_ms"])
    try:
        rows = run_operation(conn, op)
    except ExtraNotInstalledError as exc:  # the index suggestions without pglast
        data[report.name] = None
        data.setdefault("errors", {})[report.name] = str(exc)
        return [*title, f"(skipped: {exc})", ""], True
    except EXTENSION_ERRORS as exc:
        if not report.needs_pg_stat_statements:
            raise
        message = extension_message(exc, conn.info.dbname)
        data[report.name] = None
        data.setdefault("errors", {})[report.name] = message
        return [*title, f"(skipped: {message})", ""], False
    data[report.name] = [r.to_dict() for r in rows]
    return [*title, *show(report, rows, values, out), ""], True


def _health_section(out: Out, report: HealthReport) -> list[str]:
    """The health checks' problems (and a line per check that is ok), as
    ``pgstatkit health`` shows them; fenced in Markdown."""
    lines = health_lines(report, show_ok=False)
    return ["```", *lines, "```"] if out.form == "markdown" else lines


def build_report(
    conn: Any,
    out: Out,
    *,
    min_duration_ms: float,
    max_cache_hit_ratio: float,
    limit: int,
    all_databases: bool,
    schema: str,
    timeout_ms: float | None,
    include_pgstatkit: bool = False,
    group_by: str = "queryid",
) -> tuple[list[str], int]:
    """The lines of the full report, and its exit code (4 if pg_stat_statements is unusable)."""
    from pgstatkit.sync import stats

    values: dict[str, Any] = {
        "min_duration_ms": min_duration_ms,
        "max_cache_hit_ratio": max_cache_hit_ratio,
        "limit": limit,
        "all_databases": all_databases,
        "include_pgstatkit": include_pgstatkit,
        "group_by": group_by,
        "timeout_ms": timeout_ms,
    }
    code = EXIT_OK
    data: dict[str, Any] = {}
    lines: list[str] = []
    for report in reports.in_overview():
        section, ran = _section(conn, out, report, values, data)
        lines += section
        code = code if ran else EXIT_EXTENSION
    setup = stats.check_setup(conn, schema=schema, timeout_ms=timeout_ms)
    database = stats.database_statistics(conn, timeout_ms=timeout_ms)
    health = stats.health(conn, timeout_ms=timeout_ms)
    head = [*out.title("Setup check"), *out.setup(setup), ""]
    head += [*out.title("Database"), *out.pairs(fmt.database_lines(database)), ""]
    head += [*out.title(f"Health ({health.worst})"), *_health_section(out, health), ""]
    data = {
        "setup": setup.to_dict(),
        "database": database.to_dict(),
        "health": health.to_dict(),
        **data,
    }
    if out.form == "json":
        return [fmt.json_dump(data)], code
    return head + lines, code


def _run(args: argparse.Namespace, out: Out) -> int:
    if args.since is not None:
        return _history_report.run(args, out)
    _history_report.refuse_history_options(args)
    blocking_api()
    with connect(args) as conn:
        lines, code = build_report(
            conn,
            out,
            min_duration_ms=args.min_duration_ms,
            max_cache_hit_ratio=args.max_cache_hit_ratio,
            limit=args.limit,
            all_databases=args.all_databases,
            schema=args.schema,
            timeout_ms=args.timeout_ms,
            include_pgstatkit=args.include_pgstatkit,
            group_by=args.group_by,
        )
    out.write(lines)
    if code == EXIT_EXTENSION:
        sys.stderr.write(
            "pgstatkit: some sections were skipped: pg_stat_statements is not usable "
            "(see the setup check)\n"
        )
    return code


COMMAND = Command(
    "report",
    "everything in one view: setup check, database, health, queries, tables, indexes; "
    "with --since, the report of a period of history (HTML, email)",
    _add_arguments,
    _run,
)

"""``pgstatkit health``: the health checks; the exit code is the worst severity found
(0 ok, 20 unknown, 21 warning, 22 critical), so cron and CI can act on it."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from pgstatkit import _health
from pgstatkit.cli import _format as fmt
from pgstatkit.cli._base import (
    EXIT_BAD_ARGUMENTS,
    EXIT_HEALTH_CRITICAL,
    EXIT_HEALTH_UNKNOWN,
    EXIT_HEALTH_WARNING,
    EXIT_OK,
    CliError,
)
from pgstatkit.cli._connect import api_options, blocking_api, connect
from pgstatkit.cli._output import Out
from pgstatkit.cli.commands._command import Command
from pgstatkit.errors import InvalidArgumentError
from pgstatkit.models import HealthReport, HealthSeverity

__all__ = ["COMMAND", "EXIT_BY_SEVERITY", "health_lines"]

EXIT_BY_SEVERITY: dict[HealthSeverity, int] = {
    "ok": EXIT_OK,
    "unknown": EXIT_HEALTH_UNKNOWN,
    "warning": EXIT_HEALTH_WARNING,
    "critical": EXIT_HEALTH_CRITICAL,
}
"""The exit code of ``pgstatkit health`` for the worst severity of its findings."""


def _number(text: str) -> float | int:
    value = float(text)
    return (
        int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    )


def _threshold(text: str) -> tuple[str, float | int]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name.strip(), _number(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--check",
        action="append",
        choices=list(_health.CHECKS),
        metavar="NAME",
        help="run only this check (repeatable; default all): " + ", ".join(_health.CHECKS),
    )
    p.add_argument(
        "--threshold",
        action="append",
        type=_threshold,
        default=[],
        metavar="NAME=VALUE",
        help="override a threshold (repeatable), e.g. long_query_warning_ms=30000; "
        "docs/health.md lists them",
    )
    p.add_argument(
        "--pgstattuple",
        action="store_true",
        help="bloat: measure with the pgstattuple extension (reads each relation) "
        "instead of estimating",
    )
    p.add_argument(
        "--all",
        action="store_true",
        dest="show_ok",
        help="also list the checks that are ok (one line each)",
    )


def _wrap(text: str, width: int, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for part in text.splitlines() or [""]:
        lines += textwrap.wrap(
            fmt.safe(part),
            width,
            initial_indent=pad,
            subsequent_indent=pad + "  ",
            break_on_hyphens=False,
        ) or [pad]
    return lines


def _evidence(finding: Any) -> str:
    parts = []
    for m in finding.evidence:
        if m.value is None:
            parts.append(f"{m.name}=n/a")
        elif m.unit == "ratio":
            parts.append(f"{m.name}={m.value:.2%}")
        else:
            shown = f"{m.value:,.0f}" if float(m.value).is_integer() else f"{m.value:,.1f}"
            parts.append(f"{m.name}={shown}")
    return ", ".join(parts)


def health_lines(
    report: HealthReport, *, show_ok: bool = True, width: int | None = None
) -> list[str]:
    """The findings as text: the problems worst first, each with its evidence, fix and
    risk; then (``show_ok``) one line per check that is ok. Text from the server is
    escaped (:func:`pgstatkit.cli._format.safe`)."""
    width = fmt.terminal_width() if width is None else width
    out: list[str] = []
    for f in report.problems:
        where = f" {f.object}" if f.object else ""
        out += _wrap(f"[{f.severity.upper():<8}] {f.check}{where}", width, 0)
        out += _wrap(f.explanation, width, 11)
        if f.evidence:
            out += _wrap("evidence: " + _evidence(f), width, 11)
        if f.detail:
            out += _wrap("detail: " + f.detail, width, 11)
        if f.fix:
            out += _wrap("fix: " + f.fix, width, 11)
        if f.risk:
            out += _wrap("risk: " + f.risk, width, 11)
    if show_ok:
        for name in report.checks:
            found = report.for_check(name)
            if all(f.severity == "ok" for f in found):
                out += _wrap(f"[OK      ] {name}: {found[0].explanation}", width, 0)
    if not out:
        ok = len(report.checks)
        out.append(f"all {ok} check(s) ok" if report.worst == "ok" else "")
    return out


def _run(args: argparse.Namespace, out: Out) -> int:
    thresholds: dict[str, Any] = dict(args.threshold)
    try:  # checked before connecting
        checks = _health.check_names(args.check)
        _health.threshold_values(thresholds)
    except InvalidArgumentError as exc:
        raise CliError(str(exc), EXIT_BAD_ARGUMENTS) from None
    stats = blocking_api()
    with connect(args) as conn:
        report = stats.health(conn, checks=list(checks), thresholds=thresholds, **api_options(args))
    if out.form == "json":
        out.json(report)
    else:
        lines = [
            *out.title(f"Health ({report.worst})"),
            *health_lines(report, show_ok=args.show_ok),
        ]
        if out.form == "markdown":
            lines = [*out.title(f"Health ({report.worst})"), "```", *lines[2:], "```"]
        out.write(lines)
    return EXIT_BY_SEVERITY[report.worst]


COMMAND = Command(
    "health",
    "health checks (indexes, bloat, wraparound, sequences, sessions, vacuum, replication...), "
    "each finding with its fix; exit 20/21/22 for unknown/warning/critical",
    _add_arguments,
    _run,
)

"""``pgstatkit check``: run the checks once (cron, CI) and exit 7 when a finding reaches
``--fail-on``; ``--webhook URL`` posts the summary (:mod:`pgstatkit.checks`)."""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
from collections.abc import Callable
from typing import Any

from pgstatkit import checks
from pgstatkit.checks import CheckFinding
from pgstatkit.cli import _format as fmt
from pgstatkit.cli._base import EXIT_ERROR, EXIT_OK, EXIT_SETUP_ERRORS
from pgstatkit.cli._connect import blocking_api, connect
from pgstatkit.cli._options import add_schema
from pgstatkit.cli._output import Out
from pgstatkit.cli.commands import _history_report
from pgstatkit.cli.commands._command import Command
from pgstatkit.errors import PgStatKitError

__all__ = ["COMMAND", "SOURCES"]

WEBHOOK_ENV = "PGSTATKIT_WEBHOOK_URL"

COLUMNS = (
    fmt.Column("severity", lambda f: f.severity, right=False, priority=9),
    fmt.Column("source", lambda f: f.source, right=False, priority=8),
    fmt.Column("check", lambda f: f.check, right=False, priority=7),
    fmt.Column("finding", lambda f: f.message, right=False, priority=6, flex=True),
    fmt.Column("fix", lambda f: f.fix or "", right=False, priority=3, flex=True),
)

Source = Callable[[Any, argparse.Namespace], list[CheckFinding] | str]
"""A source of findings: the findings, or why it was skipped."""


def _setup(conn: Any, args: argparse.Namespace) -> list[CheckFinding] | str:
    stats = blocking_api()
    report = stats.check_setup(conn, schema=args.schema, timeout_ms=args.timeout_ms)
    return checks.from_setup(report)


def _health(conn: Any, args: argparse.Namespace) -> list[CheckFinding] | str:
    stats = blocking_api()
    run = getattr(stats, "health", None)
    if run is None:
        return "this pgstatkit has no health checks"
    return checks.from_health(run(conn, timeout_ms=args.timeout_ms))


def _regressions(conn: Any, args: argparse.Namespace) -> list[CheckFinding] | str:
    blocking_api()
    from pgstatkit._history import HistoryNotInstalledError
    from pgstatkit.sync import regressions

    try:
        report = regressions.regressions(
            conn, window=args.window, schema=args.schema, timeout_ms=args.timeout_ms
        )
    except HistoryNotInstalledError:
        return "history is not installed here (pgstatkit install; docs/history.md)"
    if report.window.intervals == 0 or not any(p.intervals for p in report.baseline):
        return "not enough history yet (" + "; ".join(report.notes) + ")"
    return checks.from_regressions(report)


SOURCES: dict[str, Source] = {"setup": _setup, "health": _health, "regressions": _regressions}
"""The sources of ``pgstatkit check``, in order (health and regressions when present)."""


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--fail-on",
        choices=checks.LEVELS,
        default="critical",
        help="exit 7 when a finding has this severity or a higher one (default critical)",
    )
    p.add_argument(
        "--webhook",
        metavar="URL",
        default=None,
        help=f"POST a JSON summary (Slack-compatible 'text') here when a finding reaches "
        f"--fail-on; default ${WEBHOOK_ENV} (keeps the URL, often a secret, out of ps)",
    )
    p.add_argument(
        "--webhook-always",
        action="store_true",
        help="post the summary also when nothing reached --fail-on",
    )
    p.add_argument(
        "--webhook-attempts",
        type=int,
        default=4,
        metavar="N",
        help="attempts in all, with exponential backoff from 1 s (default 4)",
    )
    p.add_argument(
        "--webhook-backoff",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds before the second attempt, doubling after (default 1)",
    )
    p.add_argument(
        "--window",
        type=_history_report.span,
        default=_dt.timedelta(hours=1),
        metavar="DURATION",
        help="regressions: the recent window compared with the same window on the 7 days "
        "before (default 1h)",
    )
    add_schema(p, "pgstatkit's helper schema (default pgstatkit)")


def _gather(conn: Any, args: argparse.Namespace) -> tuple[list[CheckFinding], list[str], list[str]]:
    findings: list[CheckFinding] = []
    ran: list[str] = []
    skipped: list[str] = []
    for name, source in SOURCES.items():
        try:
            found = source(conn, args)
        except PgStatKitError as exc:
            # one source failing (no privilege, extension missing) does not hide the others
            findings.append(CheckFinding(name, "error", "critical", str(exc)))
            ran.append(name)
            continue
        if isinstance(found, str):
            skipped.append(f"{name}: {found}")
        else:
            findings += found
            ran.append(name)
    return findings, ran, skipped


def _run(args: argparse.Namespace, out: Out) -> int:
    webhook = args.webhook or os.environ.get(WEBHOOK_ENV) or None
    if webhook is not None:
        checks.check_webhook_url(webhook)  # before connecting: a typo fails at once
    with connect(args) as conn:
        database = str(conn.info.dbname)
        findings, ran, skipped = _gather(conn, args)
    result = checks.CheckResult.of(
        findings, fail_on=args.fail_on, sources=ran, skipped=skipped, database=database
    )
    if out.form == "json":
        out.json(result.payload())
    else:
        verdict = "OK" if result.ok else f"FAILED: a finding reached --fail-on {result.fail_on}"
        counts = ", ".join(f"{n} {lv}" for lv, n in reversed(result.counts().items()))
        lines = [*out.title(f"Check of {fmt.ident(database)}: {verdict}"), counts, ""]
        lines += out.rows(list(result.findings), COLUMNS)
        lines += [fmt.safe(f"skipped {s}") for s in result.skipped]
        out.write(lines)
    code = EXIT_OK if result.ok else EXIT_SETUP_ERRORS
    if webhook is not None and (args.webhook_always or not result.ok):
        try:
            checks.post_webhook(
                webhook,
                result.payload(),
                attempts=args.webhook_attempts,
                backoff_s=args.webhook_backoff,
            )
        except PgStatKitError as exc:
            sys.stderr.write(f"pgstatkit: error: {fmt.safe(str(exc))}\n")
            return code if code != EXIT_OK else EXIT_ERROR
    return code


COMMAND = Command(
    "check",
    "run the checks once (cron, CI): exit 7 when a finding reaches --fail-on; "
    "--webhook posts a summary",
    _add_arguments,
    _run,
)

"""``pgstatkit report --since 7d``: the report of a period of history
(:mod:`pgstatkit.history_report`): on the terminal (sparklines), as Markdown or JSON
(``--format``), as a self-contained HTML file (``--html FILE``) and by email
(``--email-to``; SMTP credentials from the environment only)."""

from __future__ import annotations

import argparse
import datetime as _dt
import re
import sys
import time
from pathlib import Path

from pgstatkit.cli._base import EXIT_BAD_ARGUMENTS, EXIT_OK, CliError
from pgstatkit.cli._connect import blocking_api, connect
from pgstatkit.cli._output import Out

__all__ = ["add_arguments", "refuse_history_options", "run"]

_SPAN = re.compile(r"(\d+)([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def span(text: str) -> _dt.timedelta:
    """``7d``, ``24h``, ``90m``, ``2w`` (or a sum: ``1d12h``) as a timedelta."""
    parts = _SPAN.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 7d, 24h, 90m or 1d12h, got {text!r}"
        )
    total = sum((_dt.timedelta(**{_UNITS[u]: int(n)}) for n, u in parts), _dt.timedelta())
    if not _dt.timedelta(minutes=1) <= total <= _dt.timedelta(days=3660):
        raise argparse.ArgumentTypeError(f"expected 1 minute to 10 years, got {text!r}")
    return total


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("history report (needs snapshots: docs/history.md, docs/reports.md)")
    g.add_argument(
        "--since",
        type=span,
        default=None,
        metavar="DURATION",
        help="report on the last DURATION of history (7d, 24h, 90m)",
    )
    g.add_argument("--target", default=None, help="one history target (default: every target)")
    g.add_argument(
        "--html",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the report as one self-contained HTML file with charts",
    )
    g.add_argument(
        "--email-to",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="mail the report (HTML with a plain-text alternative); repeatable",
    )
    g.add_argument(
        "--email-from",
        default="pgstatkit@localhost",
        metavar="ADDRESS",
        help="the sender (default pgstatkit@localhost)",
    )
    g.add_argument("--subject", default=None, help="the subject (default: the report's title)")
    g.add_argument("--smtp-host", default=None, metavar="HOST", help="the SMTP server")
    g.add_argument(
        "--smtp-port",
        type=int,
        default=None,
        metavar="PORT",
        help="default 587 (starttls), 465 (ssl) or 25 (none)",
    )
    g.add_argument("--smtp-security", choices=("starttls", "ssl", "none"), default="starttls",
                   help="starttls (default), ssl, or none; credentials: $PGSTATKIT_SMTP_USER "
                   "and $PGSTATKIT_SMTP_PASSWORD, never options")  # fmt: skip


_HISTORY_ONLY = ("target", "html", "email_to", "smtp_host", "subject")


def refuse_history_options(args: argparse.Namespace) -> None:
    """The history options without ``--since`` are a mistake, not ignored."""
    given = [name for name in _HISTORY_ONLY if getattr(args, name)]
    if given:
        option = "--" + given[0].replace("_", "-")
        raise CliError(f"{option} needs --since (the period of history to report on)",
                       EXIT_BAD_ARGUMENTS)  # fmt: skip


def _progress(start: float, message: str) -> None:
    """A progress line on a terminal; nothing when stderr is piped."""
    if sys.stderr.isatty():
        sys.stderr.write(f"[{time.monotonic() - start:5.1f}s] {message}\n")


def run(args: argparse.Namespace, out: Out) -> int:
    if args.email_to and not args.smtp_host:
        raise CliError("--email-to needs --smtp-host", EXIT_BAD_ARGUMENTS)
    if args.smtp_host and not args.email_to:
        raise CliError("--smtp-host needs --email-to", EXIT_BAD_ARGUMENTS)
    blocking_api()
    from pgstatkit.sync import history_report

    start = time.monotonic()
    _progress(start, "reading history")
    with connect(args) as conn:
        report = history_report.build(
            conn,
            since=args.since,
            target=args.target,
            limit=args.limit,
            include_pgstatkit=args.include_pgstatkit,
            schema=args.schema,
            timeout_ms=args.timeout_ms,
        )
    if args.html is not None:
        _progress(start, f"drawing the charts, writing {args.html}")
        args.html.write_text(history_report.render_html(report), encoding="utf-8")
    if args.email_to:
        _progress(start, f"mailing {', '.join(args.email_to)} through {args.smtp_host}")
        message = history_report.email_message(
            report, sender=args.email_from, to=args.email_to, subject=args.subject
        )
        history_report.send_email(
            message, host=args.smtp_host, port=args.smtp_port, security=args.smtp_security
        )
    if out.form == "json":
        out.write([history_report.render_json(report)])
    elif out.form == "markdown":
        out.write([history_report.render_markdown(report)])
    else:
        out.write([history_report.render_text(report)])
    return EXIT_OK

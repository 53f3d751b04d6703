"""``pgstatkit alert-rules``: print pgstatkit's Prometheus alert rules, rendered with the
given job label and thresholds (:func:`pgstatkit.alerting.render_alert_rules`). No
database connection."""

from __future__ import annotations

import argparse

from pgstatkit import alerting
from pgstatkit.cli._base import EXIT_BAD_ARGUMENTS, EXIT_OK, CliError
from pgstatkit.cli._output import Out
from pgstatkit.cli.commands._command import Command

__all__ = ["COMMAND"]


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, value


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--job",
        default=alerting.DEFAULTS["job"],
        help="the job label of the scrape job reading pgstatkit's metrics (default pgstatkit)",
    )
    p.add_argument(
        "--label",
        action="append",
        type=_label,
        default=[],
        metavar="NAME=VALUE",
        help="an extra label on every alert (repeatable), e.g. --label team=dba",
    )
    for name, default in alerting.DEFAULTS.items():
        if name == "job":
            continue
        number = isinstance(default, float)
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=float if number else str,
            default=default,
            metavar="N" if number else "DURATION",
            help=f"default {default} (docs/alerting.md)",
        )


def _run(args: argparse.Namespace, out: Out) -> int:
    if out.form != "table":
        raise CliError("alert-rules writes YAML: leave out --format", EXIT_BAD_ARGUMENTS)
    values = {k: getattr(args, k) for k in alerting.DEFAULTS if k != "job"}
    labels = dict(args.label)
    if len(labels) != len(args.label):
        raise CliError("--label: a label name is given twice", EXIT_BAD_ARGUMENTS)
    text = alerting.render_alert_rules(job=args.job, labels=labels, **values)
    out.write([text.rstrip("\n")])
    return EXIT_OK


COMMAND = Command(
    "alert-rules",
    "print Prometheus alert rules for pgstatkit's metrics, with your job label and thresholds",
    _add_arguments,
    _run,
)

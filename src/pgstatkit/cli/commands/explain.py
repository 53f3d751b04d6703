"""``pgstatkit explain``: the plan of one statement (EXPLAIN, optionally ANALYZE, rolled
back)."""

from __future__ import annotations

import argparse
import sys

from pgstatkit.cli import _format as fmt
from pgstatkit.cli._base import EXIT_BAD_ARGUMENTS, EXIT_OK, CliError
from pgstatkit.cli._connect import api_options, blocking_api, connect
from pgstatkit.cli._errors import check_explain
from pgstatkit.cli._output import Out
from pgstatkit.cli.commands._command import Command

__all__ = ["COMMAND"]


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", help="one SQL statement, or - to read it from stdin")
    p.add_argument(
        "--analyze",
        action="store_true",
        help="run it (in a transaction that is rolled back) for actual times",
    )
    p.add_argument(
        "--param",
        action="append",
        default=None,
        metavar="VALUE",
        help="a value for $1, $2... (repeat; sent as text)",
    )


def _run(args: argparse.Namespace, out: Out) -> int:
    stats = blocking_api()
    query = sys.stdin.read() if args.query == "-" else args.query
    problem = check_explain(query, args.param, args.analyze)
    if problem is not None:
        raise CliError(problem, EXIT_BAD_ARGUMENTS)
    with connect(args) as conn:
        plan = stats.query_plan(
            conn, query, analyze=args.analyze, params=args.param, **api_options(args)
        )
    if out.form == "json":
        out.json(plan)
    elif out.form == "markdown":
        out.write([*out.title("Plan"), "```", *fmt.plan_lines(plan), "```"])
    else:
        out.write(fmt.plan_lines(plan))
    return EXIT_OK


COMMAND = Command(
    "explain",
    "the plan of one statement (EXPLAIN, optionally ANALYZE, rolled back)",
    _add_arguments,
    _run,
)

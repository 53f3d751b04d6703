"""``pgstatkit doctor``: the setup check; exit 7 when it found an error."""

from __future__ import annotations

import argparse

from pgstatkit.cli._base import EXIT_OK, EXIT_SETUP_ERRORS
from pgstatkit.cli._connect import api_options, blocking_api, connect
from pgstatkit.cli._options import add_schema
from pgstatkit.cli._output import Out
from pgstatkit.cli.commands._command import Command

__all__ = ["COMMAND"]


def _add_arguments(p: argparse.ArgumentParser) -> None:
    add_schema(p, "the helper schema given to install (default pgstatkit)")


def _run(args: argparse.Namespace, out: Out) -> int:
    stats = blocking_api()
    with connect(args) as conn:
        report = stats.check_setup(conn, schema=args.schema, **api_options(args))
    if out.form == "json":
        out.json(report)
    else:
        out.write([*out.title("Setup check"), *out.setup(report)])
    return EXIT_OK if report.ok else EXIT_SETUP_ERRORS


COMMAND = Command(
    "doctor", "check the server's configuration for pg_stat_statements", _add_arguments, _run
)

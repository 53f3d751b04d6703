"""``pgstatkit install``: create pg_stat_statements and pgstatkit's helper views."""

from __future__ import annotations

import argparse

from pgstatkit.cli._base import EXIT_OK
from pgstatkit.cli._connect import api_options, blocking_api, connect, where
from pgstatkit.cli._format import ident
from pgstatkit.cli._options import add_schema, role
from pgstatkit.cli._output import Out
from pgstatkit.cli.commands._command import Command

__all__ = ["COMMAND"]


def _add_arguments(p: argparse.ArgumentParser) -> None:
    add_schema(p, "the helper schema (default pgstatkit)")
    p.add_argument(
        "--grant-to",
        action="append",
        type=role,
        default=None,
        metavar="ROLE",
        help="grant SELECT on the views (and USAGE on the schema) to ROLE (repeat; "
        "'public' means PUBLIC)",
    )


def _run(args: argparse.Namespace, out: Out) -> int:
    stats = blocking_api()
    roles = list(dict.fromkeys(args.grant_to or ()))
    with connect(args) as conn:
        stats.install(conn, schema=args.schema, grant_select_to=roles, **api_options(args))
        place = where(conn)
    if out.form == "json":
        out.json({"installed": True, "schema": args.schema, "granted_to": roles})
    else:
        granted = f"; SELECT granted to {', '.join(roles)}" if roles else ""
        out.write([f"installed pgstatkit (schema {ident(args.schema)}) in {place}{granted}"])
    return EXIT_OK


COMMAND = Command(
    "install",
    "create pg_stat_statements and pgstatkit's helper views (idempotent)",
    _add_arguments,
    _run,
)

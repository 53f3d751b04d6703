"""``pgstatkit uninstall``: remove what install created, and nothing else."""

from __future__ import annotations

import argparse

from pgstatkit.cli._base import EXIT_OK
from pgstatkit.cli._connect import api_options, blocking_api, confirm, connect, where
from pgstatkit.cli._format import ident
from pgstatkit.cli._options import add_schema, add_yes
from pgstatkit.cli._output import Out
from pgstatkit.cli.commands._command import Command

__all__ = ["COMMAND"]


def _add_arguments(p: argparse.ArgumentParser) -> None:
    add_schema(p, "the helper schema given to install (default pgstatkit)")
    add_yes(p)


def _run(args: argparse.Namespace, out: Out) -> int:
    stats = blocking_api()
    with connect(args) as conn:
        place = where(conn)
        confirm(args, f"Uninstall pgstatkit (schema {ident(args.schema)}) from {place}?")
        stats.uninstall(conn, schema=args.schema, **api_options(args))
    if out.form == "json":
        out.json({"uninstalled": True, "schema": args.schema})
    else:
        out.write([f"uninstalled pgstatkit (schema {ident(args.schema)}) from {place}"])
    return EXIT_OK


COMMAND = Command(
    "uninstall", "remove what install created, and nothing else", _add_arguments, _run
)

"""``pgstatkit demo``: a throwaway PostgreSQL 18, a workload, the report
(:mod:`pgstatkit.cli._demo`, imported when the command runs)."""

from __future__ import annotations

import argparse

from pgstatkit.cli._output import Out
from pgstatkit.cli.commands._command import Command

__all__ = ["COMMAND"]


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--keep",
        action="store_true",
        help="leave the server running (until Ctrl-C) and print its DSN",
    )


def _run(args: argparse.Namespace, out: Out) -> int:
    from pgstatkit.cli import _demo

    return _demo.run(args, out)


COMMAND = Command(
    "demo",
    "start a throwaway PostgreSQL 18 (embedded extra), run a workload, print the report",
    _add_arguments,
    _run,
)

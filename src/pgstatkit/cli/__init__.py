"""The ``pgstatkit`` command line (also ``python -m pgstatkit``).

Uses pgstatkit's blocking calls over one psycopg connection; psycopg is imported only
when a command connects. See ``docs/cli.md``. The package: :mod:`._base` (exit codes,
errors, the parser class), :mod:`._options` (shared options), :mod:`._connect` (the
connection), :mod:`._output` (formats), :mod:`.commands` (one module per command; the
report commands are made from :mod:`pgstatkit.reports`).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pgstatkit._version import __version__
from pgstatkit.cli import _format as fmt
from pgstatkit.cli._base import (
    EXIT_BAD_ARGUMENTS,
    EXIT_CODES_HELP,
    EXIT_CONNECTION,
    EXIT_ERROR,
    EXIT_EXTENSION,
    EXIT_HEALTH_CRITICAL,
    EXIT_HEALTH_UNKNOWN,
    EXIT_HEALTH_WARNING,
    EXIT_INTERRUPTED,
    EXIT_MISSING_EXTRA,
    EXIT_NOT_CONFIRMED,
    EXIT_OK,
    EXIT_PRIVILEGE,
    EXIT_REFUSED,
    EXIT_SETUP_ERRORS,
    EXIT_TIMEOUT,
    CliError,
    Parser,
    error_code,
)
from pgstatkit.cli._connect import resolve_dsn
from pgstatkit.cli._dsn import mask_dsn, parse_dsn
from pgstatkit.cli._errors import cli_message, printable
from pgstatkit.cli._options import common
from pgstatkit.cli._output import Out
from pgstatkit.cli.commands import Command, commands
from pgstatkit.errors import PgStatKitError

__all__ = [
    "EXIT_BAD_ARGUMENTS",
    "EXIT_CONNECTION",
    "EXIT_ERROR",
    "EXIT_EXTENSION",
    "EXIT_HEALTH_CRITICAL",
    "EXIT_HEALTH_UNKNOWN",
    "EXIT_HEALTH_WARNING",
    "EXIT_INTERRUPTED",
    "EXIT_MISSING_EXTRA",
    "EXIT_NOT_CONFIRMED",
    "EXIT_OK",
    "EXIT_PRIVILEGE",
    "EXIT_REFUSED",
    "EXIT_SETUP_ERRORS",
    "EXIT_TIMEOUT",
    "CliError",
    "build_parser",
    "main",
    "mask_dsn",
    "parse_dsn",
    "resolve_dsn",
]


def build_parser(available: Sequence[Command] | None = None) -> argparse.ArgumentParser:
    """The argument parser of ``pgstatkit`` (with ``available``: those subcommands)."""
    parser = Parser(
        prog="pgstatkit",
        description="PostgreSQL query-performance monitoring on pg_stat_statements.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"pgstatkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    after = common(suppress=True)
    for command in commands() if available is None else available:
        p = sub.add_parser(
            command.name,
            help=command.help,
            description=command.help,
            parents=[after],
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(p)
    return parser


def _one_line(exc: BaseException, args: argparse.Namespace) -> str:
    if isinstance(exc, CliError):
        text = str(exc)
    elif isinstance(exc, PgStatKitError):
        text = cli_message(exc, command=args.command, timeout_ms=getattr(args, "timeout_ms", None))
    else:
        text = f"unexpected {type(exc).__name__}: {exc} (run again with --debug for details)"
    return printable(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see ``pgstatkit --help``)."""
    with _utf8_streams():
        available = commands()
        args = build_parser(available).parse_args(argv)
        debug = bool(getattr(args, "debug", False))
        run = next(c.run for c in available if c.name == args.command)
        try:
            return run(args, Out(args.format))
        except KeyboardInterrupt:
            if debug:
                traceback.print_exc()
            sys.stderr.write("pgstatkit: interrupted\n")
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            # `pgstatkit report | head`: not an error.
            _silence_stdout()
            return EXIT_OK
        except Exception as exc:
            if debug:
                traceback.print_exc()
            sys.stderr.write(f"pgstatkit: error: {fmt.safe(_one_line(exc, args))}\n")
            return error_code(exc)


@contextmanager
def _utf8_streams() -> Iterator[None]:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    yield


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover
        pass

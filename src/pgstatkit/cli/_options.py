"""Option helpers shared by the commands: the connection and output options every
command takes, the options of a report's parameters, ``--schema`` and ``--yes``."""

from __future__ import annotations

import argparse
from typing import Any

from pgstatkit import _validate
from pgstatkit._install import role_name, schema_name
from pgstatkit.cli._base import Parser, checked
from pgstatkit.reports import Param

__all__ = ["add_param", "add_schema", "add_yes", "common", "role", "timeout"]

timeout = checked(_validate.timeout_ms, float)
schema = checked(schema_name, str)
role = checked(role_name, str)

_CONVERT: dict[Any, Any] = {int: int, float: float, str: str}


def common(*, suppress: bool) -> Parser:
    """Options accepted both before and after the subcommand.

    After it (``suppress``) they have no default, so they do not overwrite a value
    given before the subcommand.
    """
    default: Any = argparse.SUPPRESS if suppress else None
    p = Parser(add_help=False)
    g = p.add_argument_group("connection and output")
    g.add_argument(
        "--dsn",
        default=default,
        help="libpq connection string or URI (default: $DATABASE_URL, else the PG* "
        "environment, as psql)",
    )
    g.add_argument(
        "--format",
        choices=("table", "json", "markdown"),
        default=argparse.SUPPRESS if suppress else "table",
        help="output format (default: table, fitted to the terminal width)",
    )
    g.add_argument(
        "--timeout-ms",
        type=timeout,
        default=default,
        metavar="MS",
        help="statement timeout of each monitoring call (default 5000)",
    )
    g.add_argument(
        "--connect-timeout",
        type=checked(lambda v: _validate.limit(v, "connect_timeout"), int),
        default=argparse.SUPPRESS if suppress else 10,
        metavar="S",
        help="seconds to wait for the connection (default 10, or $PGCONNECT_TIMEOUT)",
    )
    g.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="show a traceback on errors",
    )
    return p


def add_param(p: argparse.ArgumentParser, param: Param) -> None:
    """The option of a report's parameter: a flag for a bool, choices for a Literal,
    else a value checked as the API checks it."""
    if param.type is bool:
        p.add_argument(param.option, action="store_true", help=param.help)
        return
    options: dict[str, Any] = {"default": param.default, "help": param.help}
    if param.choices is not None:
        options["choices"] = param.choices
    elif param.check is not None:
        options["type"] = checked(param.check, _CONVERT[param.type])
    else:
        options["type"] = _CONVERT[param.type]
    if param.metavar is not None:
        options["metavar"] = param.metavar
    p.add_argument(param.option, **options)


def add_schema(p: argparse.ArgumentParser, help_text: str) -> None:
    """``--schema``: pgstatkit's helper schema, checked as ``install`` checks it."""
    p.add_argument("--schema", type=schema, default="pgstatkit", help=help_text)


def add_yes(p: argparse.ArgumentParser) -> None:
    """``--yes`` / ``-y``: do not ask for confirmation."""
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

"""What every part of the command line shares: exit codes, :class:`CliError`, the
argument parser class and the checked option types."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from pgstatkit.errors import (
    ExtensionNotInstalledError,
    ExtensionNotLoadedError,
    ExtensionTooOldError,
    ExtraNotInstalledError,
    InstallRefusedError,
    InsufficientPrivilegeError,
    InvalidArgumentError,
    StatementRejectedError,
    StatementTimeoutError,
    UnsafeQueryError,
)

# the exit codes are re-exported by pgstatkit.cli, which lists them in its __all__

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_ARGUMENTS = 2
EXIT_CONNECTION = 3
EXIT_EXTENSION = 4
EXIT_PRIVILEGE = 5
EXIT_TIMEOUT = 6
EXIT_SETUP_ERRORS = 7
EXIT_NOT_CONFIRMED = 8
EXIT_MISSING_EXTRA = 9
EXIT_REFUSED = 10
EXIT_HEALTH_UNKNOWN = 20
EXIT_HEALTH_WARNING = 21
EXIT_HEALTH_CRITICAL = 22
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """\
exit codes:
  0    ok (reset --queryid: also when no entry had that queryid; it says so)
  1    unexpected error (run again with --debug for a traceback), or a server error
  2    bad arguments or option values (an invalid DSN, demo --dsn); explain: a
       statement refused, or --param not matching it, before anything ran, or the
       server rejected the statement (a syntax error, a constraint it violated)
  3    could not connect to the server, or lost the connection
  4    pg_stat_statements not loaded, not created in the database, or too old
  5    insufficient privilege
  6    statement timeout (raise --timeout-ms)
  7    doctor: the setup check found at least one error; check: a finding reached
       --fail-on
  8    reset/uninstall not confirmed (no --yes and stdin is not a terminal, or "no")
  9    an optional dependency is missing (the message names the pip command)
  10   install/uninstall refused, nothing changed: an object with one of pgstatkit's
       names is not pgstatkit's, a --grant-to role does not exist, or objects depend
       on pgstatkit's views (the message names them)
  20   health: the worst finding is unknown (a check could not run: a grant is missing)
  21   health: the worst finding is a warning
  22   health: the worst finding is critical
  130  interrupted (Ctrl-C)

connection: --dsn, else $DATABASE_URL, else the libpq environment (PGHOST, PGPORT,
PGDATABASE, PGUSER, PGPASSWORD, ~/.pgpass, PGSERVICE...), as for psql.
"""

EXTENSION_ERRORS = (ExtensionNotLoadedError, ExtensionNotInstalledError, ExtensionTooOldError)
"""pg_stat_statements not usable: exit code 4."""


class CliError(Exception):
    """An error reported as one line on stderr, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus a pointer to --help), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_ARGUMENTS, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def checked(check: Callable[[Any], Any], convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type``: ``convert`` the text, then ``check`` it as the API does.

    The API's message (``limit must be from 1 to 10000, got 0``) becomes argparse's
    (``argument --limit: must be from 1 to 10000, got 0``).
    """

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        try:
            return check(value)
        except InvalidArgumentError as exc:
            message = str(exc).split(" must ", 1)
            raise argparse.ArgumentTypeError(
                "must " + message[1] if len(message) == 2 else str(exc)
            ) from None

    parse.__name__ = getattr(check, "__name__", "value")
    return parse


def error_code(exc: BaseException) -> int:
    """The exit code for an exception that ends a command."""
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, InsufficientPrivilegeError):
        return EXIT_PRIVILEGE
    if isinstance(exc, InvalidArgumentError | UnsafeQueryError | StatementRejectedError):
        return EXIT_BAD_ARGUMENTS
    if isinstance(exc, EXTENSION_ERRORS):
        return EXIT_EXTENSION
    if isinstance(exc, StatementTimeoutError):
        return EXIT_TIMEOUT
    if isinstance(exc, InstallRefusedError):
        return EXIT_REFUSED
    if isinstance(exc, ExtraNotInstalledError):
        return EXIT_MISSING_EXTRA
    return EXIT_ERROR

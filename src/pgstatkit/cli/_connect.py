"""The command line's connection: one autocommit psycopg connection, its errors in the
command line's words, confirmation prompts, and running pgstatkit's calls on it.

psycopg is imported only when a command connects.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from pgstatkit.cli._base import (
    EXIT_CONNECTION,
    EXIT_ERROR,
    EXIT_MISSING_EXTRA,
    EXIT_NOT_CONFIRMED,
    CliError,
    error_code,
)
from pgstatkit.cli._dsn import parse_dsn
from pgstatkit.cli._errors import cli_message
from pgstatkit.cli._format import ident, safe
from pgstatkit.errors import PgStatKitError

if TYPE_CHECKING:
    import psycopg

    from pgstatkit._protocol import Operation

__all__ = [
    "PSYCOPG_MISSING",
    "api_options",
    "blocking_api",
    "confirm",
    "connect",
    "import_psycopg",
    "resolve_dsn",
    "run_operation",
    "where",
]

T = TypeVar("T")

PSYCOPG_MISSING = 'psycopg is not installed: pip install "pgstatkit[psycopg]"'


def import_psycopg() -> Any:
    """The psycopg module, or the CLI error that names the pip command (exit 9)."""
    try:
        import psycopg
    except ImportError:
        raise CliError(PSYCOPG_MISSING, EXIT_MISSING_EXTRA) from None
    return psycopg


def blocking_api() -> ModuleType:
    """:mod:`pgstatkit.sync.stats`, once psycopg is known to be installed (else exit 9)."""
    import_psycopg()
    from pgstatkit.sync import stats

    return stats


def api_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments every API call takes from the command line: ``timeout_ms``,
    and ``include_pgstatkit`` for the commands that have the option."""
    own = getattr(args, "include_pgstatkit", None)
    return {"timeout_ms": args.timeout_ms, **({} if own is None else {"include_pgstatkit": own})}


def run_operation(conn: Any, op: Operation[T]) -> T:
    """Run one of pgstatkit's operations on the command line's connection (as
    :mod:`pgstatkit.sync.stats` does)."""
    from pgstatkit._run import run_sync
    from pgstatkit.adapters import open_sync

    with open_sync(conn) as session:
        return run_sync(session, op)


def resolve_dsn(cli_dsn: str | None) -> str:
    """``--dsn``, else ``$DATABASE_URL``, else ``""`` (libpq reads ``PG*`` itself)."""
    dsn = cli_dsn if cli_dsn is not None else os.environ.get("DATABASE_URL", "")
    # SQLAlchemy-style URLs (postgresql+psycopg://) are common in DATABASE_URL.
    return re.sub(r"^(postgres(?:ql)?)\+[a-z0-9_]+://", r"\1://", dsn.strip())


def _target(params: dict[str, Any]) -> tuple[str, str]:
    host = str(params.get("host") or os.environ.get("PGHOST") or "local socket")
    port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
    try:
        default_user = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        default_user = "?"
    user = str(params.get("user") or os.environ.get("PGUSER") or default_user)
    dbname = str(params.get("dbname") or os.environ.get("PGDATABASE") or user)
    return f"{host}:{port}/{dbname}", user


def _short_reason(exc: BaseException, secrets: Sequence[str]) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    reason = lines[0] if lines else type(exc).__name__
    reason = re.sub(r"^.*failed:\s*", "", reason) or reason
    reason = re.sub(r"^FATAL:\s*", "", reason)
    for secret in secrets:
        if secret:
            reason = reason.replace(secret, "***")
    return reason


def _connect_options(params: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    extra: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in params and "PGCONNECT_TIMEOUT" not in os.environ:
        extra["connect_timeout"] = args.connect_timeout
    if "application_name" not in params and "PGAPPNAME" not in os.environ:
        extra["application_name"] = "pgstatkit"
    return extra


@contextmanager
def connect(args: argparse.Namespace) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit psycopg connection from ``--dsn`` / ``DATABASE_URL`` / ``PG*``.

    pgstatkit's errors in the block become :class:`CliError` in the command's words;
    failing to connect or losing the connection is exit 3, another server error exit 1.
    """
    psycopg = import_psycopg()
    dsn = resolve_dsn(args.dsn)
    params = parse_dsn(dsn)
    target, user = _target(params)
    secrets = [str(params.get("password") or ""), os.environ.get("PGPASSWORD", "")]
    try:
        conn = psycopg.connect(dsn, **_connect_options(params, args))
    except psycopg.Error as exc:
        raise CliError(
            f"could not connect to {target} as {user}: {_short_reason(exc, secrets)}; "
            "check --dsn, DATABASE_URL or the PG* environment variables",
            EXIT_CONNECTION,
        ) from exc
    info = conn.info  # read now: it is gone once the connection is closed
    role, dbname, server_version = info.user, info.dbname, info.server_version
    try:
        with conn:
            yield conn
    except PgStatKitError as exc:
        message = cli_message(
            exc,
            command=args.command,
            timeout_ms=args.timeout_ms,
            role=role,
            dbname=dbname,
            server_version=server_version,
        )
        raise CliError(message, error_code(exc)) from exc
    except psycopg.OperationalError as exc:
        if conn.closed or conn.broken:
            raise CliError(
                f"lost the connection to {target}: {_short_reason(exc, secrets)}", EXIT_CONNECTION
            ) from exc
        raise
    except psycopg.Error as exc:
        raise CliError(f"server error: {_short_reason(exc, secrets)}", EXIT_ERROR) from exc


def where(conn: psycopg.Connection[Any]) -> str:
    """``database "shop" on host:port``, for the messages of install and uninstall."""
    info = conn.info
    return f"database {ident(info.dbname)} on {safe(f'{info.host}:{info.port}')}"


def confirm(args: argparse.Namespace, question: str) -> None:
    """Ask ``question`` on the terminal unless ``--yes``; raise if not confirmed."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CliError(
            f"{question} -- not confirmed: pass --yes (stdin is not a terminal); nothing done",
            EXIT_NOT_CONFIRMED,
        )
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("not confirmed; nothing done", EXIT_NOT_CONFIRMED)

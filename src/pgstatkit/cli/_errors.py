"""The command line's words for pgstatkit's exceptions.

The messages of :mod:`pgstatkit.errors` are written for the Python API (``timeout_ms``,
``query_plan``, ``stats.install(conn)``, ``params=[...]``). The command line says the
same with its own options and commands. It maps by exception class and attributes
(:attr:`~pgstatkit.errors.UnsafeQueryError.reason`), never by reading the message; the
server's own words, where they help, come from the driver error's diagnostics
(``diag.message_primary``), control characters escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pgstatkit import _sql
from pgstatkit._scan import EXPLAINABLE, scan
from pgstatkit.cli._format import ident
from pgstatkit.errors import (
    ExtensionNotInstalledError,
    ExtensionNotLoadedError,
    ExtensionNotSetUpError,
    InsufficientPrivilegeError,
    PgStatKitError,
    StatementRejectedError,
    StatementTimeoutError,
    UnsafeQueryError,
)

__all__ = ["check_explain", "cli_message", "extension_message", "printable"]

DEFAULT_TIMEOUT_MS = 5000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` on one line: whitespace runs become one space, other control characters
    ``\\xNN`` (text from the server must not drive the terminal)."""
    text = " ".join(text.split())
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def _server_words(exc: BaseException) -> str | None:
    """The server's primary message behind a translated error, if the driver kept one."""
    diag = getattr(exc.__cause__, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return printable(primary) if isinstance(primary, str) and primary.strip() else None


def extension_message(exc: PgStatKitError, dbname: str | None = None) -> str:
    """A CLI-flavoured one-line fix for an extension error."""
    if isinstance(exc, ExtensionNotSetUpError):
        where = f" in database {ident(dbname)}" if dbname else ""
        return (
            "pg_stat_statements is not loaded and not created: set shared_preload_libraries "
            "= 'pg_stat_statements' in postgresql.conf (keep libraries already listed) and "
            f"restart the server, then run `pgstatkit install`{where} (or CREATE EXTENSION "
            "pg_stat_statements; a superuser the first time); `pgstatkit doctor` checks the rest"
        )
    if isinstance(exc, ExtensionNotLoadedError):
        return (
            "pg_stat_statements is not loaded: set shared_preload_libraries = "
            "'pg_stat_statements' in postgresql.conf (keep libraries already listed) and "
            "restart the server; `pgstatkit doctor` checks the rest"
        )
    if isinstance(exc, ExtensionNotInstalledError):
        where = f" in database {ident(dbname)}" if dbname else ""
        return (
            f"the pg_stat_statements extension is not created{where}: run `pgstatkit install` "
            "(or CREATE EXTENSION pg_stat_statements; a superuser the first time)"
        )
    return str(exc)


def explain_refusal(exc: UnsafeQueryError) -> str:
    """Why ``pgstatkit explain`` refused the statement, in the command's words."""
    if exc.reason == "empty":
        return "the statement is empty: pass one SQL statement (or - to read it from stdin)"
    if exc.reason == "several":
        return (
            f"the input holds {exc.statements} statements; pgstatkit explain takes exactly "
            "one, and ran nothing"
        )
    if exc.reason == "explain":
        return (
            "pass the statement without EXPLAIN: pgstatkit explain adds it "
            "(--analyze for EXPLAIN ANALYZE)"
        )
    if exc.reason == "not_explainable":
        allowed = ", ".join(sorted(EXPLAINABLE))
        return f"pgstatkit explain takes only {allowed} statements, got {exc.keyword!r}"
    return str(exc)  # "incomplete", "placeholder": no API words in them


def check_explain(query: str, params: Sequence[str] | None, analyze: bool) -> str | None:
    """What is wrong with ``explain``'s statement and options, or ``None``; no round trip."""
    try:
        placeholders = scan(query).max_placeholder
    except UnsafeQueryError as exc:
        return explain_refusal(exc)
    given = len(params) if params is not None else 0
    if placeholders == 1:
        has = "1 placeholder ($1)"
    else:
        has = f"{placeholders} placeholders ($1..${placeholders})" if placeholders else ""
    if params is not None and given != placeholders:
        return (
            f"the statement has {has or 'no placeholder ($1...)'} but --param was given "
            f"{given} time(s): one --param VALUE per placeholder, in order"
        )
    if placeholders and params is None and analyze:
        return (
            f"--analyze runs the statement, and it has {has}: pass one --param VALUE per "
            "placeholder, or drop --analyze for a generic plan"
        )
    return None


def _privilege_hint(command: str, role: str, server_version: int) -> str:
    who = _sql.quote_ident(role) if role else "<role>"
    if command == "reset":
        signature = "oid, oid, bigint, boolean" if server_version >= 170000 else "oid, oid, bigint"
        return (
            "pgstatkit reset needs a superuser or `GRANT EXECUTE ON FUNCTION "
            f"pg_stat_statements_reset({signature}) TO {who};`"
        )
    if command == "install":
        return (
            "pgstatkit install needs a superuser the first time in a database "
            "(CREATE EXTENSION pg_stat_statements: the extension is not trusted); "
            "afterwards the database owner, or a role with CREATE on the database, can run it"
        )
    if command == "uninstall":
        return "run pgstatkit uninstall as the role that ran pgstatkit install, or a superuser"
    if command == "explain":
        return f"grant {who} the privileges the statement needs (e.g. SELECT on its tables)"
    return (
        f"grant {who} what it needs, e.g. `GRANT pg_monitor TO {who};` for the statistics "
        "views (`pgstatkit doctor` checks the setup)"
    )


def cli_message(
    exc: PgStatKitError,
    *,
    command: str,
    timeout_ms: float | None,
    role: str = "",
    dbname: str | None = None,
    server_version: int = 0,
) -> str:
    """The one-line error of ``pgstatkit <command>`` for ``exc``.

    ``role``, ``dbname`` and ``server_version`` describe the connection, when there is
    one, to name the role in a ``GRANT`` and the right function signature.
    """
    if isinstance(exc, StatementTimeoutError):
        limit = (
            f"--timeout-ms {timeout_ms:g}"
            if timeout_ms is not None
            else f"--timeout-ms {DEFAULT_TIMEOUT_MS}, the default"
        )
        return (
            f"pgstatkit {command} ran past its statement timeout ({limit}) and was "
            "cancelled by the server; raise --timeout-ms if the server is just busy"
        )
    if isinstance(exc, StatementRejectedError) and not isinstance(exc, InsufficientPrivilegeError):
        said = _server_words(exc) or "the server rejected the statement"
        return f"{said} (SQLSTATE {exc.sqlstate}): correct the statement or its --param values"
    if isinstance(exc, InsufficientPrivilegeError):
        said = _server_words(exc) or "permission denied"
        return f"{said}; {_privilege_hint(command, role, server_version)}"
    if isinstance(exc, ExtensionNotLoadedError | ExtensionNotInstalledError):
        return extension_message(exc, dbname)
    if isinstance(exc, UnsafeQueryError):
        return explain_refusal(exc)
    return printable(str(exc))

"""Server errors to pgstatkit errors: one table, keyed by SQLSTATE and the operation.

The adapters describe a driver's exception as a :class:`ServerError` (its SQLSTATE,
the server's message parts, whether the connection is gone, whether the driver refused
a parameter before sending anything, and the exception itself): that is all the core
ever sees of a driver error. The steps of an operation receive it (thrown into their
generator); the runner's exit (:mod:`pgstatkit._run`) passes it through
:func:`translate_error`, so a recognised error leaves as a pgstatkit error with the
driver's exception as ``__cause__``, and any other as the driver's exception, unchanged.
``ServerError`` itself never leaves pgstatkit.

Nothing here reads an error's message: a server speaks the language of its
``lc_messages`` (``"storniere Anfrage wegen Zeitüberschreitung der Anfrage"`` is a
statement timeout), so :func:`translate_error` looks only at the SQLSTATE, at whether
the driver refused a parameter (decided by the adapter, by exception type), and at which
operation ran. The pgstatkit errors it returns carry English messages of their own; the
driver's exception, with the server's message, becomes their ``__cause__``.

Choices the SQLSTATE alone cannot make, and what pgstatkit does:

- ``57014`` (query_canceled) is both ``statement_timeout`` and a cancel request
  (``pg_cancel_backend``); only the message tells them apart, so both are a
  :class:`~pgstatkit.errors.StatementTimeoutError` (HTTP 504).
- ``55P03`` (lock_not_available) is ``lock_timeout`` or a ``NOWAIT`` lock: a
  :class:`~pgstatkit.errors.LockTimeoutError`, a kind of statement timeout.
- The statement given to ``query_plan`` is the caller's: errors of the classes in
  :data:`CALLER_CLASSES` become :class:`~pgstatkit.errors.StatementRejectedError`
  (class ``40``: :class:`~pgstatkit.errors.StatementConflictError`; ``42501``:
  :class:`~pgstatkit.errors.StatementPrivilegeError`). Classes that are the server's
  business (``53`` insufficient resources, ``57`` operator intervention, ``58``, ``XX``,
  ``08``, ``HV``...) pass through as driver errors.
"""

from __future__ import annotations

from collections.abc import Callable

from pgstatkit.errors import (
    ExtensionNotInstalledError,
    ExtensionNotLoadedError,
    ExtensionNotSetUpError,
    InsufficientPrivilegeError,
    InvalidArgumentError,
    LockTimeoutError,
    PgStatKitError,
    StatementConflictError,
    StatementPrivilegeError,
    StatementRejectedError,
    StatementTimeoutError,
    TransactionStateError,
)

__all__ = [
    "CALLER_CLASSES",
    "FAILED_TRANSACTION",
    "RULES",
    "ServerError",
    "not_created",
    "not_loaded",
    "not_set_up",
    "translate_error",
    "translated",
]


class ServerError(Exception):
    """A statement's failure, as an adapter describes its driver's exception to the core.

    ``sqlstate``: the five-character SQLSTATE, None when the error did not come from
    the server (a lost connection, a refused parameter). ``message``, ``detail``,
    ``hint``: the server's message parts when it sent them (the driver's text
    otherwise), kept for people only: pgstatkit never reads them. ``connection_lost``:
    the driver's connection is closed now. ``client_param_error``: the driver refused
    a parameter value before sending the statement. ``original``: the driver's
    exception, which leaves pgstatkit (as itself, or as the ``__cause__`` of a
    pgstatkit error) where this one was.

    Private, and never raised out of pgstatkit: a caller sees what it always saw.
    """

    def __init__(
        self,
        sqlstate: str | None,
        message: str,
        *,
        original: BaseException,
        detail: str | None = None,
        hint: str | None = None,
        connection_lost: bool = False,
        client_param_error: bool = False,
    ) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.message = message
        self.detail = detail
        self.hint = hint
        self.connection_lost = connection_lost
        self.client_param_error = client_param_error
        self.original = original


STATEMENT_OPERATIONS = frozenset({"query_plan"})
"""Operations that run a statement the caller wrote."""

PGSS_OPERATIONS = frozenset(
    {"slow_queries", "top_queries_by_total_time", "queries_with_low_cache_hit"}
    | {"reset_query_statistics"}
)
"""Operations that read ``pg_stat_statements`` (and need the library loaded)."""

CALLER_CLASSES: dict[str, str] = {
    "09": "triggered action exception",
    "0A": "feature not supported",
    "20": "case not found",
    "21": "cardinality violation",
    "22": "data exception",
    "23": "integrity constraint violation",
    "27": "triggered data change violation",
    "2D": "invalid transaction termination",
    "2F": "SQL routine exception",
    "38": "external routine exception",
    "39": "external routine invocation exception",
    "3F": "invalid schema name",
    "42": "syntax error or access rule violation",
    "44": "WITH CHECK OPTION violation",
    "54": "program limit exceeded",
    "55": "object not in prerequisite state",
    "P0": "PL/pgSQL error",
}
"""SQLSTATE classes in which the statement given to ``query_plan`` is at fault."""

FAILED_TRANSACTION = (
    "the connection is in a failed transaction (an earlier statement failed); "
    "roll it back before calling pgstatkit"
)

_LOAD = (
    "add pg_stat_statements to shared_preload_libraries and restart the server, e.g. "
    "`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';` (keep any "
    "libraries already listed) or `shared_preload_libraries = 'pg_stat_statements'` in "
    "postgresql.conf"
)
_CREATE = (
    "run pgstatkit's `stats.install(conn)`, or `CREATE EXTENSION pg_stat_statements;`; "
    "either needs a superuser the first time, since the extension is not trusted"
)
_CHECK = "`stats.check_setup(conn)` checks the rest"


def not_loaded() -> ExtensionNotLoadedError:
    """The library is not in ``shared_preload_libraries`` (the extension exists)."""
    return ExtensionNotLoadedError(f"pg_stat_statements is not loaded: {_LOAD}; {_CHECK}")


def not_created() -> ExtensionNotInstalledError:
    """The library is loaded, the extension not created in the current database."""
    return ExtensionNotInstalledError(
        f"the pg_stat_statements extension is not created in this database: {_CREATE}"
    )


def not_set_up() -> ExtensionNotSetUpError:
    """Neither: one error with both fixes, the restart first."""
    return ExtensionNotSetUpError(
        "pg_stat_statements is not set up: (1) it is not loaded: "
        f"{_LOAD}; (2) the extension is not created in this database: {_CREATE}; {_CHECK}"
    )


_PRIVILEGE_HINTS = {
    "reset_query_statistics": (
        "reset needs a superuser or `GRANT EXECUTE ON FUNCTION "
        "pg_stat_statements_reset(oid, oid, bigint) TO <role>;` "
        "(PostgreSQL 17+: pg_stat_statements_reset(oid, oid, bigint, boolean))"
    ),
    "install": (
        "pg_stat_statements is not a trusted extension, so `CREATE EXTENSION "
        "pg_stat_statements` needs a superuser: run it (or `stats.install`) once as "
        "a superuser; afterwards the database owner, or any role with CREATE on the "
        "database, can run install"
    ),
    "uninstall": (
        "uninstall drops pgstatkit's objects: run it as their owner (the role that "
        "installed them) or a superuser"
    ),
}
_DEFAULT_PRIVILEGE_HINT = (
    "grant the role what it needs, e.g. `GRANT pg_read_all_stats TO <role>;` "
    "to read other users' statistics"
)
_CAUSE = "the driver's error (this exception's __cause__) has the server's message"


def _timeout(code: str, op: str) -> PgStatKitError:
    return StatementTimeoutError(
        f"{op} was cancelled by the server (SQLSTATE {code}): it ran past its statement "
        "timeout, or someone cancelled it (pg_cancel_backend); pass a larger timeout_ms "
        "if the server is just busy"
    )


def _lock_timeout(code: str, op: str) -> PgStatKitError:
    return LockTimeoutError(
        f"{op} could not get a lock in time (SQLSTATE {code}: lock_timeout ran out, or "
        "a NOWAIT lock was taken); retry later, or find the transaction holding the "
        "lock with pg_blocking_pids()"
    )


def _failed_transaction(code: str, op: str) -> PgStatKitError:
    return TransactionStateError(FAILED_TRANSACTION)


def _privilege(code: str, op: str) -> PgStatKitError:
    hint = _PRIVILEGE_HINTS.get(op, _DEFAULT_PRIVILEGE_HINT)
    return InsufficientPrivilegeError(f"{op}: permission denied (SQLSTATE {code}); {hint}")


def _not_loaded(code: str, op: str) -> PgStatKitError:
    return not_loaded()


def _statement_privilege(code: str, op: str) -> PgStatKitError:
    return StatementPrivilegeError(
        f"{op}: permission denied (SQLSTATE {code}): grant the role the privileges the "
        "statement needs (e.g. SELECT on its tables), or explain a statement it may run; " + _CAUSE,
        code,
    )


def _statement_conflict(code: str, op: str) -> PgStatKitError:
    return StatementConflictError(
        f"{op}: the statement lost to a concurrent transaction (SQLSTATE {code}, "
        f"transaction rollback); run it again; {_CAUSE}",
        code,
    )


def _statement_rejected(code: str, op: str) -> PgStatKitError:
    return StatementRejectedError(
        f"{op}: the server rejected the statement (SQLSTATE {code}, "
        f"{CALLER_CLASSES[code[:2]]}): correct the statement or its params; {_CAUSE}",
        code,
    )


Rule = tuple[frozenset[str] | None, str, Callable[[str, str], PgStatKitError]]

RULES: tuple[Rule, ...] = (
    # (operations, or None for any; a SQLSTATE or a two-character class; the error)
    # Exact SQLSTATEs come first; the first matching row wins.
    (None, "57014", _timeout),  # query_canceled: statement_timeout or a cancel request
    (None, "55P03", _lock_timeout),  # lock_not_available
    (None, "25P02", _failed_transaction),  # in_failed_sql_transaction
    (STATEMENT_OPERATIONS, "42501", _statement_privilege),
    (None, "42501", _privilege),  # insufficient_privilege
    (PGSS_OPERATIONS, "55000", _not_loaded),  # pg_stat_statements read, library not loaded
    (STATEMENT_OPERATIONS, "40", _statement_conflict),  # serialization failure, deadlock
    *((STATEMENT_OPERATIONS, cls, _statement_rejected) for cls in CALLER_CLASSES),
)
"""The whole translation; everything else passes through as the driver's error."""


def translate_error(
    sqlstate: str | None, op_name: str, *, client_param_error: bool = False
) -> PgStatKitError | None:
    """The pgstatkit error for a driver error, or None to let the driver's error through.

    ``sqlstate``: the five-character SQLSTATE the driver's exception carries, if any.
    ``op_name``: the operation that ran (:attr:`pgstatkit._protocol.Operation.name`).
    ``client_param_error``: the driver refused a parameter value before sending the
    statement; in ``query_plan`` (whose params are the caller's) that is an
    :class:`~pgstatkit.errors.InvalidArgumentError`. Never reads a message.
    """
    if client_param_error:
        if op_name not in STATEMENT_OPERATIONS:
            return None
        return InvalidArgumentError(
            "params: the driver cannot send one of the values as a query parameter, so "
            "the statement did not reach the server: pass values the placeholders' "
            "types accept (str, int, float, bool, None, or a list of one of them); the "
            "driver's error (this exception's __cause__) says which"
        )
    if sqlstate is None or len(sqlstate) != 5:
        return None
    for operations, code, make in RULES:
        if operations is not None and op_name not in operations:
            continue
        if sqlstate == code or sqlstate[:2] == code:
            return make(sqlstate, op_name)
    return None


def translated(failure: ServerError, op_name: str) -> PgStatKitError | None:
    """:func:`translate_error` for an adapter's description of a driver's exception."""
    return translate_error(failure.sqlstate, op_name, client_param_error=failure.client_param_error)

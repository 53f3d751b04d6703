"""Exceptions raised by pgstatkit.

Every exception pgstatkit raises on purpose is a subclass of :class:`PgStatKitError`,
so ``except pgstatkit.PgStatKitError`` catches them all. Messages say what went wrong
*and what to do about it*, in English, whatever language the server speaks: server
errors are recognised by their SQLSTATE, never by their text, and the driver's
exception (with the server's own message) is chained as ``__cause__``. Errors from the
database driver that pgstatkit does not recognise (a dropped connection, for instance)
are passed through unchanged.
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: `import pgstatkit` stays clear of the typing module (a third
# of a fresh import's time); mypy treats any TYPE_CHECKING the same.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    UnsafeQueryReason = Literal[
        "empty", "incomplete", "several", "explain", "not_explainable", "placeholder", "refused"
    ]

__all__ = [
    "ExtensionNotInstalledError",
    "ExtensionNotLoadedError",
    "ExtensionNotSetUpError",
    "ExtensionTooOldError",
    "ExtraNotInstalledError",
    "InstallRefusedError",
    "InsufficientPrivilegeError",
    "InvalidArgumentError",
    "LockTimeoutError",
    "PgStatKitError",
    "StatementConflictError",
    "StatementPrivilegeError",
    "StatementRejectedError",
    "StatementTimeoutError",
    "TransactionStateError",
    "UnsafeQueryError",
]


class PgStatKitError(Exception):
    """Base class of every error pgstatkit raises on purpose."""


class InvalidArgumentError(PgStatKitError, ValueError):
    """An argument is out of range or of the wrong type.

    Raised before anything is sent to the server. Also a :class:`ValueError`, so
    code that already catches ``ValueError`` keeps working. Also raised by
    :func:`~pgstatkit.stats.query_plan` when the driver cannot send one of ``params``
    (a ``dict``, a text with a NUL character, an int out of the placeholder's range...):
    the statement did not reach the server.
    """


class ExtensionNotLoadedError(PgStatKitError):
    """``pg_stat_statements`` is not in the server's ``shared_preload_libraries``.

    The fix needs a server restart; the message gives the exact setting.
    """


class ExtensionNotInstalledError(PgStatKitError):
    """The ``pg_stat_statements`` extension is not created in the current database.

    Run ``pgstatkit.stats.install(conn)`` or ``CREATE EXTENSION pg_stat_statements``
    (a superuser the first time: the extension is not trusted).
    """


class ExtensionNotSetUpError(ExtensionNotLoadedError, ExtensionNotInstalledError):
    """Both at once: the library is not preloaded *and* the extension is not created.

    The message names both fixes, so one pass sets the server up: add
    ``pg_stat_statements`` to ``shared_preload_libraries`` and restart, and create the
    extension in the database. A subclass of :class:`ExtensionNotLoadedError` and of
    :class:`ExtensionNotInstalledError`, so either ``except`` clause catches it.
    """


class ExtensionTooOldError(PgStatKitError):
    """The installed ``pg_stat_statements`` is older than 1.8 (PostgreSQL 13), or older
    than an option needs (``reset_query_statistics(minmax_only=True)``: 1.11, PostgreSQL 17).

    Run ``ALTER EXTENSION pg_stat_statements UPDATE`` or upgrade the server.
    """


class InsufficientPrivilegeError(PgStatKitError):
    """The current role may not do this; the message names the grant that fixes it."""


class UnsafeQueryError(PgStatKitError):
    """A statement given to :func:`query_plan` was refused before anything ran.

    Raised for empty input, more than one statement, or statements ``EXPLAIN``
    cannot take.

    Attributes:
        reason: why, as a stable code for programs (the message is for people):
            ``"empty"``, ``"incomplete"`` (an unterminated constant or comment),
            ``"several"`` (more than one statement), ``"explain"`` (the text already
            starts with ``EXPLAIN``), ``"not_explainable"`` (not one of the statements
            ``EXPLAIN`` takes) or ``"placeholder"`` (a ``$n`` beyond ``$65535``).
        statements: for ``"several"``, how many statements the input holds.
        keyword: for ``"not_explainable"``, the statement's first keyword.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: UnsafeQueryReason = "refused",
        statements: int | None = None,
        keyword: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason: UnsafeQueryReason = reason
        self.statements = statements
        self.keyword = keyword


class StatementTimeoutError(PgStatKitError):
    """The server cancelled a statement of the call (SQLSTATE ``57014``).

    Almost always the call's statement timeout (``timeout_ms``) ran out: raise it for
    this call, or look at why the server is slow. PostgreSQL reports a cancel request
    (``pg_cancel_backend``) with the same SQLSTATE, and only the message text (in the
    server's language) tells them apart, so pgstatkit treats both as a timeout.
    """


class LockTimeoutError(StatementTimeoutError):
    """A statement of the call could not get a lock in time (SQLSTATE ``55P03``).

    The session's ``lock_timeout`` ran out (or, in a statement given to
    :func:`~pgstatkit.stats.query_plan`, a ``NOWAIT`` lock was taken). A
    :class:`StatementTimeoutError`: retry later, or find the transaction holding the
    lock (``pg_locks``, ``pg_blocking_pids``).
    """


class StatementRejectedError(PgStatKitError):
    """The server rejected the statement given to :func:`~pgstatkit.stats.query_plan`.

    The caller's statement is at fault: a syntax error, an unknown column, a constraint
    violated by ``analyze=True``, a subquery returning two rows, a function raising an
    error... :attr:`sqlstate` is the server's SQLSTATE; the driver's exception, with
    the server's own message, is ``__cause__``. Errors that are not the statement's
    fault (the server out of memory or shutting down) pass through as driver errors.
    """

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        """The five-character SQLSTATE the server answered, e.g. ``"23505"``."""


class StatementConflictError(StatementRejectedError):
    """The statement given to ``query_plan`` lost to a concurrent transaction.

    SQLSTATE class ``40``: a serialization failure or a deadlock while
    ``analyze=True`` ran it. Retrying may succeed.
    """


class StatementPrivilegeError(StatementRejectedError, InsufficientPrivilegeError):
    """The role may not run the statement given to ``query_plan`` (SQLSTATE ``42501``).

    Also an :class:`InsufficientPrivilegeError`: grant the role what the statement
    needs (``SELECT`` on its tables; for an analyzed write, ``INSERT``/``UPDATE``/
    ``DELETE`` too), or explain a statement it may run.
    """


class TransactionStateError(PgStatKitError):
    """The caller's connection is in a failed transaction, so nothing can run on it.

    Roll the caller's transaction back first.
    """


class InstallRefusedError(PgStatKitError):
    """``install`` or ``uninstall`` refused and changed nothing.

    Raised when an object in the helper schema has one of pgstatkit's names but was not
    created by pgstatkit (install never replaces or drops it: use another schema, or
    drop or rename it), when a role given to ``grant_select_to`` does not exist, and
    when objects of yours depend on pgstatkit's views (``uninstall``, or ``install``
    re-creating a view whose columns changed: drop them first). The message names the
    objects.
    """


class ExtraNotInstalledError(PgStatKitError, ImportError):
    """A feature needs an optional dependency that is not installed.

    The message names the ``pip install`` that fixes it, e.g. ``pip install
    "pgstatkit[advisor]"`` for query fingerprints and the index advisor (``pglast``).
    Raised before anything is sent to the server. Also an :class:`ImportError`.

    Attributes:
        extra: the pgstatkit extra to install (``"advisor"``).
    """

    def __init__(self, message: str, *, extra: str) -> None:
        super().__init__(message)
        self.extra = extra

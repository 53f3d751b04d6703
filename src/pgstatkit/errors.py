"""Exceptions raised by pgstatkit.

Every exception pgstatkit raises on purpose is a subclass of :class:`PgStatKitError`,
so ``except pgstatkit.PgStatKitError`` catches them all. Messages say what went wrong
*and what to do about it*. Errors from the database driver that pgstatkit does not
recognise (a dropped connection, for instance) are passed through unchanged.
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
    "ExtensionTooOldError",
    "InsufficientPrivilegeError",
    "InvalidArgumentError",
    "PgStatKitError",
    "StatementTimeoutError",
    "TransactionStateError",
    "UnsafeQueryError",
]


class PgStatKitError(Exception):
    """Base class of every error pgstatkit raises on purpose."""


class InvalidArgumentError(PgStatKitError, ValueError):
    """An argument is out of range or of the wrong type.

    Raised before anything is sent to the server. Also a :class:`ValueError`, so
    code that already catches ``ValueError`` keeps working.
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


class ExtensionTooOldError(PgStatKitError):
    """The installed ``pg_stat_statements`` is older than 1.8 (PostgreSQL 13).

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
    """A monitoring statement ran past its timeout and was cancelled by the server.

    Raise ``timeout_ms`` for this call, or look at why the server is slow.
    """


class TransactionStateError(PgStatKitError):
    """The caller's connection is in a failed transaction, so nothing can run on it.

    Roll the caller's transaction back first.
    """

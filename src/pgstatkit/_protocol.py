"""The sans-I/O contract between pgstatkit's core and its driver adapters.

An :class:`Operation` is what a public function asks for: how to guard the session
(read-only or not, commit or roll back, the statement timeout) and a generator of
steps. The generator yields :class:`Query` objects and receives a :class:`Result` for
each; when a query fails, the adapter's description of the driver's exception, a
:class:`ServerError`, is thrown into the generator instead, which may handle it (by its
``sqlstate``) or let it out. The generator's return value is the public function's
result.

Whatever must be undone *outside* the guard's transaction -- a ``PREPARE``d statement,
a session-level advisory lock -- is registered by yielding a :class:`Cleanup` before
the step that may leave it behind. The runner runs every registered cleanup after the
guard's rollback, on the same connection, however the call ended: a result, an error,
a cancellation (``CancelledError``, ``KeyboardInterrupt``) or a lost connection.

Adapters (``pgstatkit/adapters``) run queries and return rows, and describe their
driver's exceptions as :class:`ServerError`; they never build models or choose SQL. The
loop that drives an operation lives in :mod:`pgstatkit._run`; :func:`translate_error`
(from :mod:`pgstatkit._errors`) turns a :class:`ServerError` into a pgstatkit error by
SQLSTATE.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pgstatkit import _sql
from pgstatkit._columns import MIN_VERSION, Version, parse_version
from pgstatkit._errors import (
    ServerError,
    not_created,
    not_loaded,
    not_set_up,
    translate_error,
    translated,
)
from pgstatkit.errors import ExtensionTooOldError

__all__ = [
    "NO_ROWS",
    "Cleanup",
    "Context",
    "Operation",
    "Previous",
    "Query",
    "Result",
    "ServerError",
    "Steps",
    "TxState",
    "parse_probe",
    "parse_setup",
    "probe_query",
    "restore_query",
    "setup_query",
    "translate_error",
    "translated",
]

T = TypeVar("T")

SAVEPOINT = "pgstatkit_guard"
PINNED_SEARCH_PATH = "pg_catalog, pg_temp"


@dataclass(frozen=True, slots=True)
class Query:
    """One statement for an adapter to run: SQL with ``$1``-style placeholders and values.

    Adapters always send it with the extended query protocol (so the server refuses a
    second statement) and must not keep it as a server-side prepared statement beyond
    the driver's own statement cache.
    """

    sql: str
    params: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class Result:
    """Rows of one statement: the column names and the rows as tuples, in order."""

    columns: tuple[str, ...]
    rows: Sequence[Sequence[object]]


class TxState(enum.Enum):
    """Transaction state of the caller's connection, as the adapter sees it."""

    IDLE = "idle"
    IN_TRANSACTION = "in transaction"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Context:
    """What the guard's setup statement learned about the server, for the steps."""

    pgss_version: Version | None
    pgss_schema: str | None
    pgss_loaded: bool | None = None
    """Whether the server preloaded the library (its ``pg_stat_statements.max`` exists).

    Asked only when the extension is not created; None otherwise (a read of
    ``pg_stat_statements`` then fails with SQLSTATE 55000 if it is not loaded).
    """

    def require_pg_stat_statements(self) -> tuple[Version, str]:
        """The extension version and schema, or the error that says how to get them.

        Raises:
            ExtensionNotSetUpError: not preloaded and not created (both fixes named).
            ExtensionNotLoadedError: not in ``shared_preload_libraries``.
            ExtensionNotInstalledError: not created in the current database.
            ExtensionTooOldError: older than 1.8.
        """
        created = self.pgss_version is not None and self.pgss_schema is not None
        if self.pgss_loaded is False:
            raise not_loaded() if created else not_set_up()
        if self.pgss_version is None or self.pgss_schema is None:
            raise not_created()
        if self.pgss_version < MIN_VERSION:
            found = ".".join(map(str, self.pgss_version))
            raise ExtensionTooOldError(
                f"pg_stat_statements {found} is installed; pgstatkit needs 1.8 "
                "(PostgreSQL 13) or later: run `ALTER EXTENSION pg_stat_statements "
                "UPDATE;` or upgrade the server"
            )
        return self.pgss_version, self.pgss_schema


@dataclass(frozen=True, slots=True)
class Cleanup:
    """Yielded by steps (instead of a :class:`Query`) to register work that always runs.

    ``steps`` makes a generator of cleanup queries (it receives each :class:`Result`).
    The runner answers the ``yield`` at once with an empty :class:`Result` and, however
    the call ends, runs the registered cleanups last first, after the guard's rollback:
    outside any transaction on an idle connection, inside the caller's transaction
    otherwise. A cleanup must therefore never fail on a healthy connection (look
    before you act: ``DEALLOCATE`` only a statement that exists) and must be safe to
    run when the step it guards never reached the server.
    """

    steps: Callable[[], Generator[Query, Result, None]]


NO_ROWS = Result((), ())
"""What the runner sends back for a yielded :class:`Cleanup`."""

Steps = Generator[Query | Cleanup, Result, T]


@dataclass(frozen=True, slots=True)
class Operation(Generic[T]):
    """A monitoring call, ready to run on any adapter.

    ``read_only``: the guard makes the transaction read-only. ``commit``: keep what the
    steps did (commit, or release the savepoint); otherwise always roll back.
    ``pin_search_path``: resolve unqualified names in ``pg_catalog`` only, so objects
    in the caller's schemas can never shadow the ones pgstatkit means.
    ``lock_timeout_ms``: the lock timeout (``None``: the statement timeout).
    ``settings``: (name, value) pairs the guard's first statement also sets for the
    operation (``SET LOCAL``); like the timeouts they are the caller's again when the
    call ends, committed or not.
    """

    name: str
    steps: Callable[[Context], Steps[T]]
    timeout_ms: int
    read_only: bool = True
    commit: bool = False
    pin_search_path: bool = True
    lock_timeout_ms: int | None = None
    settings: tuple[tuple[str, str], ...] = ()


Previous = tuple[str, str, str, list[str] | None, list[str] | None]
"""The caller's (statement_timeout, lock_timeout, search_path) and, for the names of
the operation's own settings, their values, read by the setup."""


def setup_query(op: Operation[Any]) -> Query:
    """The first statement inside the guard: SET LOCAL timeouts, read-only, search_path.

    It reads no catalog, so nothing it does can wait for a lock before the timeouts are
    in effect; :func:`probe_query` follows.
    """
    lock_ms = op.timeout_ms if op.lock_timeout_ms is None else op.lock_timeout_ms
    return Query(
        _sql.load("session.sql", "setup"),
        (
            f"{op.timeout_ms}ms",
            "on" if op.read_only else None,
            PINNED_SEARCH_PATH if op.pin_search_path else None,
            f"{lock_ms}ms",
            [name for name, _ in op.settings] or None,
            [value for _, value in op.settings] or None,
        ),
    )


def parse_setup(result: Result) -> Previous:
    """The caller's previous (statement_timeout, lock_timeout, search_path) and the
    previous values of the operation's own settings."""
    row = dict(zip(result.columns, result.rows[0], strict=True))
    return (
        str(row["prev_statement_timeout"]),
        str(row["prev_lock_timeout"]),
        str(row["prev_search_path"]),
        _texts(row["setting_names"]),
        _texts(row["prev_settings"]),
    )


def _texts(value: object) -> list[str] | None:
    """A text[] column as a list of str (``None`` stays ``None``)."""
    if value is None:
        return None
    assert isinstance(value, list | tuple), value
    return [str(v) for v in value]


def probe_query() -> Query:
    """The guard's second statement: the extension's version and schema (a catalog read,
    under the timeouts the setup statement set)."""
    return Query(_sql.load("session.sql", "probe"))


def parse_probe(result: Result) -> Context:
    """The :class:`Context` the probe describes."""
    row = dict(zip(result.columns, result.rows[0], strict=True))
    version = row["pgss_version"]
    return Context(
        pgss_version=parse_version(str(version)) if version is not None else None,
        pgss_schema=str(row["pgss_schema"]) if row["pgss_schema"] is not None else None,
        pgss_loaded=None if row["pgss_loaded"] is None else row["pgss_loaded"] is True,
    )


def restore_query(previous: Previous) -> Query:
    """Put back the caller's settings after a committed savepoint."""
    return Query(_sql.load("session.sql", "restore"), previous)

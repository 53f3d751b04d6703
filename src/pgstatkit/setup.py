"""Set up pgstatkit in a database: ``from pgstatkit import setup``.

``await setup.install(conn)``, ``await setup.uninstall(conn)`` and
``await setup.check_setup(conn)``; the blocking twins are in :mod:`pgstatkit.sync.setup`.
``conn`` is anything :mod:`pgstatkit.stats` accepts. Each call runs in its own
transaction, or a savepoint inside yours, with ``SET LOCAL statement_timeout``
(``timeout_ms``, default 5000 ms) and ``search_path`` pinned to ``pg_catalog``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pgstatkit import _doctor, _install
from pgstatkit._protocol import Operation
from pgstatkit._run import run_async
from pgstatkit.adapters import open_async
from pgstatkit.models import SetupReport

__all__ = ["check_setup", "install", "uninstall"]

T = TypeVar("T")


async def _run(conn: Any, op: Operation[T]) -> T:
    async with open_async(conn) as session:
        return await run_async(session, op)


async def install(conn: Any, *, schema: str = "pgstatkit", timeout_ms: float | None = None) -> None:
    """Create pgstatkit's helper views (and what they need) in the current database.

    Idempotent and safe to run concurrently (one transaction, serialised on an advisory
    lock; a failure leaves nothing behind). Creates, each only if missing:
    ``CREATE EXTENSION pg_stat_statements`` (in ``public``), the schema ``schema``, and
    ``<schema>.pgstatkit_meta`` recording what install created and the versions. Then
    (re)builds the views ``<schema>.slow_queries`` (mean execution time >= 1000 ms),
    ``<schema>.top_queries_by_total_time`` and ``<schema>.queries_with_low_cache_hit``
    (cache hit ratio < 0.9): the current database, with the columns and order of the
    :mod:`pgstatkit.stats` functions of the same names, for the extension version
    installed now.

    Views over ``pg_stat_statements`` block ``ALTER EXTENSION pg_stat_statements
    UPDATE``: run :func:`uninstall`, then the update, then :func:`install` again.

    Not read-only: it commits (inside your transaction it releases its savepoint).
    ``CREATE EXTENSION pg_stat_statements`` needs a superuser (the extension is not
    trusted); once it exists, the database owner can install. Otherwise
    :class:`~pgstatkit.errors.InsufficientPrivilegeError`.

    Args:
        schema: the helper schema: 1-63 bytes, no NUL, not starting with ``pg_``;
            always quoted.
        timeout_ms: statement timeout of this call (default 5000 ms).
    """
    return await _run(conn, _install.install(schema, timeout_ms=timeout_ms))


async def uninstall(
    conn: Any, *, schema: str = "pgstatkit", timeout_ms: float | None = None
) -> None:
    """Remove what :func:`install` created, and nothing else; a no-op when not installed.

    Drops the helper views and ``<schema>.pgstatkit_meta``; the ``pg_stat_statements``
    extension only if install created it and nothing else depends on it; the schema
    only if install created it and it is now empty. Never ``CASCADE``.

    Args:
        schema: the helper schema given to :func:`install`.
        timeout_ms: statement timeout of this call (default 5000 ms).
    """
    return await _run(conn, _install.uninstall(schema, timeout_ms=timeout_ms))


async def check_setup(
    conn: Any, *, schema: str = "pgstatkit", timeout_ms: float | None = None
) -> SetupReport:
    """Check the server's configuration for pg_stat_statements ("doctor").

    Read-only. One :class:`~pgstatkit.models.SetupFinding` per check, in this order:
    ``shared_preload_libraries`` (loaded at server start), ``extension`` (created in
    this database, up to date), ``views`` (pgstatkit's helper views in ``schema``,
    built for the installed extension version), ``pg_stat_statements.track``,
    ``.max`` and ``.track_planning`` (when the library is loaded), ``track_io_timing``,
    ``compute_query_id`` (PostgreSQL 14+), ``log_min_duration_statement``,
    ``log_line_prefix``, ``read_all_stats`` (whether this role sees other roles'
    statement texts) and ``evictions`` (``pg_stat_statements_info.dealloc``, 1.9+).
    Each says what was found, why it matters, the exact fix and whether it needs a
    restart. :meth:`~pgstatkit.models.SetupReport.postgresql_conf` and
    :meth:`~pgstatkit.models.SetupReport.docker_compose_command` render the
    recommended settings.

    ``shared_preload_libraries`` is hidden from roles without ``pg_read_all_settings``;
    then whether the library is loaded is read from the presence of its settings.

    Args:
        schema: the helper schema given to :func:`install`.
        timeout_ms: statement timeout of this call (default 5000 ms).
    """
    return await _run(conn, _doctor.check_setup(schema=schema, timeout_ms=timeout_ms))

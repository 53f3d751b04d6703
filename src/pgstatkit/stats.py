"""The async monitoring API: ``from pgstatkit import stats``.

Every function takes ``conn`` first: an asyncpg ``Connection`` or ``Pool``, a psycopg
``AsyncConnection`` or ``AsyncConnectionPool``, or a SQLAlchemy ``AsyncConnection``,
``AsyncSession`` or ``AsyncEngine`` (asyncpg or psycopg driver). Anything else raises
``TypeError``. The blocking twin, :mod:`pgstatkit.sync.stats`, has the same names and
keyword arguments.

Every call:

- validates its arguments first (:class:`~pgstatkit.errors.InvalidArgumentError`,
  nothing sent);
- runs in its own transaction, or a savepoint inside yours, with ``SET LOCAL``
  ``statement_timeout`` (``timeout_ms``, default 5000 ms) and, except where noted,
  read-only and with ``search_path`` pinned to ``pg_catalog``; then rolls back, so your
  connection's settings and transaction state end as they began, also when the call
  is interrupted (a cancelled task, Ctrl-C: the exception leaves after the rollback);
- raises :class:`~pgstatkit.errors.StatementTimeoutError` past its timeout,
  :class:`~pgstatkit.errors.TransactionStateError` on a connection in a failed
  transaction, :class:`~pgstatkit.errors.InsufficientPrivilegeError` when the role
  lacks a grant; the functions over ``pg_stat_statements`` also raise
  :class:`~pgstatkit.errors.ExtensionNotLoadedError` and
  :class:`~pgstatkit.errors.ExtensionNotInstalledError`. Other driver errors (a lost
  connection) pass through unchanged.

The functions over ``pg_stat_statements`` look at the current database unless
``all_databases=True``. The listings leave out pgstatkit's own statements and tables
unless ``include_pgstatkit=True``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pgstatkit import _doctor as _ops_doctor
from pgstatkit import _health as _ops_health
from pgstatkit import _install as _ops_install
from pgstatkit import _operations as _ops
from pgstatkit._operations import GroupBy, TableOrder
from pgstatkit._protocol import Operation
from pgstatkit._run import run_async
from pgstatkit.adapters import open_async
from pgstatkit.models import (
    DatabaseStatistics,
    HealthReport,
    IndexUsage,
    QueryPlan,
    QueryStat,
    SetupReport,
    TableStatistics,
)

__all__ = [
    "GroupBy",
    "TableOrder",
    "check_setup",
    "database_statistics",
    "health",
    "index_usage",
    "install",
    "queries_with_low_cache_hit",
    "query_plan",
    "reset_query_statistics",
    "slow_queries",
    "table_statistics",
    "top_queries_by_total_time",
    "uninstall",
]

T = TypeVar("T")


async def _run(conn: Any, op: Operation[T]) -> T:
    async with open_async(conn) as session:
        return await run_async(session, op)


async def slow_queries(
    conn: Any,
    *,
    min_duration_ms: float = 1000.0,
    limit: int = 20,
    all_databases: bool = False,
    include_pgstatkit: bool = False,
    group_by: GroupBy = "queryid",
    timeout_ms: float | None = None,
) -> list[QueryStat]:
    """Statements whose mean execution time is at least ``min_duration_ms``, slowest first.

    Args:
        min_duration_ms: threshold on ``mean_exec_time_ms``, 0 to 86,400,000 (one day).
        limit: at most this many rows, 1 to 10,000.
        all_databases: every database, not only the current one.
        include_pgstatkit: also pgstatkit's own statements (left out by default; see
            "pgstatkit's own statements" in docs/statistics.md).
        group_by: ``"fingerprint"`` sums the entries of one query fingerprint (IN lists
            of any length, other aliases, numbered partitions: see
            :mod:`pgstatkit.fingerprints`) into one row, before filtering and ranking;
            needs ``pip install "pgstatkit[advisor]"``, else
            :class:`~pgstatkit.errors.ExtraNotInstalledError` (nothing is sent).
        timeout_ms: statement timeout of this call (default 5000 ms).
    """
    op = _ops.slow_queries(
        min_duration_ms=min_duration_ms,
        limit=limit,
        all_databases=all_databases,
        include_pgstatkit=include_pgstatkit,
        group_by=group_by,
        timeout_ms=timeout_ms,
    )
    return await _run(conn, op)


async def top_queries_by_total_time(
    conn: Any,
    *,
    limit: int = 20,
    all_databases: bool = False,
    include_pgstatkit: bool = False,
    group_by: GroupBy = "queryid",
    timeout_ms: float | None = None,
) -> list[QueryStat]:
    """Statements with the highest total execution time first (where time goes overall).

    Args:
        limit: at most this many rows, 1 to 10,000.
        all_databases: every database, not only the current one.
        include_pgstatkit: also pgstatkit's own statements (left out by default; see
            "pgstatkit's own statements" in docs/statistics.md).
        group_by: ``"fingerprint"`` sums the entries of one query fingerprint (IN lists
            of any length, other aliases, numbered partitions: see
            :mod:`pgstatkit.fingerprints`) into one row, before filtering and ranking;
            needs ``pip install "pgstatkit[advisor]"``, else
            :class:`~pgstatkit.errors.ExtraNotInstalledError` (nothing is sent).
        timeout_ms: statement timeout of this call (default 5000 ms).
    """
    op = _ops.top_queries_by_total_time(
        limit=limit,
        all_databases=all_databases,
        include_pgstatkit=include_pgstatkit,
        group_by=group_by,
        timeout_ms=timeout_ms,
    )
    return await _run(conn, op)


async def queries_with_low_cache_hit(
    conn: Any,
    *,
    max_cache_hit_ratio: float = 0.9,
    limit: int = 20,
    all_databases: bool = False,
    include_pgstatkit: bool = False,
    group_by: GroupBy = "queryid",
    timeout_ms: float | None = None,
) -> list[QueryStat]:
    """Statements that read shared blocks with ``cache_hit_ratio <= max_cache_hit_ratio``.

    Worst ratio first, then most blocks read. Statements that touched no shared block
    have no ratio and are left out.

    Args:
        max_cache_hit_ratio: a fraction from 0 to 1 (0.9 means 90%).
        limit: at most this many rows, 1 to 10,000.
        all_databases: every database, not only the current one.
        include_pgstatkit: also pgstatkit's own statements (left out by default; see
            "pgstatkit's own statements" in docs/statistics.md).
        group_by: ``"fingerprint"`` sums the entries of one query fingerprint (IN lists
            of any length, other aliases, numbered partitions: see
            :mod:`pgstatkit.fingerprints`) into one row, before filtering and ranking;
            needs ``pip install "pgstatkit[advisor]"``, else
            :class:`~pgstatkit.errors.ExtraNotInstalledError` (nothing is sent).
        timeout_ms: statement timeout of this call (default 5000 ms).
    """
    op = _ops.queries_with_low_cache_hit(
        max_cache_hit_ratio=max_cache_hit_ratio,
        limit=limit,
        all_databases=all_databases,
        include_pgstatkit=include_pgstatkit,
        group_by=group_by,
        timeout_ms=timeout_ms,
    )
    return await _run(conn, op)


async def database_statistics(conn: Any, *, timeout_ms: float | None = None) -> DatabaseStatistics:
    """Size, cache hit ratio, transactions, conflicts and more for the current database.

    Does not need ``pg_stat_statements``.
    """
    return await _run(conn, _ops.database_statistics(timeout_ms=timeout_ms))


async def table_statistics(
    conn: Any,
    *,
    limit: int = 50,
    order_by: TableOrder = "seq_tup_read",
    include_pgstatkit: bool = False,
    timeout_ms: float | None = None,
) -> list[TableStatistics]:
    """User tables: scans, tuples, dead tuples, vacuum/analyze times, sizes, heap cache hit.

    Args:
        limit: at most this many tables, 1 to 10,000.
        order_by: ``"seq_tup_read"`` (rows read by sequential scans, the default: big
            tables scanned without an index come first), ``"seq_scan"``,
            ``"total_size"``, ``"dead_tuples"`` or ``"name"``.
        include_pgstatkit: also pgstatkit's own tables (``pgstatkit_meta`` in the helper
            schema), left out by default; a user's tables in that schema are listed.
        timeout_ms: statement timeout of this call (default 5000 ms).

    Does not need ``pg_stat_statements``.
    """
    op = _ops.table_statistics(
        limit=limit,
        order_by=order_by,
        include_pgstatkit=include_pgstatkit,
        timeout_ms=timeout_ms,
    )
    return await _run(conn, op)


async def index_usage(
    conn: Any,
    *,
    limit: int = 50,
    include_pgstatkit: bool = False,
    timeout_ms: float | None = None,
) -> list[IndexUsage]:
    """User indexes with scans, size and an ``unused`` flag; unused ones first.

    Args:
        limit: at most this many indexes, 1 to 10,000.
        include_pgstatkit: also the indexes of pgstatkit's own tables (left out by
            default).
        timeout_ms: statement timeout of this call (default 5000 ms).

    Does not need ``pg_stat_statements``.
    """
    op = _ops.index_usage(limit=limit, include_pgstatkit=include_pgstatkit, timeout_ms=timeout_ms)
    return await _run(conn, op)


async def query_plan(
    conn: Any,
    query: str,
    *,
    analyze: bool = False,
    params: Sequence[object] | None = None,
    timeout_ms: float | None = None,
) -> QueryPlan:
    """The plan of exactly one statement, from ``EXPLAIN (FORMAT JSON)``.

    Safe by construction: input holding more than one statement, or a statement that is
    not SELECT / WITH / VALUES / TABLE / INSERT / UPDATE / DELETE / MERGE, raises
    :class:`~pgstatkit.errors.UnsafeQueryError` and runs nothing; the statement is sent
    with the extended query protocol, so the server refuses a second one too. The
    statement sees your ``search_path``.

    - ``analyze=False``: nothing is executed; the transaction is read-only.
    - ``analyze=True``: ``EXPLAIN (ANALYZE, BUFFERS)`` executes the statement inside a
      transaction (or savepoint) that is always rolled back, so an ``UPDATE`` or
      ``DELETE`` changes nothing; session-level advisory locks it takes are released.
      Effects outside transactions are not undone: sequence increments, and anything a
      called function does outside the database.
    - A normalized text from ``pg_stat_statements`` (``$1`` placeholders) without
      ``params`` gets a generic plan (``QueryPlan.generic``), made with ``PREPARE`` and
      ``plan_cache_mode = force_generic_plan`` -- the plan ``EXPLAIN (GENERIC_PLAN)``
      shows on PostgreSQL 16+, on every version. ``analyze=True`` then raises
      :class:`~pgstatkit.errors.InvalidArgumentError`: pass ``params``.
    - The server rejecting the statement (a syntax error, an unknown column, a
      constraint an analyzed write violates...) raises
      :class:`~pgstatkit.errors.StatementRejectedError` with its ``sqlstate`` (a
      :class:`~pgstatkit.errors.StatementConflictError` for class ``40``, a
      :class:`~pgstatkit.errors.StatementPrivilegeError` for ``42501``); the driver's
      error, with the server's message, is its ``__cause__``. A value of ``params`` the
      driver cannot send raises :class:`~pgstatkit.errors.InvalidArgumentError`.

    Args:
        query: one SQL statement, with or without a trailing semicolon.
        analyze: run it and report actual times and buffers.
        params: values for ``$1..$n``, as many as the highest placeholder.
        timeout_ms: statement timeout, which also bounds ``analyze`` (default 5000 ms).
    """
    op = _ops.query_plan(query, analyze=analyze, params=params, timeout_ms=timeout_ms)
    return await _run(conn, op)


async def reset_query_statistics(
    conn: Any,
    *,
    queryid: int | None = None,
    minmax_only: bool = False,
    timeout_ms: float | None = None,
) -> _dt.datetime | None:
    """``pg_stat_statements_reset()``: forget every statement, or one ``queryid``.

    Not read-only: it commits (inside your transaction it releases its savepoint; the
    reset itself is not transactional). Needs a superuser or ``GRANT EXECUTE`` on
    ``pg_stat_statements_reset``; otherwise
    :class:`~pgstatkit.errors.InsufficientPrivilegeError`.

    Args:
        queryid: reset only the entries of this statement (any user and database).
        minmax_only: reset only the ``min_*_time_ms`` / ``max_*_time_ms`` fields (they
            read 0 until the statement runs again) and set ``minmax_stats_since``; calls,
            totals and ``stats_since`` are kept. Needs ``pg_stat_statements`` 1.11
            (PostgreSQL 17); on an older extension it raises
            :class:`~pgstatkit.errors.ExtensionTooOldError` and resets nothing.
        timeout_ms: statement timeout (default 5000 ms).

    Returns:
        The reset time on ``pg_stat_statements`` 1.11+ (PostgreSQL 17+), else ``None``.
    """
    op = _ops.reset_query_statistics(
        queryid=queryid, minmax_only=minmax_only, timeout_ms=timeout_ms
    )
    return await _run(conn, op)


async def install(
    conn: Any,
    *,
    schema: str = "pgstatkit",
    grant_select_to: list[str] | tuple[str, ...] = (),
    timeout_ms: float | None = None,
) -> None:
    """Create pgstatkit's helper views (and what they need) in the current database.

    Idempotent and safe to run concurrently (one transaction, serialised on an advisory
    lock; a failure leaves nothing behind). Creates, each only if missing:
    ``CREATE EXTENSION pg_stat_statements`` (in ``public``), the schema ``schema``, and
    ``<schema>.pgstatkit_meta`` recording what install created and the versions (the
    schema's migrations, ``sql/schema/NNNN_*.sql``: only those newer than the recorded
    schema version are applied; a newer recorded version is refused). Then
    builds the views ``<schema>.slow_queries`` (mean execution time >= 1000 ms),
    ``<schema>.top_queries_by_total_time`` and ``<schema>.queries_with_low_cache_hit``
    (cache hit ratio < 0.9): the current database, with the columns and order of the
    :mod:`pgstatkit.stats` functions of the same names, for the extension version
    installed now. Every object install creates carries pgstatkit's ownership comment.

    What is not pgstatkit's stays untouched: a relation in ``schema`` with one of these
    names but without pgstatkit's comment makes install refuse. A re-install keeps the
    GRANTs made on the views (``CREATE OR REPLACE VIEW``; a view whose columns changed
    is re-created and granted the same privileges again).

    Views over ``pg_stat_statements`` block ``ALTER EXTENSION pg_stat_statements
    UPDATE``: run :func:`uninstall`, then the update, then :func:`install` again (with
    ``grant_select_to``: uninstall dropped the views and their grants).

    Not read-only: it commits (inside your transaction it releases its savepoint).
    ``CREATE EXTENSION pg_stat_statements`` needs a superuser (the extension is not
    trusted); once it exists, the database owner can install. Otherwise
    :class:`~pgstatkit.errors.InsufficientPrivilegeError`.

    Args:
        schema: the helper schema: 1-63 bytes, no NUL, not starting with ``pg_``;
            always quoted.
        grant_select_to: roles to grant ``SELECT`` on the views and ``USAGE`` on the
            schema (a list or tuple of names, 1-63 bytes each, always quoted;
            ``"public"`` means ``PUBLIC``).
        timeout_ms: statement timeout of this call (default 5000 ms).

    Raises:
        InstallRefusedError: nothing changed: a relation in ``schema`` with one of
            pgstatkit's names was not created by pgstatkit; a role of
            ``grant_select_to`` does not exist; or a view whose columns changed must be
            re-created but other objects depend on it. The message names them.
        ExtensionTooOldError: ``pg_stat_statements`` is older than 1.8; nothing changed.
        PgStatKitError: ``schema`` was installed by a newer pgstatkit (a schema version
            this one does not know); nothing changed.
        InvalidArgumentError: a bad ``schema``, role name or ``timeout_ms``; nothing sent.
    """
    op = _ops_install.install(schema, grant_select_to=grant_select_to, timeout_ms=timeout_ms)
    return await _run(conn, op)


async def uninstall(
    conn: Any, *, schema: str = "pgstatkit", timeout_ms: float | None = None
) -> None:
    """Remove what :func:`install` created, and nothing else; a no-op when not installed.

    Drops the helper views and ``<schema>.pgstatkit_meta`` that carry pgstatkit's
    ownership comment (an object of yours with the same name stays); the
    ``pg_stat_statements`` extension only if install created it and nothing else depends
    on it; the schema only if install created it and it is now empty. Never ``CASCADE``.

    Args:
        schema: the helper schema given to :func:`install`.
        timeout_ms: statement timeout of this call (default 5000 ms).

    Raises:
        InstallRefusedError: nothing changed: objects of yours depend on pgstatkit's
            views (the message names them, read from ``pg_depend``); drop them first.
    """
    return await _run(conn, _ops_install.uninstall(schema, timeout_ms=timeout_ms))


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
    return await _run(conn, _ops_doctor.check_setup(schema=schema, timeout_ms=timeout_ms))


async def health(
    conn: Any,
    *,
    checks: Sequence[str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    pgstattuple: bool = False,
    timeout_ms: float | None = None,
) -> HealthReport:
    """Run the health checks: each finding with its evidence, explanation and fix.

    Read-only. Every check (``checks``: their names, default all; see
    ``docs/health.md``) returns one :class:`~pgstatkit.models.HealthFinding` per
    object with a problem, severity ``"warning"`` or ``"critical"``, with its evidence
    (numbers with units), one sentence of explanation, the SQL or setting that fixes it
    and the fix's own risk; or one ``"ok"`` finding. A check the role may not run (or
    that ran past the timeout) returns one ``"unknown"`` finding naming the grant it
    needs, and the others still run: each runs inside its own savepoint.
    :attr:`~pgstatkit.models.HealthReport.worst` is the worst severity.

    The checks: ``unused_indexes``, ``duplicate_indexes``, ``invalid_indexes``,
    ``foreign_keys_without_index``, ``bloat``, ``xid_wraparound``,
    ``multixact_wraparound``, ``sequences``, ``long_running_queries``,
    ``idle_in_transaction``, ``blocked_queries``, ``connections``, ``vacuum``,
    ``replication_slots``, ``replica_lag``, ``prepared_transactions``,
    ``pg_stat_statements``, ``cache_hit_ratio``.

    Args:
        checks: names of the checks to run (in their fixed order), or None for all.
        thresholds: threshold name to value, over the defaults (``docs/health.md``
            lists every name, unit, default and its source).
        pgstattuple: the bloat check measures each relation of at least
            ``bloat_min_bytes`` with the ``pgstattuple`` extension (reading all of it)
            instead of estimating from ``pg_stats``; ``unknown`` naming
            ``CREATE EXTENSION pgstattuple`` when it is not created.
        timeout_ms: statement timeout of each statement of this call (default 5000 ms);
            the lock timeout is the smaller of it and 2000 ms.

    Raises:
        InvalidArgumentError: an unknown check or threshold name, a threshold of the
            wrong type or out of range, or a warning threshold beyond its critical one
            (nothing is sent).
    """
    op = _ops_health.health(
        checks=checks, thresholds=thresholds, pgstattuple=pgstattuple, timeout_ms=timeout_ms
    )
    return await _run(conn, op)

"""The index advisor: indexes that would save the workload the most time.

Async API (the source; :mod:`pgstatkit.sync.advisor` is its generated blocking twin)::

    from pgstatkit import advisor
    for suggestion in await advisor.suggest_indexes(conn):
        print(suggestion.create_statement, suggestion.time_saved_ms_per_day)

Needs the ``advisor`` extra (``pip install "pgstatkit[advisor]"``). docs/advisor.md
describes the algorithm, its limits and how to read a suggestion.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal

from pgstatkit import _advise
from pgstatkit._history import DEFAULT_TARGET, HistoryNotInstalledError, NoHistoryError
from pgstatkit._run import run_async
from pgstatkit.adapters import open_async
from pgstatkit.models import IndexSuggestion

__all__ = ["HistoryNotInstalledError", "NoHistoryError", "suggest_indexes"]


async def suggest_indexes(
    conn: Any,
    *,
    statements: int = 100,
    max_indexes: int = 5,
    max_bytes: int | None = None,
    min_table_rows: int = 1000,
    min_cost_reduction_ratio: float = 0.2,
    validate: bool = True,
    source: Literal["auto", "history", "reset"] = "auto",
    since: _dt.datetime | _dt.timedelta = _advise.DEFAULT_SINCE,
    until: _dt.datetime | _dt.timedelta | None = None,
    target: str = DEFAULT_TARGET,
    schema: str = "pgstatkit",
    timeout_ms: float | None = None,
) -> list[IndexSuggestion]:
    """Suggest indexes for the statements that cost the most time; create none.

    The workload comes from pgstatkit's history when it has it, else from the counters
    since the last reset (``source``, below; each suggestion's ``source`` says which).
    The ``statements`` statements (query fingerprints) with the most execution time
    in it are parsed; their equality and range
    predicates, join keys and ``ORDER BY ... LIMIT`` columns make candidate btree
    indexes (equality columns first, then one range or sort column). Candidates an
    existing valid index serves as a prefix, on tables under ``min_table_rows`` rows,
    or on columns no btree helps for the operator (``LIKE '%x%'``, a function of the
    column) are skipped. With the hypopg extension created in the database (and
    ``validate``), each candidate is a hypothetical index of this call's session and
    the statements' generic plans are compared with and without it; without it, a
    documented estimate from ``pg_stats`` ranks them and the suggestions are marked
    ``validated=False``. A greedy, workload-wide selection then keeps the indexes that
    save the most time per day (an index serving several statements counts once), less
    their write overhead, within ``max_indexes`` and ``max_bytes``.

    Read-only: never creates an index. Every statement is bounded by the statement
    timeout; the hypothetical indexes and the prepared statement it makes are removed
    whatever ends the call, a cancellation included. The statements are explained
    with the connection's ``search_path``.

    Args:
        statements: how many of the top statements to examine, 1 to 10,000.
        max_indexes: at most this many suggestions, 1 to 100.
        max_bytes: at most this many bytes of estimated index size in total (None: no
            limit); from 8192.
        min_table_rows: tables with fewer rows (``pg_class.reltuples``) are skipped.
        min_cost_reduction_ratio: a statement counts as helped when its plan cost
            drops by at least this fraction, 0 to 1.
        validate: use hypopg when the database has it.
        source: ``"auto"`` (default): the history window (``since``, ``until``] of
            ``target`` when the connected database holds pgstatkit's history (schema
            version 3 in ``schema``) with at least one snapshot of the target in the
            window besides baselines; otherwise the ``pg_stat_statements`` counters
            since their last reset (and when the role may not read the history).
            ``"history"``: the history only; ``"reset"``: the counters only. With the
            history, the current database's statements of the window are summed per
            fingerprint and the time saved per day is over the span the window's
            intervals cover (the snapshot before its first interval to its last one).
        since: start of the history window: a zone-aware datetime, or a timedelta
            before now (default 7 days), as :func:`pgstatkit.history.changes`.
        until: end of the history window (default now): a datetime or a timedelta
            before now.
        target: the history target that is this server (default ``"local"``, the
            default of :func:`pgstatkit.history.snapshot`); the history is read from
            the connected database (the store is the target).
        schema: the helper schema holding the history.
        timeout_ms: statement timeout of each statement of the call (default 5000 ms).

    Raises:
        ExtraNotInstalledError: ``pglast`` is missing (nothing was sent).
        InvalidArgumentError: an argument is out of range (nothing was sent).
        ExtensionNotInstalledError: ``pg_stat_statements`` is not usable (and the other
            extension errors of :mod:`pgstatkit.errors`), when the counters since the
            reset are read.
        HistoryNotInstalledError: ``source="history"`` and the database has no history
            tables: run ``pgstatkit install`` on it, then take snapshots.
        NoHistoryError: ``source="history"`` and no snapshot of ``target`` in the
            window but baselines: take snapshots (:func:`pgstatkit.history.snapshot`,
            the collector), widen ``since``, or use ``source="auto"``.
        StatementTimeoutError: a statement ran out of ``timeout_ms``.
    """
    op = _advise.index_suggestions(
        statements=statements,
        max_indexes=max_indexes,
        max_bytes=max_bytes,
        min_table_rows=min_table_rows,
        min_cost_reduction_ratio=min_cost_reduction_ratio,
        validate=validate,
        source=source,
        since=since,
        until=until,
        target=target,
        schema=schema,
        timeout_ms=timeout_ms,
    )
    async with open_async(conn) as session:
        return await run_async(session, op)

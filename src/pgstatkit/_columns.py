"""Which ``pg_stat_statements`` columns exist in which extension version.

pgstatkit reads the version of the extension *installed in the database*
(``pg_extension.extversion``), not the server version: a server upgraded without
``ALTER EXTENSION pg_stat_statements UPDATE`` keeps the old view, and pgstatkit must
read it as it is. From the version it builds one normalized projection whose columns are
named exactly like the :class:`pgstatkit.models.QueryStat` fields, with the units in the
names. A column the version lacks becomes a typed ``NULL``, so the Python value is
``None`` — never a made-up zero.

Supported: 1.8 (PostgreSQL 13) through 1.12 (PostgreSQL 18). Changes that matter here:

====== =========== ==========================================================
1.8    PG 13       ``*_exec_time`` / ``*_plan_time`` split, ``plans``, WAL columns
1.9    PG 14       ``toplevel``; ``pg_stat_statements_info``
1.10   PG 15       ``temp_blk_*_time``, JIT columns
1.11   PG 17       ``blk_*_time`` renamed ``shared_blk_*_time``; ``local_blk_*_time``,
                   ``jit_deform_*``, ``stats_since``, ``minmax_stats_since``;
                   ``pg_stat_statements_reset`` returns the reset time
1.12   PG 18       ``wal_buffers_full``, ``parallel_workers_to_launch`` / ``_launched``
====== =========== ==========================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pgstatkit._own import statement_filter
from pgstatkit._sql import quote_ident

__all__ = [
    "MIN_VERSION",
    "SUPPORTED_VERSIONS",
    "Column",
    "parse_version",
    "projection",
]

Version = tuple[int, int]

MIN_VERSION: Version = (1, 8)
SUPPORTED_VERSIONS: tuple[Version, ...] = ((1, 8), (1, 9), (1, 10), (1, 11), (1, 12))


@dataclass(frozen=True, slots=True)
class Column:
    """One normalized column: the model field, its SQL type, and where it comes from.

    ``sources`` lists ``(first version, column in the view)`` pairs, newest last; the
    last pair whose version is <= the installed one wins. Before the first, the
    column does not exist and projects as ``NULL::sql_type``.
    """

    field: str
    sql_type: str
    sources: tuple[tuple[Version, str], ...]

    def source_for(self, version: Version) -> str | None:
        """The view column that feeds this field at ``version``, or None."""
        found = None
        for since, column in self.sources:
            if version >= since:
                found = column
        return found


def _c(field: str, sql_type: str, since: Version = (1, 8), column: str | None = None) -> Column:
    return Column(field, sql_type, ((since, column or field),))


def _ms(name: str, since: Version = (1, 8)) -> Column:
    """A time column: the view's ``name`` (ms, float8) as ``name_ms``."""
    return Column(f"{name}_ms", "float8", ((since, name),))


# Order = column order of the projection = field order of QueryStat (minus the four
# derived columns, which the projection appends).
COLUMNS: tuple[Column, ...] = (
    _c("userid", "int8"),  # oid in the view, shown even where queryid is hidden
    _c("dbid", "int8"),  # oid in the view
    _c("queryid", "int8"),
    _c("query", "text"),
    _c("toplevel", "bool", (1, 9)),
    _c("calls", "int8"),
    _c("rows", "int8"),
    _ms("total_exec_time"),
    _ms("mean_exec_time"),
    _ms("min_exec_time"),
    _ms("max_exec_time"),
    _ms("stddev_exec_time"),
    _c("plans", "int8"),
    _ms("total_plan_time"),
    _ms("mean_plan_time"),
    _ms("min_plan_time"),
    _ms("max_plan_time"),
    _ms("stddev_plan_time"),
    _c("shared_blks_hit", "int8"),
    _c("shared_blks_read", "int8"),
    _c("shared_blks_dirtied", "int8"),
    _c("shared_blks_written", "int8"),
    _c("local_blks_hit", "int8"),
    _c("local_blks_read", "int8"),
    _c("local_blks_dirtied", "int8"),
    _c("local_blks_written", "int8"),
    _c("temp_blks_read", "int8"),
    _c("temp_blks_written", "int8"),
    Column(
        "shared_blk_read_time_ms",
        "float8",
        (((1, 8), "blk_read_time"), ((1, 11), "shared_blk_read_time")),
    ),
    Column(
        "shared_blk_write_time_ms",
        "float8",
        (((1, 8), "blk_write_time"), ((1, 11), "shared_blk_write_time")),
    ),
    _ms("local_blk_read_time", (1, 11)),
    _ms("local_blk_write_time", (1, 11)),
    _ms("temp_blk_read_time", (1, 10)),
    _ms("temp_blk_write_time", (1, 10)),
    _c("wal_records", "int8"),
    _c("wal_fpi", "int8"),
    _c("wal_bytes", "int8"),  # numeric in the view
    _c("wal_buffers_full", "int8", (1, 12)),
    _c("jit_functions", "int8", (1, 10)),
    _ms("jit_generation_time", (1, 10)),
    _c("jit_inlining_count", "int8", (1, 10)),
    _ms("jit_inlining_time", (1, 10)),
    _c("jit_optimization_count", "int8", (1, 10)),
    _ms("jit_optimization_time", (1, 10)),
    _c("jit_emission_count", "int8", (1, 10)),
    _ms("jit_emission_time", (1, 10)),
    _c("jit_deform_count", "int8", (1, 11)),
    _ms("jit_deform_time", (1, 11)),
    _c("parallel_workers_to_launch", "int8", (1, 12)),
    _c("parallel_workers_launched", "int8", (1, 12)),
    _c("stats_since", "timestamptz", (1, 11)),
    _c("minmax_stats_since", "timestamptz", (1, 11)),
)

# Text pg_stat_statements shows instead of another user's statement when the current
# role lacks pg_read_all_stats; pgstatkit turns it into NULL / None.
INSUFFICIENT_PRIVILEGE_TEXT = "<insufficient privilege>"


def parse_version(text: str) -> Version:
    """Parse ``pg_extension.extversion`` (``"1.10"``) into ``(1, 10)``.

    Raises:
        ValueError: not of the form ``major.minor``.
    """
    match = re.fullmatch(r"([0-9]+)\.([0-9]+)", text.strip())
    if match is None:
        raise ValueError(f"unexpected pg_stat_statements version {text!r}")
    return int(match.group(1)), int(match.group(2))


def _expression(column: Column, version: Version) -> str:
    source = column.source_for(version)
    if source is None:
        return f"NULL::{column.sql_type}"
    if column.field == "query":
        return f"NULLIF(p.query, '{INSUFFICIENT_PRIVILEGE_TEXT}')"
    if column.field in ("wal_bytes", "userid", "dbid"):
        return f"p.{column.field}::int8"
    return f"p.{quote_ident(source)}"


def projection(
    version: Version,
    schema: str,
    *,
    all_databases: bool = False,
    include_pgstatkit: bool = False,
    showtext: bool = True,
) -> str:
    """A parenthesized subquery over ``schema.pg_stat_statements`` for ``version``.

    Columns: every :data:`COLUMNS` field, then ``database``, ``username``,
    ``cache_hit_ratio`` (shared blocks hit / touched, NULL when none was touched) and
    ``percent_of_total_time``: 100 * this entry's execution time / the execution time
    of *every* entry in scope (top-level and nested), so 0..100 for every row and 100
    over all rows of the scope; NULL when that total is 0. Rows: the current database,
    or every database when ``all_databases``; without ``include_pgstatkit``, not
    pgstatkit's own statements (:mod:`pgstatkit._own`).

    ``showtext=False`` reads ``pg_stat_statements(showtext := false)``: the server does
    not read its query-text file, ``query`` is NULL, and pgstatkit's own statements
    cannot be told apart by their text (so ``include_pgstatkit`` must be True; a poller
    leaves them out by ``queryid``, see :class:`pgstatkit._own.OwnQueryids`).

    Raises:
        ValueError: ``version`` is older than :data:`MIN_VERSION`; ``showtext=False``
            without ``include_pgstatkit``.
    """
    if version < MIN_VERSION:
        raise ValueError(f"pg_stat_statements {version} is older than {MIN_VERSION}")
    if not showtext and not include_pgstatkit:
        raise ValueError("showtext=False cannot tell pgstatkit's statements apart by text")
    columns = [f"{_expression(c, version)} AS {c.field}" for c in COLUMNS]
    columns += [
        "d.datname::text AS database",
        "r.rolname::text AS username",
        "CASE WHEN p.shared_blks_hit + p.shared_blks_read > 0"
        " THEN p.shared_blks_hit::float8 / (p.shared_blks_hit + p.shared_blks_read)"
        " END AS cache_hit_ratio",
        # part / whole <= 1 exactly in float8 (the sum of non-negative terms is at least
        # each term), so the percentage never exceeds 100
        "100.0 * (p.total_exec_time / NULLIF(pg_catalog.sum(p.total_exec_time) OVER (), 0))"
        " AS percent_of_total_time",
    ]
    conditions = []
    if not all_databases:
        conditions.append(
            "p.dbid = (SELECT db.oid FROM pg_catalog.pg_database AS db"
            " WHERE db.datname = pg_catalog.current_database())"
        )
    if not include_pgstatkit:
        conditions.append(statement_filter("p.query"))
    where = "\n  WHERE " + "\n    AND ".join(conditions) if conditions else ""
    select_list = ",\n         ".join(columns)
    return (
        f"(SELECT {select_list}\n"
        f"  FROM {quote_ident(schema)}.pg_stat_statements{'' if showtext else '(false)'} AS p\n"
        "  LEFT JOIN pg_catalog.pg_database AS d ON d.oid = p.dbid\n"
        f"  LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = p.userid{where})"
    )

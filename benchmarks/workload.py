"""Fill pg_stat_statements with thousands of structurally distinct statements.

pg_stat_statements normalizes constants away, so two statements are distinct entries
only if their parse trees differ (PostgreSQL 18 also identifies a table by its name *as
written*, alias included, so aliases like ``a``/``b`` would merge joins of different
tables -- the statements below use table names, never aliases). Every statement differs
by the table it reads (one of ``TABLES`` small tables), its shape (lookup, join,
multi-kilobyte reporting query) and the number of columns it touches. Statement ``i`` reads table
``i % TABLES``; its variant ``i // TABLES`` picks the shape (``variant % 5``: 0-1
lookup, 2-3 join, 4 report) and the width (``variant // 5 + 1`` columns), so the pair
(table, variant) -- and therefore the entry -- is unique for ``i < TABLES * 50``.

Statements run as one psql script (output discarded), about 10,000 in a few seconds.
"""

from __future__ import annotations

from pgstatkit.testing import Cluster

TABLES = 200
COLUMNS = 20
MAX_STATEMENTS = TABLES * 5 * (COLUMNS // 2)  # 10,000 distinct statements

__all__ = ["MAX_STATEMENTS", "TABLES", "create_schema", "fill", "statement"]


def _table(n: int) -> str:
    return f"bench_t{n % TABLES:03d}"


def _cols(width: int, alias: str = "") -> list[str]:
    prefix = f"{alias}." if alias else ""
    return [f"{prefix}c{k:02d}" for k in range(1, width + 1)]


def _lookup(i: int, width: int) -> str:
    return f"SELECT id, {', '.join(_cols(width))} FROM {_table(i)} WHERE id = {i % 10 + 1}"


def _join(i: int, width: int) -> str:
    a, b = _table(i), _table(i + 1)
    left = _cols(width, a)
    right = [f"{b}.c{k:02d} AS b_c{k:02d}" for k in range(COLUMNS - width + 1, COLUMNS + 1)]
    return (
        f"SELECT {a}.id, {', '.join(left)}, {', '.join(right)}\n"
        f"FROM {a}\n"
        f"JOIN {b} ON {b}.id = {a}.id\n"
        f"WHERE {a}.c01 > {i % 7} AND {b}.c02 < {1000 + i}\n"
        f"ORDER BY {a}.id DESC\nLIMIT 50"
    )


def _report(i: int, width: int) -> str:
    """A reporting query of a few kilobytes: a CTE, conditional aggregates, three tables."""
    measures = [
        f"    sum(CASE WHEN f.c{k:02d} > {k} THEN f.c{k:02d} ELSE 0 END) AS sum_over_{k:02d},\n"
        f"    count(*) FILTER (WHERE f.c{k:02d} BETWEEN {k} AND {k * 10}) AS n_band_{k:02d},\n"
        f"    avg(f.c{k:02d}::float8) AS avg_{k:02d}"
        for k in range(1, COLUMNS + 1)
    ]
    keys = ", ".join(f"d.c{k:02d}" for k in range(1, width + 1))
    a, x = _table(i), _table(i + 2)
    return (
        "WITH facts AS (\n"
        f"  SELECT {a}.id, {', '.join(_cols(COLUMNS, a))}\n"
        f"  FROM {a}\n"
        f"  LEFT JOIN {x} ON {x}.id = {a}.id AND {x}.c03 IS NOT NULL\n"
        f"  WHERE {a}.c02 >= {i % 5} OR {x}.c04 IS NULL\n"
        "), dims AS (\n"
        f"  SELECT id, {', '.join(_cols(width))} FROM {_table(i + 3)}\n"
        ")\n"
        f"SELECT {keys},\n" + ",\n".join(measures) + "\n"
        "FROM facts AS f\n"
        "JOIN dims AS d ON d.id = f.id\n"
        f"GROUP BY {keys}\n"
        f"HAVING count(*) > {i % 3}\n"
        f"ORDER BY {keys}"
    )


def statement(i: int) -> str:
    """The ``i``-th distinct statement (0 <= i < MAX_STATEMENTS)."""
    if not 0 <= i < MAX_STATEMENTS:
        raise ValueError(f"statement index out of range: {i}")
    variant = i // TABLES
    shape = variant % 5
    width = variant // 5 + 1
    if shape < 2:
        return _lookup(i, width + 10 * shape)
    if shape < 4:
        return _join(i, width + 10 * (shape - 2))
    return _report(i, width)


def create_schema(cluster: Cluster, dbname: str) -> None:
    """``TABLES`` tables of ``COLUMNS`` int columns and ten rows each, analyzed."""
    cols = ", ".join(f"c{k:02d} int" for k in range(1, COLUMNS + 1))
    values = ", ".join(f"g * {k}" for k in range(1, COLUMNS + 1))
    script = [
        "\\o /dev/null",
        "SET client_min_messages = warning;",
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;",
        "BEGIN;",
    ]
    for n in range(TABLES):
        script.append(f"CREATE TABLE {_table(n)} (id int PRIMARY KEY, {cols});")
        script.append(
            f"INSERT INTO {_table(n)} SELECT g, {values} FROM generate_series(1, 10) AS g;"
        )
    script += ["COMMIT;", "ANALYZE;"]
    cluster.psql("\n".join(script), dbname=dbname, timeout_s=300.0)


def fill(cluster: Cluster, dbname: str, start: int, stop: int) -> None:
    """Run statements ``start .. stop - 1`` once each (psql, output discarded)."""
    script = ["\\o /dev/null"]
    script += [statement(i) + ";" for i in range(start, stop)]
    cluster.psql("\n".join(script), dbname=dbname, timeout_s=600.0)

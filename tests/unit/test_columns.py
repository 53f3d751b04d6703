"""The version-aware ``pg_stat_statements`` projection (``pgstatkit._columns``).

The expected view columns are written out from PostgreSQL's extension scripts
(``contrib/pg_stat_statements/pg_stat_statements--*.sql``), not derived from the code.
"""

from __future__ import annotations

import dataclasses
import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgstatkit import _columns
from pgstatkit._columns import (
    COLUMNS,
    MIN_VERSION,
    SUPPORTED_VERSIONS,
    Version,
    parse_version,
    projection,
)
from pgstatkit.models import QueryStat


def available_fields(version: Version) -> frozenset[str]:
    """The QueryStat fields that have a source column at ``version``."""
    return frozenset(c.field for c in COLUMNS if c.source_for(version) is not None)


V1_8 = [
    "userid",
    "dbid",
    "queryid",
    "query",
    "plans",
    "total_plan_time",
    "min_plan_time",
    "max_plan_time",
    "mean_plan_time",
    "stddev_plan_time",
    "calls",
    "total_exec_time",
    "min_exec_time",
    "max_exec_time",
    "mean_exec_time",
    "stddev_exec_time",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "shared_blks_dirtied",
    "shared_blks_written",
    "local_blks_hit",
    "local_blks_read",
    "local_blks_dirtied",
    "local_blks_written",
    "temp_blks_read",
    "temp_blks_written",
    "blk_read_time",
    "blk_write_time",
    "wal_records",
    "wal_fpi",
    "wal_bytes",
]
V1_9 = [*V1_8, "toplevel"]
V1_10 = [
    *V1_9,
    *[
        "temp_blk_read_time",
        "temp_blk_write_time",
        "jit_functions",
        "jit_generation_time",
        "jit_inlining_count",
        "jit_inlining_time",
        "jit_optimization_count",
        "jit_optimization_time",
        "jit_emission_count",
        "jit_emission_time",
    ],
]
_RENAMED = {"blk_read_time": "shared_blk_read_time", "blk_write_time": "shared_blk_write_time"}
V1_11 = [
    *(_RENAMED.get(c, c) for c in V1_10),
    *[
        "local_blk_read_time",
        "local_blk_write_time",
        "jit_deform_count",
        "jit_deform_time",
        "stats_since",
        "minmax_stats_since",
    ],
]
V1_12 = [*V1_11, "wal_buffers_full", "parallel_workers_to_launch", "parallel_workers_launched"]

VIEW_COLUMNS: dict[tuple[int, int], frozenset[str]] = {
    (1, 8): frozenset(V1_8),
    (1, 9): frozenset(V1_9),
    (1, 10): frozenset(V1_10),
    (1, 11): frozenset(V1_11),
    (1, 12): frozenset(V1_12),
}

DERIVED = ("database", "username", "cache_hit_ratio", "percent_of_total_time")

_P_REF = re.compile(r'\bp\.(?:"((?:[^"]|"")*)"|([A-Za-z_][A-Za-z0-9_$]*))')
_OUTPUT = re.compile(r"\bAS ([a-z_0-9]+)(?=,\n|\n\s*FROM )")

_SQL_TYPES = {"int": "int8", "float": "float8", "bool": "bool", "_dt.datetime": "timestamptz"}


def referenced_columns(sql: str) -> set[str]:
    found = set()
    for quoted, bare in _P_REF.findall(sql):
        found.add(quoted.replace('""', '"') if quoted else bare)
    return found


def output_columns(sql: str) -> list[str]:
    return _OUTPUT.findall(sql)


def _annotation(field: str) -> str:
    return {f.name: str(f.type) for f in dataclasses.fields(QueryStat)}[field]


def test_expected_lists_are_sane() -> None:
    assert len(V1_8) == 32
    assert len(VIEW_COLUMNS[(1, 11)]) == len(V1_11)
    assert "blk_read_time" not in VIEW_COLUMNS[(1, 11)]
    assert tuple(VIEW_COLUMNS) == SUPPORTED_VERSIONS


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
@pytest.mark.parametrize("all_databases", [False, True])
def test_projection_reads_exactly_the_view_columns(
    version: tuple[int, int], all_databases: bool
) -> None:
    sql = projection(version, "public", all_databases=all_databases)
    read = referenced_columns(sql)
    missing_from_view = read - VIEW_COLUMNS[version]
    assert not missing_from_view, f"{version}: reads columns the view lacks"
    assert read == VIEW_COLUMNS[version]


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_missing_fields_are_typed_nulls(version: tuple[int, int]) -> None:
    sql = projection(version, "public")
    available = available_fields(version)
    for column in COLUMNS:
        null = f"NULL::{column.sql_type} AS {column.field},"
        if column.field in available:
            assert null not in sql
            assert column.source_for(version) in VIEW_COLUMNS[version]
        else:
            assert null in sql, column.field
            # A field some version lacks must allow None in the model.
            assert "None" in _annotation(column.field), column.field


@pytest.mark.parametrize("column", COLUMNS, ids=lambda c: c.field)
def test_sql_types_match_the_model(column: _columns.Column) -> None:
    annotation = _annotation(column.field)
    base = annotation.replace(" | None", "")
    if column.field == "query":
        assert base == "str"
        assert column.sql_type == "text"
    else:
        assert _SQL_TYPES[base] == column.sql_type


def test_fields_present_since_1_8_are_not_optional_unless_documented() -> None:
    # Only queryid/query (insufficient privilege) and fields newer than 1.8 may be None.
    always = available_fields(MIN_VERSION)
    optional = {f.name for f in dataclasses.fields(QueryStat) if "None" in str(f.type)}
    assert optional & always == {"queryid", "query"}


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_output_columns_are_the_model_fields_in_order(version: tuple[int, int]) -> None:
    sql = projection(version, "public")
    names = tuple(f.name for f in dataclasses.fields(QueryStat))
    assert tuple(output_columns(sql)) == names
    assert names == QueryStat._FIELD_NAMES
    assert tuple(c.field for c in COLUMNS) + DERIVED == names


def test_rename_in_1_11() -> None:
    old = projection((1, 10), "public")
    new = projection((1, 11), "public")
    assert 'p."blk_read_time" AS shared_blk_read_time_ms' in old
    assert 'p."shared_blk_read_time" AS shared_blk_read_time_ms' in new
    assert 'p."blk_write_time" AS shared_blk_write_time_ms' in old
    assert 'p."shared_blk_write_time" AS shared_blk_write_time_ms' in new


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_percent_of_total_time_is_a_share_of_every_entry(version: tuple[int, int]) -> None:
    # part / whole over *all* entries in scope (top-level and nested): 0..100 for every
    # row by construction, whatever the toplevel flags (a nested statement whose caller
    # is not tracked used to get 200% and more)
    sql = projection(version, "public")
    assert (
        "100.0 * (p.total_exec_time / NULLIF(pg_catalog.sum(p.total_exec_time) OVER (), 0))"
        " AS percent_of_total_time" in sql
    )
    assert "FILTER" not in sql


def test_own_statements_are_left_out_unless_included() -> None:
    marker_filter = "(pg_catalog.strpos(p.query, '/* pgstatkit:internal */') > 0) IS NOT TRUE"
    for all_databases in (False, True):
        assert marker_filter in projection((1, 12), "public", all_databases=all_databases)
        included = projection(
            (1, 12), "public", all_databases=all_databases, include_pgstatkit=True
        )
        assert "pgstatkit:internal" not in included
    assert "WHERE" not in projection((1, 12), "public", all_databases=True, include_pgstatkit=True)


def test_all_databases_drops_the_filter() -> None:
    assert "current_database()" in projection((1, 12), "public")
    assert "current_database()" not in projection((1, 12), "public", all_databases=True)


def test_available_fields_monotonic() -> None:
    previous: frozenset[str] = frozenset()
    for version in SUPPORTED_VERSIONS:
        fields = available_fields(version)
        assert previous <= fields
        previous = fields
    assert available_fields((1, 12)) == {c.field for c in COLUMNS}
    assert available_fields((1, 99)) == available_fields((1, 12))
    assert available_fields((2, 0)) == available_fields((1, 12))


def test_available_fields_per_version() -> None:
    new_in = {
        (1, 9): {"toplevel"},
        (1, 10): {
            "temp_blk_read_time_ms",
            "temp_blk_write_time_ms",
            "jit_functions",
            "jit_generation_time_ms",
            "jit_inlining_count",
            "jit_inlining_time_ms",
            "jit_optimization_count",
            "jit_optimization_time_ms",
            "jit_emission_count",
            "jit_emission_time_ms",
        },
        (1, 11): {
            "local_blk_read_time_ms",
            "local_blk_write_time_ms",
            "jit_deform_count",
            "jit_deform_time_ms",
            "stats_since",
            "minmax_stats_since",
        },
        (1, 12): {"wal_buffers_full", "parallel_workers_to_launch", "parallel_workers_launched"},
    }
    for older, newer in itertools.pairwise(SUPPORTED_VERSIONS):
        assert available_fields(newer) - available_fields(older) == new_in[newer]


@pytest.mark.parametrize("version", [(1, 7), (1, 0), (0, 9), (1, 4)])
def test_versions_below_1_8_raise(version: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="older"):
        projection(version, "public")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.8", (1, 8)), ("1.9", (1, 9)), ("1.10", (1, 10)), ("1.12", (1, 12)), (" 1.11\n", (1, 11))],
)
def test_parse_version(text: str, expected: tuple[int, int]) -> None:
    assert parse_version(text) == expected


def test_parse_version_orders_numerically() -> None:
    assert parse_version("1.10") > parse_version("1.9")
    assert parse_version("1.10") != parse_version("1.1")


@given(st.integers(0, 99), st.integers(0, 99))
def test_parse_version_roundtrip(major: int, minor: int) -> None:
    assert parse_version(f"{major}.{minor}") == (major, minor)


@pytest.mark.parametrize(
    "text", ["", "1", "1.", ".8", "1.8.1", "v1.8", "1.8beta", "1,8", "one.two", "1.-8", "-1.8"]
)
def test_parse_version_rejects_junk(text: str) -> None:
    with pytest.raises(ValueError, match="version"):
        parse_version(text)


@pytest.mark.parametrize(
    "schema",
    [
        'pub"lic',
        'x"; DROP TABLE t; --',
        "a.b",
        "Mixed Case",
        "s'quote",
        '"',
        '""; SELECT 1',
        "p.query",
    ],
)
def test_hostile_schema_is_quoted(schema: str) -> None:
    sql = projection((1, 12), schema)
    quoted = '"' + schema.replace('"', '""') + '"'
    assert f"FROM {quoted}.pg_stat_statements AS p\n" in sql
    # The schema appears nowhere else, so it cannot leak out of its identifier.
    assert sql.count(quoted) == 1
    # Removing that one identifier leaves the same text as a benign schema.
    assert sql.replace(f"FROM {quoted}.", 'FROM "s".') == projection((1, 12), "s")


@given(st.text(min_size=1, max_size=20).filter(lambda s: "\x00" not in s))
def test_any_schema_is_one_quoted_identifier(schema: str) -> None:
    sql = projection((1, 9), schema)
    quoted = '"' + schema.replace('"', '""') + '"'
    benign = sql.replace(f"FROM {quoted}.", 'FROM "s".', 1)
    assert benign == projection((1, 9), "s")


@pytest.mark.parametrize("schema", ["", "a\x00b"])
def test_bad_schema_is_refused(schema: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        projection((1, 12), schema)

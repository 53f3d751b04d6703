"""Every pg_stat_statements version the server can install reads right, live.

A server upgraded without ``ALTER EXTENSION pg_stat_statements UPDATE`` keeps the old
view; pgstatkit picks its columns from the installed version. PostgreSQL 15 ships
1.8 - 1.10, PostgreSQL 17 1.8 - 1.11 and PostgreSQL 18 1.8 - 1.12, so every server covers
the older ones. The default version of each server is read live too: the 1.11 columns
(``shared_``/``local_blk_*_time``, ``jit_deform_*``, ``stats_since``) on PostgreSQL 17.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

import pytest

from harness.servers import TestServer
from pgstatkit._columns import COLUMNS, SUPPORTED_VERSIONS
from pgstatkit.errors import ExtensionTooOldError
from pgstatkit.models import QueryStat

from .conftest import open_client

pytestmark = pytest.mark.server


def _installable(server: TestServer) -> list[str]:
    out = server.psql(
        "SELECT version FROM pg_available_extension_versions WHERE name = 'pg_stat_statements'"
    )
    have = set(out.split())
    return [f"{a}.{b}" for a, b in SUPPORTED_VERSIONS if f"{a}.{b}" in have]


@pytest.fixture(scope="session")
def version_dbs(pg_server: TestServer) -> dict[str, str]:
    dbs = {}
    for version in _installable(pg_server):
        db = "pgss_v" + version.replace(".", "_")
        if pg_server.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{db}'") == "0":
            pg_server.psql(f"CREATE DATABASE {db}", dbname="postgres")
            pg_server.psql(f"CREATE EXTENSION pg_stat_statements VERSION '{version}'", dbname=db)
        pg_server.psql("SELECT pg_sleep(0.01) /* pgstatkit-version-probe */", dbname=db)
        dbs[version] = db
    return dbs


async def test_every_installable_version(
    pg_server: TestServer, version_dbs: dict[str, str]
) -> None:
    expected_min = {15: "1.10", 17: "1.11", 18: "1.12"}.get(pg_server.major)
    if expected_min:
        assert expected_min in version_dbs, f"{pg_server.id} should offer {expected_min}"
    assert "1.8" in version_dbs
    for version, db in version_dbs.items():
        installed = pg_server.psql(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'", dbname=db
        )
        assert installed == version
        major, minor = (int(p) for p in version.split("."))
        present = {c.field for c in COLUMNS if c.source_for((major, minor)) is not None}
        for kind in ("asyncpg", "psycopg"):
            async for c in open_client(kind, pg_server.dsn_for(dbname=db)):
                rows = await c("top_queries_by_total_time", limit=10_000)
            probe = next(r for r in rows if r.query and "pgstatkit-version-probe" in r.query)
            assert probe.calls >= 1
            for field in dataclasses.fields(probe):
                value = getattr(probe, field.name)
                if field.name in present and field.name not in ("query", "queryid"):
                    assert value is not None, f"{version}: {field.name} should be read"
                elif field.name not in present and field.name not in (
                    "database",
                    "username",
                    "cache_hit_ratio",
                    "percent_of_total_time",
                ):
                    assert value is None, f"{version}: {field.name} must be None, got {value!r}"
            assert probe.toplevel is (None if (major, minor) < (1, 9) else True)


# --------------------------------------------------------------------------- 1.11 (PG 17)

# The extension version CREATE EXTENSION gives on each server of the matrix.
DEFAULT_VERSIONS = {15: (1, 10), 17: (1, 11), 18: (1, 12)}


def _default_version(server: TestServer) -> tuple[int, int]:
    text = server.psql("SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'")
    major, minor = (int(p) for p in text.split("."))
    expected = DEFAULT_VERSIONS.get(server.major)
    if expected is not None and server.kind == "local":
        assert (major, minor) == expected, f"{server.id} should default to {expected}"
    return major, minor


async def _entries(server: TestServer, *tables: str) -> list[QueryStat]:
    """The entries of ``SELECT count(*) FROM <table>``, one per table, via asyncpg."""
    async for c in open_client("asyncpg", server.dsn):
        rows = await c("top_queries_by_total_time", limit=10_000)
    found = []
    for table in tables:
        matches = [r for r in rows if r.query == f"SELECT count(*) FROM {table}"]
        assert len(matches) == 1, f"{table}: {matches}"
        found.append(matches[0])
    return found


async def test_1_11_columns_read_live(pg_server: TestServer) -> None:
    """Block I/O times split into shared and local, JIT deform, the since-timestamps."""
    version = _default_version(pg_server)
    tag = secrets.token_hex(4)
    shared, local = f"v111_shared_{tag}", f"v111_local_{tag}"
    # temp_buffers must be set before the session's first temporary table. Both tables
    # are larger than what caches them (shared_buffers 16MB scans big tables through a
    # small ring; temp_buffers 800kB), so their scans read blocks, and time the reads.
    pg_server.psql(
        "SET temp_buffers = '800kB';\n"
        f"CREATE TABLE {shared} AS SELECT g, md5(g::text) AS t FROM generate_series(1, 100000) g;\n"
        f"CREATE TEMP TABLE {local} AS"
        " SELECT g, md5(g::text) AS t FROM generate_series(1, 100000) g;\n"
        f"SELECT count(*) FROM {shared};\nSELECT count(*) FROM {local};\n"
        f"SELECT count(*) FROM {local};\nDROP TABLE {shared};\n"
    )
    epoch = float(pg_server.psql("SELECT extract(epoch FROM now())"))
    now = dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc)
    shared_stat, local_stat = await _entries(pg_server, shared, local)
    assert shared_stat.shared_blks_read > 0 and shared_stat.shared_blk_read_time_ms > 0
    assert local_stat.local_blks_read > 0 and local_stat.local_blks_written > 0
    jit = pg_server.psql("SELECT pg_jit_available()") == "t"
    for stat in (shared_stat, local_stat):
        if version >= (1, 11):
            assert isinstance(stat.jit_deform_count, int)
            assert isinstance(stat.jit_deform_time_ms, float)
            if not jit:  # the wheels ship no llvmjit
                assert (stat.jit_functions, stat.jit_deform_count) == (0, 0)
            assert stat.stats_since is not None and stat.minmax_stats_since is not None
            assert stat.stats_since.utcoffset() is not None  # timezone-aware
            assert stat.stats_since <= stat.minmax_stats_since <= now
        else:
            assert stat.jit_deform_count is None and stat.jit_deform_time_ms is None
            assert stat.stats_since is None and stat.minmax_stats_since is None
        has_1_12 = version >= (1, 12)
        assert (stat.wal_buffers_full is not None) is has_1_12
        assert (stat.parallel_workers_to_launch is not None) is has_1_12
        assert (stat.parallel_workers_launched is not None) is has_1_12
    if version >= (1, 11):
        # shared_blk_read_time: shared blocks only; local reads have columns of their own
        assert local_stat.local_blk_read_time_ms is not None
        assert local_stat.local_blk_read_time_ms > 0
        assert local_stat.local_blk_write_time_ms is not None
        assert local_stat.local_blk_write_time_ms > 0
    else:
        # before 1.11 blk_read_time (read as shared_blk_read_time_ms) counts local blocks
        assert local_stat.local_blk_read_time_ms is None
        assert local_stat.local_blk_write_time_ms is None
        assert local_stat.shared_blk_read_time_ms > 0


async def test_stats_since_moves_for_the_reset_entry_only(pg_server: TestServer) -> None:
    """What history builds on: a later ``stats_since`` means that entry's counters restarted
    (reset, or evicted and created again) since an earlier snapshot; the others' did not."""
    version = _default_version(pg_server)
    tag = secrets.token_hex(4)
    reset_one, keep = f"since_reset_{tag}", f"since_keep_{tag}"
    pg_server.psql(
        f"CREATE TABLE {reset_one} (x int);\nCREATE TABLE {keep} (x int);\n"
        f"SELECT count(*) FROM {reset_one};\nSELECT count(*) FROM {keep};\n"
    )
    old_reset, old_keep = await _entries(pg_server, reset_one, keep)
    assert old_reset.queryid is not None
    async for c in open_client("psycopg", pg_server.dsn):
        when = await c("reset_query_statistics", queryid=old_reset.queryid)
    pg_server.psql(f"SELECT count(*) FROM {reset_one};\nDROP TABLE {reset_one}, {keep};")
    new_reset, new_keep = await _entries(pg_server, reset_one, keep)
    assert (new_reset.calls, new_keep.calls) == (1, 1)
    if version < (1, 11):
        assert when is None
        assert {s.stats_since for s in (old_reset, old_keep, new_reset, new_keep)} == {None}
        return
    assert when is not None and when.utcoffset() is not None
    assert old_reset.stats_since is not None and new_reset.stats_since is not None
    assert old_reset.stats_since < when <= new_reset.stats_since
    assert new_reset.minmax_stats_since == new_reset.stats_since  # a new entry
    assert (new_keep.stats_since, new_keep.minmax_stats_since) == (
        old_keep.stats_since,
        old_keep.minmax_stats_since,
    )


async def test_minmax_reset_per_installed_version(
    pg_server: TestServer, version_dbs: dict[str, str]
) -> None:
    """The minmax-only reset follows the extension version of the database, not the server."""
    for version, db in version_dbs.items():
        async for c in open_client("asyncpg", pg_server.dsn_for(dbname=db)):
            if tuple(int(p) for p in version.split(".")) < (1, 11):
                with pytest.raises(ExtensionTooOldError, match=f"pg_stat_statements {version} "):
                    await c("reset_query_statistics", queryid=1, minmax_only=True)
            else:
                when = await c("reset_query_statistics", queryid=1, minmax_only=True)
                assert isinstance(when, dt.datetime), version

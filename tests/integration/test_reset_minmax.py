"""``reset_query_statistics(minmax_only=True)`` on real servers (PostgreSQL 17+ only).

On ``pg_stat_statements`` 1.11 (PostgreSQL 17) ``pg_stat_statements_reset`` takes a
fourth argument, ``minmax_only``: the min/max times go to 0 and ``minmax_stats_since``
moves, while calls, totals and ``stats_since`` stay. Older versions have no such reset:
pgstatkit refuses before resetting anything (not the whole entry instead).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

import pytest

from harness.servers import TestServer
from pgstatkit.errors import ExtensionTooOldError
from pgstatkit.models import QueryStat
from pgstatkit.testing import Cluster

from .conftest import Client, open_client

pytestmark = pytest.mark.server

KINDS = ("asyncpg", "psycopg")  # one async and one blocking driver


def _run_twice(run_sql: Callable[[str], str], marker: str) -> None:
    """A short and a longer run of one statement over a table of its own (comments and
    constants are not part of pg_stat_statements' fingerprint, a table is): min < max.
    """
    run_sql(
        f"CREATE TABLE {marker} AS SELECT 1 AS x;\n"
        f"SELECT pg_sleep(0.002) FROM {marker};\n"
        f"SELECT pg_sleep(0.03) FROM {marker};\n"
    )


async def _entry(c: Client, marker: str) -> QueryStat:
    rows = await c("top_queries_by_total_time", limit=10_000)
    found = [r for r in rows if r.query and f"pg_sleep($1) FROM {marker}" in r.query]
    assert len(found) == 1, f"{marker}: {found}"
    return found[0]


def _minmax(stat: QueryStat) -> tuple[float, ...]:
    return (
        stat.min_exec_time_ms,
        stat.max_exec_time_ms,
        stat.min_plan_time_ms,
        stat.max_plan_time_ms,
    )


def _kept(stat: QueryStat) -> tuple[object, ...]:
    """What a reset may change (percent_of_total_time moves with every other statement)."""
    return (
        stat.calls,
        stat.total_exec_time_ms,
        *_minmax(stat),
        stat.stats_since,
        stat.minmax_stats_since,
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_minmax_reset_of_one_statement(pg_server: TestServer, kind: str) -> None:
    marker = f"minmax_{secrets.token_hex(6)}"
    other = f"minmax_other_{secrets.token_hex(6)}"
    _run_twice(pg_server.psql, marker)
    _run_twice(pg_server.psql, other)
    async for c in open_client(kind, pg_server.dsn):
        before, other_before = await _entry(c, marker), await _entry(c, other)
        assert before.queryid is not None
        assert before.min_exec_time_ms < before.max_exec_time_ms
        if pg_server.major < 17:
            with pytest.raises(ExtensionTooOldError, match=r"1\.11 \(PostgreSQL 17\)"):
                await c("reset_query_statistics", queryid=before.queryid, minmax_only=True)
            after = await _entry(c, marker)
        else:
            when = await c("reset_query_statistics", queryid=before.queryid, minmax_only=True)
            after, other_after = await _entry(c, marker), await _entry(c, other)
    if pg_server.major < 17:
        pg_server.psql(f"DROP TABLE {marker}, {other}")
        assert _kept(after) == _kept(before)  # nothing was reset
        return
    assert isinstance(when, dt.datetime) and when.tzinfo is not None
    assert (after.calls, after.plans, after.rows) == (before.calls, before.plans, before.rows)
    assert after.total_exec_time_ms == before.total_exec_time_ms
    assert after.mean_exec_time_ms == before.mean_exec_time_ms
    assert _minmax(after) == (0.0, 0.0, 0.0, 0.0)
    assert after.stats_since == before.stats_since
    assert before.minmax_stats_since is not None and after.minmax_stats_since == when
    assert when > before.minmax_stats_since
    assert _kept(other_after) == _kept(other_before)  # another statement keeps its min/max
    pg_server.psql(f"SELECT pg_sleep(0.01) FROM {marker}")
    async for c in open_client(kind, pg_server.dsn):
        again = await _entry(c, marker)
    assert again.calls == before.calls + 1
    assert 0.0 < again.min_exec_time_ms == again.max_exec_time_ms  # only the new run
    assert again.minmax_stats_since == when
    pg_server.psql(f"DROP TABLE {marker}, {other}")


@pytest.mark.slow
async def test_minmax_reset_of_every_statement(pg_server: TestServer) -> None:
    """On PostgreSQL 17+ on a private cluster of the same installation, so that no other
    test loses its min/max; before 17 the refusal, which resets nothing, on the server."""
    if pg_server.major < 17:
        marker = f"minmax_all_{secrets.token_hex(6)}"
        _run_twice(pg_server.psql, marker)
        async for c in open_client("psycopg", pg_server.dsn):
            before = await _entry(c, marker)
            with pytest.raises(ExtensionTooOldError, match="minmax_only=False"):
                await c("reset_query_statistics", minmax_only=True)
            after = await _entry(c, marker)
        pg_server.psql(f"DROP TABLE {marker}")
        assert _kept(after) == _kept(before)
        return
    if pg_server.cluster is None:
        pytest.skip("needs a local cluster (the reset would touch the whole server)")
    markers = [f"minmax_all_{i}" for i in range(3)]
    info = "SELECT stats_reset FROM pg_stat_statements_info"
    with Cluster(pg_server.cluster.installation) as cluster:
        cluster.psql("CREATE EXTENSION pg_stat_statements")
        for marker in markers:
            _run_twice(cluster.psql, marker)
        stats_reset = cluster.psql(info)
        async for c in open_client("asyncpg", cluster.dsn()):
            before_all = [await _entry(c, m) for m in markers]
            when = await c("reset_query_statistics", minmax_only=True)
            after_all = [await _entry(c, m) for m in markers]
            rows = await c("top_queries_by_total_time", limit=10_000)
        assert cluster.psql(info) == stats_reset  # not a reset of the statistics as a whole
    assert isinstance(when, dt.datetime)
    for old, new in zip(before_all, after_all, strict=True):
        assert (new.calls, new.total_exec_time_ms) == (old.calls, old.total_exec_time_ms)
        assert _minmax(new) == (0.0, 0.0, 0.0, 0.0)
        assert new.stats_since == old.stats_since
        assert new.minmax_stats_since == when
    assert all(r.minmax_stats_since is not None and r.minmax_stats_since >= when for r in rows)

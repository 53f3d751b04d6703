"""Acceptance: the workload is ranked right by every function, through every source.

Runs once per server and per way of passing a connection (``[pg15-asyncpg]`` ...).
"""

from __future__ import annotations

import json

import pytest

from pgstatkit.models import QueryStat

from .conftest import MARK, Client

pytestmark = pytest.mark.server


def _workload(rows: list[QueryStat]) -> list[QueryStat]:
    """The workload's own statements (not pgstatkit's EXPLAINs of them)."""
    return [r for r in rows if r.query and MARK in r.query and r.query.startswith("SELECT")]


def _kind(stat: QueryStat) -> str:
    assert stat.query is not None
    if "pg_sleep" in stat.query:
        return "sleep"
    if "wl_big" in stat.query:
        return "scan"
    if "wl_small" in stat.query:
        return "lookup"
    raise AssertionError(stat.query)


async def test_slow_queries_puts_the_sleep_first(workload_client: Client) -> None:
    rows = await workload_client("slow_queries", min_duration_ms=250.0, limit=10)
    assert rows, "the pg_sleep(0.3) statement must be slower than 250 ms on average"
    assert _kind(rows[0]) == "sleep"
    top = rows[0]
    assert top.calls == 4
    assert 290.0 <= top.mean_exec_time_ms < 2000.0
    assert top.min_exec_time_ms >= 290.0
    assert top.total_exec_time_ms == pytest.approx(top.mean_exec_time_ms * 4, rel=1e-6)
    assert top.database == "pgstatkit_workload"
    assert top.username == "postgres"
    assert isinstance(top.queryid, int)
    assert "$1" in (top.query or "")  # normalized by pg_stat_statements
    assert all(r.mean_exec_time_ms >= 250.0 for r in rows)
    means = [r.mean_exec_time_ms for r in rows]
    assert means == sorted(means, reverse=True)


async def test_slow_queries_threshold_excludes_fast_statements(workload_client: Client) -> None:
    rows = await workload_client("slow_queries", min_duration_ms=0.0, limit=10_000)
    kinds = [_kind(r) for r in _workload(rows)]
    assert kinds.index("sleep") < kinds.index("lookup")
    fast = await workload_client("slow_queries", min_duration_ms=250.0, limit=10_000)
    assert "lookup" not in [_kind(r) for r in _workload(fast)]


async def test_top_queries_by_total_time(workload_client: Client) -> None:
    rows = await workload_client("top_queries_by_total_time", limit=5)
    assert _kind(rows[0]) == "sleep"
    totals = [r.total_exec_time_ms for r in rows]
    assert totals == sorted(totals, reverse=True)
    share = rows[0].percent_of_total_time
    assert share is not None and 20.0 < share <= 100.0
    everything = await workload_client("top_queries_by_total_time", limit=10_000)
    lookup = next(r for r in _workload(everything) if _kind(r) == "lookup")
    assert lookup.calls == 300
    assert lookup.rows == 300


async def test_low_cache_hit_finds_the_large_scan(workload_client: Client) -> None:
    rows = await workload_client("queries_with_low_cache_hit", max_cache_hit_ratio=0.9, limit=50)
    kinds = [_kind(r) for r in _workload(rows)]
    assert "scan" in kinds
    assert "lookup" not in kinds  # indexed lookups of a small table hit the cache
    assert "sleep" not in kinds  # touched no block: no ratio
    scan = next(r for r in _workload(rows) if _kind(r) == "scan")
    assert scan.cache_hit_ratio is not None and scan.cache_hit_ratio < 0.5
    assert scan.shared_blks_read > 1000
    assert scan.cache_hit_ratio == pytest.approx(
        scan.shared_blks_hit / (scan.shared_blks_hit + scan.shared_blks_read)
    )
    ratios = [r.cache_hit_ratio for r in rows]
    assert ratios == sorted(ratios)  # type: ignore[type-var]
    assert all(r.cache_hit_ratio is not None and r.cache_hit_ratio <= 0.9 for r in rows)


async def test_table_statistics_puts_the_scanned_table_first(workload_client: Client) -> None:
    tables = await workload_client("table_statistics", limit=10)
    assert tables[0].table == "wl_big"
    big = tables[0]
    assert big.schema == "public"
    assert big.seq_scan >= 3
    assert big.seq_tup_read >= 3 * 250_000
    assert big.n_live_tup >= 250_000  # pending stats may land after VACUUM set it
    assert big.total_size_bytes > big.table_size_bytes > 10 * 1024 * 1024
    assert big.indexes_size_bytes > 0
    assert big.last_analyze is not None or big.last_autoanalyze is not None
    assert big.cache_hit_ratio is not None and 0.0 <= big.cache_hit_ratio < 0.5
    small = next(t for t in tables if t.table == "wl_small")
    assert small.idx_scan is not None and small.idx_scan >= 300
    by_size = await workload_client("table_statistics", order_by="total_size")
    assert [t.total_size_bytes for t in by_size] == sorted(
        (t.total_size_bytes for t in by_size), reverse=True
    )


async def test_index_usage_flags_the_unused_index(workload_client: Client) -> None:
    indexes = await workload_client("index_usage", limit=50)
    names = [i.index for i in indexes]
    unused = indexes[names.index("wl_big_payload_unused")]
    pkey = indexes[names.index("wl_small_pkey")]
    assert unused.unused is True
    assert unused.idx_scan == 0
    assert unused.size_bytes > 1024 * 1024
    assert "payload" in unused.definition
    assert pkey.unused is False
    assert pkey.is_primary and pkey.is_unique
    assert pkey.idx_scan >= 300
    assert names.index("wl_big_payload_unused") < names.index("wl_small_pkey")


async def test_database_statistics(workload_client: Client) -> None:
    db = await workload_client("database_statistics")
    assert db.database == "pgstatkit_workload"
    assert db.size_bytes > 20 * 1024 * 1024
    assert db.cache_hit_ratio is not None and 0.0 < db.cache_hit_ratio <= 1.0
    assert db.commits > 0
    assert db.blks_read > 0
    assert db.backends >= 1
    assert db.session_time_ms is not None  # PostgreSQL 14+
    json.dumps(db.to_dict())


async def test_results_are_json_ready(workload_client: Client) -> None:
    rows = await workload_client("top_queries_by_total_time", limit=3)
    payload = json.dumps([r.to_dict() for r in rows])
    assert "total_exec_time_ms" in payload

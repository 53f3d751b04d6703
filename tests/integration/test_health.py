"""stats.health on real servers: for each check, create the condition, see the finding
with the right object and severity, run the fix the finding suggests (with psql, as a
user would paste it), and see the check come back ``ok``.

One database per server for the whole module (``pgstatkit_health``), fresh at its
start. Where the fix cannot be run in a test, the finding is provoked by lowered
thresholds and the fix is not run: a database-wide ``VACUUM FREEZE`` (the test freezes
the one table it aged instead), a restart for ``max_connections``, ``shared_buffers`` or
``pg_stat_statements.max`` (the connections test closes the extra sessions instead).
Replica lag needs a standby: only the "no standby" answer is tested here.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import pytest

from harness.servers import ROLE_PASSWORD, TestServer
from pgstatkit import stats
from pgstatkit.models import HealthFinding, HealthReport
from pgstatkit.sync import stats as sync_stats

pytestmark = pytest.mark.server

DB = "pgstatkit_health"
BENCH_DB = "pgstatkit_health_bench"


@pytest.fixture(scope="module")
def hk(pg_server: TestServer) -> Iterator[TestServer]:
    """The server, with a fresh database ``pgstatkit_health`` for this module."""
    pg_server.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", dbname="postgres")
    pg_server.psql(f"CREATE DATABASE {DB}", dbname="postgres")
    pg_server.psql(
        f"CREATE EXTENSION pg_stat_statements; GRANT CONNECT ON DATABASE {DB} TO "
        f"{pg_server.monitor_role}, {pg_server.plain_role}",
        dbname=DB,
    )
    yield pg_server
    pg_server.psql(
        "SELECT pg_drop_replication_slot('hk_slot') FROM pg_replication_slots "
        "WHERE slot_name = 'hk_slot'",
        dbname="postgres",
    )
    pg_server.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", dbname="postgres")


def dsn(server: TestServer, user: str | None = None) -> str:
    url = server.dsn_for(dbname=DB, user=user)
    if user is not None and "@" in url and ":" not in url.split("//", 1)[1].split("@", 1)[0]:
        url = url.replace(f"//{user}@", f"//{user}:{ROLE_PASSWORD}@", 1)
    return url


@pytest.fixture
async def conn(hk: TestServer) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(dsn(hk))
    try:
        yield c
    finally:
        await c.close()


def sql(server: TestServer, text: str) -> str:
    return server.psql(text, dbname=DB)


def of(report: HealthReport, check: str, obj: str | None = None) -> list[HealthFinding]:
    return [f for f in report.for_check(check) if obj is None or f.object == obj]


def run_fixes(server: TestServer, findings: list[HealthFinding]) -> None:
    """Run each finding's fix as a user would: pasted into psql."""
    for f in findings:
        assert f.fix, f
        sql(server, f.fix)


def assert_ok(report: HealthReport, check: str) -> None:
    found = report.for_check(check)
    assert [f.severity for f in found] == ["ok"], [f.to_dict() for f in found]
    assert found[0].object is None and found[0].fix is None


async def poll(
    call: Callable[[], Awaitable[HealthReport]], until: Callable[[HealthReport], bool]
) -> HealthReport:
    """Call until ``until`` holds (sessions end and locks move asynchronously)."""
    for _ in range(100):
        report = await call()
        if until(report):
            return report
        await asyncio.sleep(0.05)
    return report


# --------------------------------------------------------------------------- no false positives


async def test_fresh_database_is_healthy(hk: TestServer, conn: asyncpg.Connection) -> None:
    report = await stats.health(conn)
    assert report.checks == (
        "unused_indexes",
        "duplicate_indexes",
        "invalid_indexes",
        "foreign_keys_without_index",
        "bloat",
        "xid_wraparound",
        "multixact_wraparound",
        "sequences",
        "long_running_queries",
        "idle_in_transaction",
        "blocked_queries",
        "connections",
        "vacuum",
        "replication_slots",
        "replica_lag",
        "prepared_transactions",
        "pg_stat_statements",
        "cache_hit_ratio",
    )
    assert report.problems == (), [f.to_dict() for f in report.problems]
    assert report.worst == "ok"
    assert {f.check for f in report.findings} == set(report.checks)
    # evidence is numbers with units; the ok line of each check has no fix
    for f in report.findings:
        assert all(m.unit for m in f.evidence)
    pgss = report.for_check("pg_stat_statements")[0]
    assert pgss.measure("max_entries") == 10000
    assert pgss.measure("text_file_bytes") is not None  # a superuser may stat the file


def pgbench(server: TestServer, *args: str) -> None:
    cluster = server.cluster
    assert cluster is not None
    binary = cluster.installation.bindir / "pgbench"
    env = dict(os.environ, PGPASSWORD=ROLE_PASSWORD)
    subprocess.run(
        [str(binary), *args, server.dsn_for(dbname=BENCH_DB)],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )


async def test_pgbench_schema_after_a_run_is_healthy(hk: TestServer) -> None:
    if hk.cluster is None:
        pytest.skip("pgbench from the server's bindir: local clusters only")
    hk.psql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)", dbname="postgres")
    hk.psql(f"CREATE DATABASE {BENCH_DB}", dbname="postgres")
    try:
        hk.psql("CREATE EXTENSION pg_stat_statements", dbname=BENCH_DB)
        pgbench(hk, "-i", "-q", "-s", "1")
        pgbench(hk, "-c", "2", "-t", "300", "-n")
        c = await asyncpg.connect(hk.dsn_for(dbname=BENCH_DB))
        try:
            report = await stats.health(c)
        finally:
            await c.close()
        assert report.problems == (), [f.to_dict() for f in report.problems]
    finally:
        hk.psql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)", dbname="postgres")


# --------------------------------------------------------------------------- vacuum, bloat


async def test_vacuum(hk: TestServer, conn: asyncpg.Connection) -> None:
    sql(
        hk,
        "CREATE TABLE hk_vac (id int, v int) WITH (autovacuum_enabled = off);"
        "INSERT INTO hk_vac SELECT g, 0 FROM generate_series(1, 5000) AS g;"
        "UPDATE hk_vac SET v = 1;",
    )
    limits = {"vacuum_min_rows": 1000}
    report = await stats.health(conn, checks=["vacuum"], thresholds=limits)
    [found] = of(report, "vacuum")
    assert found.object == "public.hk_vac" and found.severity == "warning"
    assert found.measure("dead_rows") == 5000
    assert found.detail == "autovacuum_enabled = false"
    assert "never analyzed" in found.explanation
    assert found.fix == "VACUUM (ANALYZE, VERBOSE) public.hk_vac;"
    run_fixes(hk, [found])
    assert_ok(await stats.health(conn, checks=["vacuum"], thresholds=limits), "vacuum")


async def test_bloat(hk: TestServer, conn: asyncpg.Connection) -> None:
    sql(
        hk,
        "CREATE TABLE hk_bloat (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = off);"
        "INSERT INTO hk_bloat SELECT g, repeat('x', 100) FROM generate_series(1, 20000) AS g;"
        "DELETE FROM hk_bloat WHERE id % 10 <> 0;"
        "ANALYZE hk_bloat;",
    )
    limits = {"bloat_min_bytes": 1024 * 1024}
    report = await stats.health(conn, checks=["bloat"], thresholds=limits)
    [table] = of(report, "bloat", "public.hk_bloat")
    assert table.severity == "critical"
    assert 0.8 <= (table.measure("bloat_ratio") or 0) < 1
    assert table.fix == "VACUUM FULL public.hk_bloat;"
    assert "ACCESS EXCLUSIVE" in (table.risk or "")
    assert table.detail == "estimated from pg_stats"
    # exact figures, opt-in: the extension is missing first (unknown, with the fix)
    report = await stats.health(conn, checks=["bloat"], thresholds=limits, pgstattuple=True)
    [missing] = [f for f in of(report, "bloat") if f.severity == "unknown"]
    assert missing.fix == "CREATE EXTENSION pgstattuple;"
    run_fixes(hk, [missing])
    report = await stats.health(conn, checks=["bloat"], thresholds=limits, pgstattuple=True)
    [exact] = of(report, "bloat", "public.hk_bloat")
    assert exact.detail == "measured with pgstattuple"
    assert exact.severity == "critical" and 0.8 <= (exact.measure("bloat_ratio") or 0) < 1
    assert all(f.severity != "unknown" for f in of(report, "bloat"))
    run_fixes(hk, list(of(report, "bloat")))
    assert_ok(await stats.health(conn, checks=["bloat"], thresholds=limits), "bloat")
    assert_ok(
        await stats.health(conn, checks=["bloat"], thresholds=limits, pgstattuple=True), "bloat"
    )


# --------------------------------------------------------------------------- indexes


async def test_unused_and_duplicate_indexes(hk: TestServer, conn: asyncpg.Connection) -> None:
    sql(
        hk,
        "CREATE TABLE hk_idx (id int PRIMARY KEY, a int, b int, c int UNIQUE);"
        "INSERT INTO hk_idx SELECT g, g % 100, g % 7, g FROM generate_series(1, 5000) AS g;"
        "CREATE INDEX hk_idx_a ON hk_idx (a);"
        "CREATE INDEX hk_idx_ab ON hk_idx (a, b);"
        "CREATE INDEX hk_idx_b_partial ON hk_idx (b) WHERE b > 3;"
        "CREATE INDEX hk_idx_b ON hk_idx (b);",
    )
    checks = ["unused_indexes", "duplicate_indexes"]
    # statistics younger than a week: unused cannot be judged
    report = await stats.health(conn, checks=checks, thresholds={"unused_index_min_bytes": 0})
    [young] = of(report, "unused_indexes")
    assert young.severity == "unknown" and young.object is None
    assert (young.measure("statistics_age_s") or 0) < 7 * 86400
    limits = {"unused_index_min_bytes": 0, "unused_index_min_stats_age_days": 0}
    report = await stats.health(conn, checks=checks, thresholds=limits)
    unused = {f.object: f for f in of(report, "unused_indexes")}
    # never the primary key or the unique constraint's index
    assert set(unused) == {
        "public.hk_idx_a",
        "public.hk_idx_ab",
        "public.hk_idx_b",
        "public.hk_idx_b_partial",
    }
    assert all(f.severity == "warning" for f in unused.values())
    assert unused["public.hk_idx_a"].fix == "DROP INDEX CONCURRENTLY public.hk_idx_a;"
    assert unused["public.hk_idx_a"].measure("size_bytes")
    # a prefix with the same predicate; a partial index is not covered by a full one
    [dup] = of(report, "duplicate_indexes")
    assert dup.object == "public.hk_idx_a" and dup.severity == "warning"
    assert "hk_idx_ab" in dup.explanation
    run_fixes(hk, [dup])
    report = await stats.health(conn, checks=checks, thresholds=limits)
    assert_ok(report, "duplicate_indexes")
    run_fixes(hk, list(of(report, "unused_indexes")))
    report = await stats.health(conn, checks=checks, thresholds=limits)
    assert_ok(report, "unused_indexes")


async def test_invalid_index(hk: TestServer, conn: asyncpg.Connection) -> None:
    sql(hk, "CREATE TABLE hk_inv (v int); INSERT INTO hk_inv VALUES (1), (1);")
    with pytest.raises(Exception, match="could not create unique index"):
        sql(hk, "CREATE UNIQUE INDEX CONCURRENTLY hk_inv_v ON hk_inv (v);")
    report = await stats.health(conn, checks=["invalid_indexes"])
    [found] = of(report, "invalid_indexes")
    assert found.object == "public.hk_inv_v" and found.severity == "warning"
    assert found.detail == "CREATE UNIQUE INDEX hk_inv_v ON public.hk_inv USING btree (v)"
    run_fixes(hk, [found])
    assert_ok(await stats.health(conn, checks=["invalid_indexes"]), "invalid_indexes")


async def test_foreign_key_without_index(hk: TestServer, conn: asyncpg.Connection) -> None:
    sql(
        hk,
        "CREATE TABLE hk_parent (id int PRIMARY KEY);"
        "CREATE TABLE hk_child (id int PRIMARY KEY, parent_id int REFERENCES hk_parent);",
    )
    check = "foreign_keys_without_index"
    [found] = of(await stats.health(conn, checks=[check]), check)
    assert found.object == "public.hk_child" and found.severity == "warning"
    assert found.fix == "CREATE INDEX CONCURRENTLY ON public.hk_child (parent_id);"
    run_fixes(hk, [found])
    assert_ok(await stats.health(conn, checks=[check]), check)


# --------------------------------------------------------------------------- sequences


async def test_sequences_near_their_maximum(hk: TestServer, conn: asyncpg.Connection) -> None:
    sql(
        hk,
        "CREATE TABLE hk_serial (id serial PRIMARY KEY);"
        "SELECT setval('hk_serial_id_seq', 2000000000);"
        # an integer column fed by a bigint sequence: the column is the limit
        "CREATE SEQUENCE hk_big_seq;"
        "CREATE TABLE hk_narrow (id int DEFAULT nextval('hk_big_seq'));"
        "SELECT setval('hk_big_seq', 2100000000);",
    )
    report = await stats.health(conn, checks=["sequences"])
    found = {f.object: f for f in of(report, "sequences")}
    assert set(found) == {"public.hk_serial.id", "public.hk_narrow.id"}
    serial, narrow = found["public.hk_serial.id"], found["public.hk_narrow.id"]
    assert serial.severity == "warning"
    assert serial.measure("max_value") == 2**31 - 1
    assert serial.fix == (
        "ALTER TABLE public.hk_serial ALTER COLUMN id TYPE bigint;\n"
        "ALTER SEQUENCE public.hk_serial_id_seq AS bigint NO MAXVALUE;"
    )
    assert narrow.severity == "critical"
    assert narrow.measure("max_value") == 2**31 - 1  # the column's, not the sequence's
    assert narrow.fix == "ALTER TABLE public.hk_narrow ALTER COLUMN id TYPE bigint;"
    assert "rewrites" in (narrow.risk or "").lower()
    run_fixes(hk, [serial, narrow])
    assert_ok(await stats.health(conn, checks=["sequences"]), "sequences")


# --------------------------------------------------------------------------- wraparound


async def test_xid_wraparound_by_lowered_thresholds(
    hk: TestServer, conn: asyncpg.Connection
) -> None:
    """The database-wide VACUUM FREEZE is not run; the aged table's own fix is."""
    sql(hk, "CREATE TABLE hk_xid (id int); INSERT INTO hk_xid VALUES (1);")
    sql(hk, "SELECT txid_current();\n" * 40)
    limits = {"wraparound_warning_ratio": 1e-8, "wraparound_critical_ratio": 0.5}  # ~21 xids
    report = await stats.health(conn, checks=["xid_wraparound"], thresholds=limits)
    [table] = of(report, "xid_wraparound", "public.hk_xid")
    assert table.severity == "warning"
    assert (table.measure("age_xids") or 0) >= 40
    assert table.fix == "VACUUM (FREEZE, VERBOSE) public.hk_xid;"
    [database] = of(report, "xid_wraparound", f"database {DB}")
    assert database.fix == f'VACUUM (FREEZE, VERBOSE);  -- connected to database "{DB}"'
    run_fixes(hk, [table])
    report = await stats.health(conn, checks=["xid_wraparound"], thresholds=limits)
    assert of(report, "xid_wraparound", "public.hk_xid") == []
    assert_ok(await stats.health(conn, checks=["xid_wraparound"]), "xid_wraparound")


async def test_multixact_wraparound_by_lowered_thresholds(
    hk: TestServer, conn: asyncpg.Connection
) -> None:
    sql(hk, "CREATE TABLE hk_mx (id int PRIMARY KEY); INSERT INTO hk_mx VALUES (1), (2);")
    other = await asyncpg.connect(dsn(hk))
    try:
        for _ in range(5):  # two sharers of a row make a multixact; new pairs, new ones
            async with conn.transaction(), other.transaction():
                await conn.execute("SELECT * FROM hk_mx FOR SHARE")
                await other.execute("SELECT * FROM hk_mx FOR SHARE")
    finally:
        await other.close()
    limits = {"wraparound_warning_ratio": 1e-9, "wraparound_critical_ratio": 0.5}  # ~2 multis
    report = await stats.health(conn, checks=["multixact_wraparound"], thresholds=limits)
    [table] = of(report, "multixact_wraparound", "public.hk_mx")
    assert table.severity == "warning" and (table.measure("age_xids") or 0) >= 3
    run_fixes(hk, [table])
    report = await stats.health(conn, checks=["multixact_wraparound"], thresholds=limits)
    assert of(report, "multixact_wraparound", "public.hk_mx") == []


# --------------------------------------------------------------------------- activity


async def test_long_running_query(hk: TestServer, conn: asyncpg.Connection) -> None:
    other = await asyncpg.connect(dsn(hk))
    pid = other.get_server_pid()
    task = asyncio.ensure_future(other.execute("SELECT pg_sleep(30) AS hk_long_running"))
    check, obj = "long_running_queries", f"pid {pid}"
    try:
        report = await poll(
            lambda: stats.health(conn, checks=[check], thresholds={"long_query_warning_ms": 200}),
            lambda r: bool(of(r, check, obj)),
        )
        [found] = of(report, check, obj)
        assert found.severity == "warning"
        assert "hk_long_running" in (found.detail or "")
        assert found.fix == f"SELECT pg_cancel_backend({pid});"
        run_fixes(hk, [found])
        with pytest.raises(asyncpg.QueryCanceledError):
            await task
        assert_ok(await stats.health(conn, checks=[check]), check)
    finally:
        task.cancel()
        await other.close()


async def test_idle_in_transaction(hk: TestServer, conn: asyncpg.Connection) -> None:
    other = await asyncpg.connect(dsn(hk))
    pid = other.get_server_pid()
    check, obj = "idle_in_transaction", f"pid {pid}"
    limits = {"idle_in_transaction_warning_ms": 50}
    try:
        await other.execute("BEGIN; SELECT 1 AS hk_idle")
        report = await poll(
            lambda: stats.health(conn, checks=[check], thresholds=limits),
            lambda r: bool(of(r, check, obj)),
        )
        [found] = of(report, check, obj)
        assert found.severity == "warning"
        assert found.fix == f"SELECT pg_terminate_backend({pid});"
        run_fixes(hk, [found])
        report = await poll(
            lambda: stats.health(conn, checks=[check], thresholds=limits),
            lambda r: not of(r, check, obj),
        )
        assert_ok(report, check)
    finally:
        other.terminate()


async def test_lock_chain_of_three_sessions(hk: TestServer, conn: asyncpg.Connection) -> None:
    sql(hk, "CREATE TABLE hk_lock (id int PRIMARY KEY, v int); INSERT INTO hk_lock VALUES (1, 0);")
    holder, second, third = [await asyncpg.connect(dsn(hk)) for _ in range(3)]
    pids = [c.get_server_pid() for c in (holder, second, third)]
    check = "blocked_queries"
    limits = {"blocked_warning_ms": 0}
    tasks: list[asyncio.Future[Any]] = []
    try:
        await holder.execute("BEGIN; UPDATE hk_lock SET v = v + 1 WHERE id = 1")
        tasks.append(asyncio.ensure_future(second.execute("UPDATE hk_lock SET v = v + 10")))
        report = await poll(
            lambda: stats.health(conn, checks=[check], thresholds=limits),
            lambda r: bool(of(r, check, f"pid {pids[1]}")),
        )
        tasks.append(asyncio.ensure_future(third.execute("UPDATE hk_lock SET v = v + 100")))
        report = await poll(
            lambda: stats.health(conn, checks=[check], thresholds=limits),
            lambda r: bool(of(r, check, f"pid {pids[2]}")),
        )
        found = {f.object: f for f in of(report, check)}
        assert set(found) == {f"pid {pids[1]}", f"pid {pids[2]}"}
        for f in found.values():
            assert f.severity == "warning"
            # the root of the chain is the idle transaction: terminate, not cancel
            assert f.fix == f"SELECT pg_terminate_backend({pids[0]});"
            assert f"root blocker pid {pids[0]}" in (f.detail or "")
            assert "UPDATE hk_lock SET v = v + 1 WHERE id = 1" in (f.detail or "")
        last = found[f"pid {pids[2]}"]
        assert last.explanation.endswith(f"ends at {pids[0]}.")
        assert (last.measure("chain_length") or 0) >= 1
        run_fixes(hk, [found[f"pid {pids[1]}"]])
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert_ok(await stats.health(conn, checks=[check], thresholds=limits), check)
    finally:
        for t in tasks:
            t.cancel()
        for c in (holder, second, third):
            c.terminate()


async def test_connections_near_the_limit(hk: TestServer, conn: asyncpg.Connection) -> None:
    """The fix (a larger max_connections) needs a restart: closing sessions is run instead."""
    check = "connections"
    [before] = of(await stats.health(conn, checks=[check]), check)
    assert before.severity == "ok"
    in_use = before.measure("connections") or 0
    available = before.measure("available_connections") or 1
    extra = [await asyncpg.connect(dsn(hk)) for _ in range(3)]
    limits = {
        "connections_warning_ratio": (in_use + 2) / available,
        "connections_critical_ratio": 1.0,
    }
    try:
        [found] = of(await stats.health(conn, checks=[check], thresholds=limits), check)
        assert found.severity == "warning"
        assert found.measure("connections") == in_use + 3
        assert found.fix and found.fix.startswith("ALTER SYSTEM SET max_connections = ")
        assert "restart" in (found.risk or "")
    finally:
        for c in extra:
            await c.close()
    report = await poll(
        lambda: stats.health(conn, checks=[check], thresholds=limits),
        lambda r: r.worst == "ok",
    )
    assert_ok(report, check)


# --------------------------------------------------------------------------- replication


async def test_inactive_replication_slot(hk: TestServer, conn: asyncpg.Connection) -> None:
    sql(hk, "SELECT pg_create_physical_replication_slot('hk_slot', true);")
    check = "replication_slots"
    [found] = of(await stats.health(conn, checks=[check]), check)
    assert found.object == "hk_slot" and found.severity == "warning"
    assert found.measure("retained_bytes") is not None
    assert found.fix == "SELECT pg_drop_replication_slot('hk_slot');"
    run_fixes(hk, [found])
    assert_ok(await stats.health(conn, checks=[check]), check)


async def test_no_replica_no_lag(hk: TestServer, conn: asyncpg.Connection) -> None:
    report = await stats.health(conn, checks=["replica_lag"])
    assert_ok(report, "replica_lag")
    assert report.findings[0].measure("replicas") == 0


async def test_orphaned_prepared_transaction(hk: TestServer, conn: asyncpg.Connection) -> None:
    sql(hk, "BEGIN; CREATE TABLE hk_prep (); PREPARE TRANSACTION 'hk_gid';")
    check = "prepared_transactions"
    limits = {"prepared_transaction_warning_ms": 0}
    try:
        [found] = of(await stats.health(conn, checks=[check], thresholds=limits), check)
        assert found.object == "hk_gid" and found.severity == "warning"
        assert found.fix == "ROLLBACK PREPARED 'hk_gid';"
        run_fixes(hk, [found])
    finally:
        sql(
            hk,
            "SELECT format('ROLLBACK PREPARED %L', gid) FROM pg_prepared_xacts "
            "WHERE gid = 'hk_gid' \\gexec",
        )
    assert_ok(await stats.health(conn, checks=[check], thresholds=limits), check)


# --------------------------------------------------------------------------- statistics


async def test_pg_stat_statements_and_cache_by_lowered_thresholds(
    hk: TestServer, conn: asyncpg.Connection
) -> None:
    """Both fixes need a restart: the findings only."""
    limits = {
        "pgss_fill_warning_ratio": 1e-9,
        "cache_min_blocks": 0,
        "cache_hit_warning_ratio": 1.0,
        "cache_hit_critical_ratio": 0.0,
    }
    sql(hk, "SELECT count(*) AS hk_read FROM pg_class;")
    report = await stats.health(
        conn, checks=["pg_stat_statements", "cache_hit_ratio"], thresholds=limits
    )
    [pgss] = of(report, "pg_stat_statements")
    assert pgss.severity == "warning"
    assert pgss.fix == "ALTER SYSTEM SET pg_stat_statements.max = 20000;"
    [cache] = of(report, "cache_hit_ratio")
    assert cache.object == f"database {DB}"
    if (cache.measure("blocks_read") or 0) > 0:
        assert cache.severity == "warning"
        assert cache.fix == "ALTER SYSTEM SET shared_buffers = '32MB';"


# --------------------------------------------------------------------------- privileges


async def test_pg_monitor_role_gets_what_it_can_see(hk: TestServer) -> None:
    sql(hk, "CREATE SEQUENCE hk_private_seq; SELECT nextval('hk_private_seq');")
    monitor = await asyncpg.connect(dsn(hk, hk.monitor_role))
    try:
        report = await stats.health(monitor)
        assert len(report.checks) == 18
        [seq] = [f for f in report.for_check("sequences") if f.severity == "unknown"]
        assert "public.hk_private_seq" in (seq.detail or "")
        assert seq.fix is not None and seq.fix.endswith(
            f"TO {hk.monitor_role};".replace(hk.monitor_role, f'"{hk.monitor_role}"')
        )
        pgss = report.for_check("pg_stat_statements")[0]
        assert pgss.measure("text_file_bytes") is None  # pg_stat_file is not pg_monitor's
        # a function the role may not call (revoked in this database only): that check
        # is unknown with the server's reason, the others run
        sql(hk, "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_blocking_pids(integer) FROM PUBLIC;")
        try:
            report = await stats.health(monitor)
        finally:
            sql(hk, "GRANT EXECUTE ON FUNCTION pg_catalog.pg_blocking_pids(integer) TO PUBLIC;")
        for check in ("long_running_queries", "idle_in_transaction", "blocked_queries"):
            [f] = report.for_check(check)
            assert f.severity == "unknown", f
            assert "pg_monitor" in f.explanation and "42501" in (f.detail or "")
        assert report.severity_of("invalid_indexes") == "ok"
        run_fixes(hk, [seq])
        report = await stats.health(monitor, checks=["sequences"])
        assert_ok(report, "sequences")
    finally:
        await monitor.close()


async def test_role_without_pg_monitor_is_told_the_grant(
    hk: TestServer, conn: asyncpg.Connection
) -> None:
    plain = await asyncpg.connect(dsn(hk, hk.plain_role))
    try:
        report = await stats.health(plain, checks=["idle_in_transaction"])
        # the superuser's session (conn) is hidden from this role
        [f] = report.for_check("idle_in_transaction")
        assert f.severity == "unknown"
        assert f.fix == f'GRANT pg_monitor TO "{hk.plain_role}";'
    finally:
        await plain.close()


def test_blocking_twin(hk: TestServer) -> None:
    import psycopg

    with psycopg.connect(dsn(hk)) as c:
        report = sync_stats.health(c, checks="invalid_indexes")
        assert report.checks == ("invalid_indexes",)
        assert report.to_dict()["worst"] == "ok"


# --------------------------------------------------------------------------- surfaces


def test_cli_exit_code_and_json(hk: TestServer) -> None:
    import json
    import sys

    sql(hk, "CREATE TABLE hk_cli (v int); INSERT INTO hk_cli VALUES (1), (1);")
    with pytest.raises(Exception, match="could not create unique index"):
        sql(hk, "CREATE UNIQUE INDEX CONCURRENTLY hk_cli_v ON hk_cli (v);")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        return subprocess.run(
            [sys.executable, "-m", "pgstatkit", "health", "--dsn", dsn(hk), *args],
            capture_output=True,
            text=True,
            env=dict(env, COLUMNS="100"),
            check=False,
            timeout=60,
        )

    try:
        proc = cli("--check", "invalid_indexes", "--format", "json")
        assert proc.returncode == 21, proc.stderr
        data = json.loads(proc.stdout)
        assert data["worst"] == "warning"
        [found] = data["findings"]
        assert found["object"] == "public.hk_cli_v"
        assert found["fix"] == "DROP INDEX CONCURRENTLY public.hk_cli_v;"
        text = cli("--check", "invalid_indexes", "--check", "sequences", "--all")
        assert text.returncode == 21
        assert "[WARNING ] invalid_indexes public.hk_cli_v" in text.stdout
        assert "fix: DROP INDEX CONCURRENTLY public.hk_cli_v;" in text.stdout
        assert "[OK      ] sequences:" in text.stdout
        # critical by lowered thresholds: 22
        proc = cli(
            "--check", "prepared_transactions", "--check", "connections",
            "--threshold", "connections_warning_ratio=0", "--threshold",
            "connections_critical_ratio=0",
        )  # fmt: skip
        assert proc.returncode == 22, proc.stdout + proc.stderr
        bad = cli("--threshold", "nope=1")
        assert bad.returncode == 2 and "unknown name(s) 'nope'" in bad.stderr
    finally:
        sql(hk, "DROP TABLE hk_cli;")
    assert cli("--check", "invalid_indexes").returncode == 0


async def test_http_route(hk: TestServer) -> None:
    import httpx
    from fastapi import FastAPI

    from pgstatkit.fastapi import create_router

    pool = await asyncpg.create_pool(dsn(hk), min_size=1, max_size=2)
    try:
        app = FastAPI()
        app.include_router(create_router(pool, allow_unauthenticated=True), prefix="/admin")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get(
                "/admin/performance/health",
                params={"checks": ["sequences", "invalid_indexes"]},
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["checks"] == ["invalid_indexes", "sequences"]
            assert body["worst"] == "ok"
            assert body["findings"][0]["severity"] == "ok"
            assert (await client.get("/admin/performance/health?checks=nope")).status_code == 422
    finally:
        await pool.close()


async def test_prometheus_gauges(hk: TestServer, conn: asyncpg.Connection) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from pgstatkit import prometheus

    snapshot = await prometheus.collect_snapshot(conn, health=True)
    assert snapshot.health is not None
    text = prometheus.render(snapshot)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    findings = families["pgstatkit_health_findings"]
    assert len(findings.samples) == 18 * 4  # bounded: every check, every severity
    assert {s.labels["severity"] for s in findings.samples} == {
        "ok",
        "unknown",
        "warning",
        "critical",
    }
    status = {s.labels["check"]: s.value for s in families["pgstatkit_health_status"].samples}
    assert set(status) == set(snapshot.health.checks)
    assert all(v in (0, 1, 2, 3) for v in status.values())
    # without health=True the scrape is as before
    plain = await prometheus.collect_snapshot(conn)
    assert "pgstatkit_health_findings" not in prometheus.render(plain)


async def test_cache_hit_trend_from_history(hk: TestServer, conn: asyncpg.Connection) -> None:
    """With pgstatkit's history in the database, the ratio is judged over the last
    hours (since the oldest snapshot of the window), the since-reset one is evidence."""
    from pgstatkit import history

    await stats.install(conn)
    try:
        await history.snapshot(conn, target="hk")
        sql(hk, "SELECT count(*) AS hk_trend FROM pg_class;")
        limits = {"cache_min_blocks": 0, "cache_hit_critical_ratio": 0.0}
        [found] = (await stats.health(conn, checks=["cache_hit_ratio"], thresholds=limits)).findings
        recent = found.measure("recent_cache_hit_ratio")
        assert recent is not None and 0 <= recent <= 1
        assert (found.measure("recent_window_s") or 0) >= 0
        assert "pgstatkit's history" in found.explanation
    finally:
        await stats.uninstall(conn)
    [found] = (await stats.health(conn, checks=["cache_hit_ratio"])).findings
    assert found.measure("recent_cache_hit_ratio") is None

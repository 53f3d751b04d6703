"""pgstatkit.history on real servers: ground truth of the deltas (docs/history.md).

Each major gets its own small cluster (``pg_stat_statements.max = 100``, so churn can
evict), started once for the module: the tests reset ``pg_stat_statements``, drop and
re-create the extension, which the shared servers of the matrix must not see. Every
test uses its own target name, so their histories stay apart in the one store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import psycopg
import pytest

from harness.servers import TestServer
from pgstatkit import history
from pgstatkit.sync import history as sync_history
from pgstatkit.sync import stats as sync_stats
from pgstatkit.testing import Cluster

STORE_DB = "history_store"
TARGET_DB = "history_target"
HOUR = dt.timedelta(hours=1)


class Small:
    """A throwaway cluster of one major with pg_stat_statements.max = 100."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.major = cluster.major

    def dsn(self, dbname: str = TARGET_DB, user: str = "postgres") -> str:
        return self.cluster.dsn(dbname=dbname, user=user)

    def psql(self, sql: str, dbname: str = TARGET_DB) -> str:
        return self.cluster.psql(sql, dbname=dbname)


def _databases(server: Any, dsn_for: Any) -> None:
    """The store and target databases on ``server`` (idempotent), pgstatkit installed in
    the store."""
    server.psql(
        f"SELECT 'CREATE DATABASE {STORE_DB}' WHERE NOT EXISTS (SELECT FROM pg_database"
        f" WHERE datname = '{STORE_DB}') \\gexec\n"
        f"SELECT 'CREATE DATABASE {TARGET_DB}' WHERE NOT EXISTS (SELECT FROM pg_database"
        f" WHERE datname = '{TARGET_DB}') \\gexec",
        dbname="postgres",
    )
    server.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", dbname=TARGET_DB)
    with psycopg.connect(dsn_for(STORE_DB), autocommit=True) as conn:
        sync_stats.install(conn)


@pytest.fixture(scope="module")
def small(pg_server: TestServer) -> Iterator[Small]:
    """The major's own cluster with pg_stat_statements.max = 100 (resets allowed)."""
    if pg_server.cluster is None:
        pytest.skip("these tests reset pg_stat_statements: they need a local cluster")
    cluster = Cluster(
        pg_server.cluster.installation,
        settings={"shared_buffers": "16MB", "pg_stat_statements.max": "100"},
    )
    cluster.start()
    try:
        _databases(cluster, lambda db: cluster.dsn(dbname=db))
        yield Small(cluster)
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def shared(pg_server: TestServer) -> Small:
    """The matrix's server itself (max = 10000), with the store and target databases."""
    _databases(pg_server.server, lambda db: pg_server.dsn_for(dbname=db))
    assert isinstance(pg_server.server, Cluster) or pg_server.cluster is None
    return Small(pg_server.server)  # type: ignore[arg-type]


async def _connect(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn)


def probe(name: str, columns: int, rows: int = 2) -> str:
    """A statement of its own shape (``columns`` constants: a queryid no other test
    has; aliases do not change a queryid), returning ``rows`` rows."""
    constants = ", ".join(str(c) for c in range(columns))
    return f"SELECT g AS {name}, {constants} FROM generate_series(1, {rows}) AS g"


def _run(small: Small, sql: str, times: int) -> None:
    """Run ``sql`` exactly ``times`` times on the target database (one psql session)."""
    small.psql("\n".join([sql + ";"] * times))


def _entry(changes: history.HistoryChanges, marker: str) -> history.StatementChange:
    found = [s for s in changes.statements if s.query and marker in s.query]
    assert len(found) == 1, [(s.query, s.calls) for s in changes.statements]
    return found[0]


def test_n_executions_are_exactly_n_calls(shared: Small) -> None:
    small = shared

    async def main() -> None:
        target = await _connect(small.dsn())
        store = await _connect(small.dsn(STORE_DB))
        try:
            first = await history.snapshot(target, store=store, target="truth")
            assert first.status == "baseline"
            _run(small, probe("truth_probe_a", 3, 3), 7)
            second = await history.snapshot(target, store=store, target="truth")
            assert second.status == "complete", second
            assert second.previous_captured_at == first.captured_at
            changes = await history.changes(store, since=HOUR, target="truth")
            entry = _entry(changes, "truth_probe_a")
            assert (entry.calls, entry.rows) == (7, 21)
            assert entry.intervals == 1
            assert entry.mean_exec_time_ms is not None
            assert entry.stddev_exec_time_ms is not None and entry.stddev_exec_time_ms >= 0
            # a third snapshot: only what moved is stored, the text is not read again
            _run(small, probe("truth_probe_a", 3, 3), 2)
            third = await history.snapshot(target, store=store, target="truth")
            assert 1 <= third.entries_stored < third.entries_read
            # steady state: no new statement, so the query-text file is not read
            _run(small, probe("truth_probe_a", 3, 3), 1)
            fourth = await history.snapshot(target, store=store, target="truth")
            assert (fourth.texts_read, fourth.entries_new) == (0, 0), fourth
            changes = await history.changes(store, since=HOUR, target="truth")
            entry = _entry(changes, "truth_probe_a")
            assert (entry.calls, entry.rows, entry.intervals) == (10, 30, 3)
            timeline = await history.timeline(
                store, queryid=entry.queryid, since=HOUR, target="truth"
            )
            assert [i.calls for i in timeline] == [7, 2, 1]
            assert all(i.status == "complete" for i in timeline)
        finally:
            await target.close()
            await store.close()

    asyncio.run(main())


def _reset(small: Small) -> None:
    small.psql("SELECT pg_stat_statements_reset()")


def _no_negative(changes: history.HistoryChanges) -> None:
    for entry in changes.statements:
        for name, value in entry.to_dict().items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                assert name in ("dbid", "userid", "queryid") or value >= 0, (name, entry)


def test_sync_twin_counts_exactly(shared: Small) -> None:
    with psycopg.connect(shared.dsn()) as target, psycopg.connect(shared.dsn(STORE_DB)) as store:
        assert sync_history.snapshot(target, store=store, target="sync").status == "baseline"
        _run(shared, probe("sync_probe_b", 4, 4), 5)
        assert sync_history.snapshot(target, store=store, target="sync").status == "complete"
        entry = _entry(sync_history.changes(store, since=HOUR, target="sync"), "sync_probe_b")
        assert (entry.calls, entry.rows) == (5, 20)


def test_reset_between_snapshots_is_flagged_and_never_double_counted(small: Small) -> None:
    _reset(small)
    with (
        psycopg.connect(small.dsn(), autocommit=True) as target,
        psycopg.connect(small.dsn(STORE_DB), autocommit=True) as store,
    ):
        sync_history.snapshot(target, store=store, target="reset")
        _run(small, probe("reset_probe_c", 5, 2), 5)
        sync_history.snapshot(target, store=store, target="reset")
        _run(small, probe("reset_probe_c", 5, 2), 4)
        _reset(small)
        _run(small, probe("reset_probe_c", 5, 2), 3)
        after = sync_history.snapshot(target, store=store, target="reset")
        if small.major >= 15:  # pg_stat_statements_info: PG 14+
            assert after.status == "reset", after
        # 5 before, 3 after the reset; the 4 between the snapshot and the reset are lost
        changes = sync_history.changes(store, since=HOUR, target="reset")
        assert _entry(changes, "reset_probe_c").calls == 8
        assert changes.reset_intervals == 1
        _no_negative(changes)
        queryid = _entry(changes, "reset_probe_c").queryid
        series = sync_history.timeline(store, queryid=queryid, since=HOUR, target="reset")
        assert [(i.status, i.calls) for i in series] == [("complete", 5), ("reset", 3)]


def test_churn_past_max_is_lossy_and_never_negative(small: Small) -> None:
    _reset(small)
    with (
        psycopg.connect(small.dsn(), autocommit=True) as target,
        psycopg.connect(small.dsn(STORE_DB), autocommit=True) as store,
    ):
        sync_history.snapshot(target, store=store, target="churn")
        _run(small, probe("churn_probe_d", 6, 2), 3)
        # 150 statements of distinct shapes: pg_stat_statements.max is 100
        small.psql("\n".join(probe("churn", 20 + i) + ";" for i in range(150)))
        lossy = sync_history.snapshot(target, store=store, target="churn")
        assert lossy.status == "lossy", lossy
        assert lossy.evictions is not None and lossy.evictions > 0
        changes = sync_history.changes(store, since=HOUR, target="churn", limit=10_000)
        assert changes.lossy_intervals == 1 and changes.evictions == lossy.evictions
        _no_negative(changes)
        # a snapshot after the churn is complete again, and counts exactly
        sync_history.snapshot(target, store=store, target="churn")
        _run(small, probe("churn_probe_e", 7, 2), 2)
        last = sync_history.snapshot(target, store=store, target="churn")
        assert last.status in ("complete", "lossy")
        window = sync_history.changes(store, since=last.previous_captured_at, target="churn")
        _no_negative(window)
        assert _entry(window, "churn_probe_e").calls == 2


def test_dropped_role_keeps_its_deltas_and_name(shared: Small) -> None:
    shared.psql(
        "DROP ROLE IF EXISTS history_gone; CREATE ROLE history_gone LOGIN",
        dbname="postgres",
    )
    role_sql = "SET ROLE history_gone;\n" + probe("role_probe_f", 11) + ";\n"
    with (
        psycopg.connect(shared.dsn(), autocommit=True) as target,
        psycopg.connect(shared.dsn(STORE_DB), autocommit=True) as store,
    ):
        shared.psql(role_sql + "RESET ROLE;")
        sync_history.snapshot(target, store=store, target="role")
        shared.psql(role_sql * 4 + "RESET ROLE;")
        shared.psql("DROP ROLE history_gone", dbname="postgres")
        snap = sync_history.snapshot(target, store=store, target="role")
        assert snap.status == "complete", snap
        entry = _entry(sync_history.changes(store, since=HOUR, target="role"), "role_probe_f")
        assert entry.calls == 4
        assert entry.username == "history_gone"


def test_drop_and_create_extension_between_snapshots(small: Small) -> None:
    _reset(small)
    with (
        psycopg.connect(small.dsn(), autocommit=True) as target,
        psycopg.connect(small.dsn(STORE_DB), autocommit=True) as store,
    ):
        sync_history.snapshot(target, store=store, target="recreate")
        _run(small, probe("ext_probe_g", 8, 2), 3)
        small.psql("DROP EXTENSION pg_stat_statements; CREATE EXTENSION pg_stat_statements")
        _run(small, probe("ext_probe_g", 8, 2), 2)
        snap = sync_history.snapshot(target, store=store, target="recreate")
        changes = sync_history.changes(store, since=HOUR, target="recreate")
        _no_negative(changes)
        # the entries live in shared memory, not in the extension's objects: kept
        assert snap.status == "complete", snap
        assert _entry(changes, "ext_probe_g").calls == 5


def test_alter_extension_update_between_snapshots(small: Small) -> None:
    if small.major < 18:
        pytest.skip("1.11 -> 1.12 is PostgreSQL 18")
    _reset(small)
    small.psql(
        "DROP EXTENSION pg_stat_statements; CREATE EXTENSION pg_stat_statements VERSION '1.11'"
    )
    try:
        with (
            psycopg.connect(small.dsn(), autocommit=True) as target,
            psycopg.connect(small.dsn(STORE_DB), autocommit=True) as store,
        ):
            first = sync_history.snapshot(target, store=store, target="update")
            assert first.pgss_version == "1.11"
            _run(small, probe("upd_probe_h", 9, 2), 3)
            small.psql("ALTER EXTENSION pg_stat_statements UPDATE")
            _run(small, probe("upd_probe_h", 9, 2), 2)
            second = sync_history.snapshot(target, store=store, target="update")
            assert second.pgss_version == "1.12"
            changes = sync_history.changes(store, since=HOUR, target="update")
            entry = _entry(changes, "upd_probe_h")
            assert entry.calls == 5
            assert entry.wal_buffers_full is None  # the window starts on 1.11
            _no_negative(changes)
            _run(small, probe("upd_probe_h", 9, 2), 1)
            third = sync_history.snapshot(target, store=store, target="update")
            window = sync_history.changes(store, since=third.previous_captured_at, target="update")
            assert _entry(window, "upd_probe_h").wal_buffers_full == 0
    finally:
        small.psql("ALTER EXTENSION pg_stat_statements UPDATE")


def test_two_collectors_at_once_never_double_count(shared: Small) -> None:
    async def main() -> None:
        conns = [
            await _connect(shared.dsn(db)) for db in (TARGET_DB, TARGET_DB, STORE_DB, STORE_DB)
        ]
        t1, t2, s1, s2 = conns
        try:
            await history.snapshot(t1, store=s1, target="twice")
            _run(shared, probe("twice_probe_i", 10, 2), 6)
            outcomes = await asyncio.gather(
                history.snapshot(t1, store=s1, target="twice"),
                history.snapshot(t2, store=s2, target="twice"),
                return_exceptions=True,
            )
            written = [o for o in outcomes if isinstance(o, history.Snapshot)]
            refused = [o for o in outcomes if isinstance(o, history.SnapshotConflictError)]
            assert len(written) + len(refused) == 2 and written, outcomes
            changes = await history.changes(s1, since=HOUR, target="twice")
            assert _entry(changes, "twice_probe_i").calls == 6
            # while another session holds the target's lock, a snapshot is refused
            target_id = await s2.fetchval(
                "SELECT id FROM pgstatkit.history_targets WHERE name = 'twice'"
            )
            await s2.execute("SELECT pg_advisory_lock($1::int4, $2::int4)", 0x70677368, target_id)
            with pytest.raises(history.SnapshotConflictError):
                await history.snapshot(t1, store=s1, target="twice")
            await s2.execute("SELECT pg_advisory_unlock($1::int4, $2::int4)", 0x70677368, target_id)
            assert not t1.is_in_transaction() and not s1.is_in_transaction()
        finally:
            for conn in conns:
                await conn.close()

    asyncio.run(main())


def test_two_clusters_feed_one_store_exactly_as_each_stores_itself(
    _pg_pool: Any,  # noqa: PT019 - the harness pool, used for its servers
) -> None:
    """PostgreSQL 15 and 18, live, into one store (a database of the 18 server): each
    statement's deltas equal those the target computes storing into itself."""
    from harness.plugin import server_matrix
    from harness.servers import ServerUnavailableError

    specs = {spec.id: spec for spec in server_matrix()[0]}
    if "pg15" not in specs or "pg18" not in specs:
        pytest.skip("needs the pg15 and pg18 servers of the matrix")
    try:
        servers = [_pg_pool.get(specs[i], preload=True, lc_messages=None) for i in ("pg15", "pg18")]
    except ServerUnavailableError as exc:
        pytest.skip(str(exc))
    for server in servers:
        _databases(server.server, lambda db, s=server: s.dsn_for(dbname=db))
        with psycopg.connect(server.dsn_for(dbname=TARGET_DB), autocommit=True) as conn:
            sync_stats.install(conn)
    store_dsn = servers[1].dsn_for(dbname=STORE_DB)
    fields = ("calls", "rows", "total_exec_time_ms", "plans", "shared_blks_hit", "wal_bytes")
    with psycopg.connect(store_dsn, autocommit=True) as store:
        conns = [psycopg.connect(s.dsn_for(dbname=TARGET_DB), autocommit=True) for s in servers]
        try:
            for server, conn in zip(servers, conns, strict=True):
                sync_history.snapshot(conn, store=store, target=f"fleet-{server.id}")
                sync_history.snapshot(conn, target="self")
            for server in servers:
                server.psql((probe("fleet_probe_j", 12, 5) + ";\n") * 4, dbname=TARGET_DB)
            for server, conn in zip(servers, conns, strict=True):
                fleet = sync_history.snapshot(conn, store=store, target=f"fleet-{server.id}")
                own = sync_history.snapshot(conn, target="self")
                assert fleet.status == own.status == "complete", (fleet, own)
                shared_view = sync_history.changes(
                    store, since=fleet.previous_captured_at, target=f"fleet-{server.id}"
                )
                self_view = sync_history.changes(
                    conn, since=own.previous_captured_at, target="self"
                )
                a, b = _entry(shared_view, "fleet_probe_j"), _entry(self_view, "fleet_probe_j")
                assert (a.calls, a.rows) == (4, 20)
                assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
                assert a.stddev_exec_time_ms == pytest.approx(b.stddev_exec_time_ms)
        finally:
            for conn in conns:
                conn.close()


def test_one_entry_reset_is_gone_and_the_others_stay_exact(small: Small) -> None:
    """An entry removed without a whole reset (pg_stat_statements_reset of one queryid)
    is *gone*: the read asks for the keys only then, the interval is lossy, the other
    entries count exactly, and the entry counts whole when it comes back."""
    _reset(small)
    with (
        psycopg.connect(small.dsn(), autocommit=True) as target,
        psycopg.connect(small.dsn(STORE_DB), autocommit=True) as store,
    ):
        sync_history.snapshot(target, store=store, target="gone")
        _run(small, probe("gone_probe_a", 8, 2), 2)
        _run(small, probe("gone_probe_b", 9, 2), 3)
        sync_history.snapshot(target, store=store, target="gone")
        row = target.execute(
            "SELECT queryid FROM pg_stat_statements WHERE query LIKE '%gone_probe_a%'"
        ).fetchone()
        assert row is not None
        target.execute("SELECT pg_stat_statements_reset(0, 0, %s)", (row[0],))
        _run(small, probe("gone_probe_b", 9, 2), 4)
        after = sync_history.snapshot(target, store=store, target="gone")
        assert after.entries_gone == 1, after
        assert after.status == "lossy", after
        window = sync_history.changes(store, since=after.previous_captured_at, target="gone")
        assert _entry(window, "gone_probe_b").calls == 4
        assert not [s for s in window.statements if s.query and "gone_probe_a" in s.query]
        _run(small, probe("gone_probe_a", 8, 2), 5)
        back = sync_history.snapshot(target, store=store, target="gone")
        assert back.entries_gone == 0 and back.entries_new >= 1, back
        window = sync_history.changes(store, since=back.previous_captured_at, target="gone")
        assert _entry(window, "gone_probe_a").calls == 5
        _no_negative(window)


def test_the_read_sends_only_the_entries_that_moved(shared: Small) -> None:
    """The store's hashes match the target's for every entry that did not move: the
    target sends the probe (and the few statements of the snapshot itself), never the
    whole view, and computes no key list."""
    from pgstatkit import _history
    from pgstatkit._run import run_sync
    from pgstatkit.adapters import open_sync

    with (
        psycopg.connect(shared.dsn(), autocommit=True) as target,
        psycopg.connect(shared.dsn(STORE_DB), autocommit=True) as store,
    ):
        # 60 entries of their own shapes the store will know, that do not move
        shared.psql("\n".join(probe("moved_only_still", 40 + i) + ";" for i in range(60)))
        sync_history.snapshot(target, store=store, target="moved-only")
        sync_history.snapshot(target, store=store, target="moved-only")
        _run(shared, probe("moved_only_probe", 10, 2), 3)
        with open_sync(store) as store_session, open_sync(target) as target_session:
            prepared = run_sync(
                store_session, _history.prepare("pgstatkit", "moved-only", 5000, 1000)
            )
            reading = run_sync(target_session, _history.read_target(prepared, 5000, 1000))
        moved = len(reading.arrays[0])
        assert len(prepared.keys) >= 60, len(prepared.keys)
        # the probe, psql's session and the statements of the snapshots themselves
        assert 1 <= moved <= 40, (moved, len(prepared.keys))
        assert not any(reading.arrays[4]), "nothing is gone"
        assert reading.entries >= len(prepared.keys)


async def test_the_read_never_gets_a_generic_plan_on_a_cached_statement(shared: Small) -> None:
    """asyncpg caches its statements: from the sixth run on, the server may plan them
    generically, and a generic plan scans the store's hashes linearly for every entry.
    The read forces custom plans, where the hashes are a constant array looked up by
    hash (pg_prepared_statements counts the plans, PostgreSQL 14+)."""
    conn = await _connect(shared.dsn())
    store = await _connect(shared.dsn(STORE_DB))
    try:
        for _ in range(8):
            await history.snapshot(conn, store=store, target="custom-plans")
        plans = await conn.fetch(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE '%TARGET. The entries whose counters moved%'"
            " AND statement NOT LIKE '%pg_prepared_statements%'"
        )
        assert plans, "asyncpg keeps the read as a prepared statement"
        assert all(p["generic_plans"] == 0 for p in plans), [dict(p) for p in plans]
        assert sum(p["custom_plans"] for p in plans) >= 8
    finally:
        await conn.close()
        await store.close()


def test_a_snapshot_inside_the_callers_transaction_leaves_its_settings(shared: Small) -> None:
    """The store's steps commit (a released savepoint inside the caller's transaction):
    every setting they change for themselves (timeouts, planner and JIT settings of the
    write and the roll-up) is the caller's again afterwards, the transaction still open."""
    settings = (
        "enable_hashjoin",
        "enable_mergejoin",
        "work_mem",
        "jit",
        "plan_cache_mode",
        "lock_timeout",
        "statement_timeout",
        "extra_float_digits",
    )
    query = "SELECT " + ", ".join(f"current_setting('{s}')" for s in settings)
    with (
        psycopg.connect(shared.dsn(), autocommit=True) as target,
        psycopg.connect(shared.dsn(STORE_DB)) as store,
    ):
        store.execute("SET work_mem = '3MB'")
        store.commit()
        store.execute("SELECT 1")  # the caller's transaction is open
        before = store.execute(query).fetchone()
        for _ in range(2):  # the first of a target also runs a roll-up
            sync_history.snapshot(target, store=store, target=f"in-tx-{uuid.uuid4().hex[:6]}")
        assert store.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        assert store.execute(query).fetchone() == before
        store.rollback()

"""Hourly roll-ups of history on real servers: changes() gives the same sums with and
without them (docs/history.md, "Hourly roll-ups").

Synthetic deltas first (as benchmarks/history.py writes them): values that are
multiples of 1/64, so every float sum is exact in any order and the results with
roll-ups must be *identical* to the raw-only ones, field by field. Then real
snapshots, moved back in time so their hours close, rolled up by the snapshot step
itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import psycopg
import pytest

from harness.servers import TestServer
from pgstatkit import _history
from pgstatkit import history as async_history
from pgstatkit._run_sync import run_sync
from pgstatkit.adapters import open_sync
from pgstatkit.errors import InvalidArgumentError
from pgstatkit.sync import history
from pgstatkit.sync import stats as sync_stats

pytestmark = pytest.mark.server

STORE_DB = "history_rollups"
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture(scope="module")
def store_dsn(pg_server: TestServer) -> str:
    pg_server.psql(
        f"SELECT 'CREATE DATABASE {STORE_DB}' WHERE NOT EXISTS (SELECT FROM pg_database"
        f" WHERE datname = '{STORE_DB}') \\gexec",
        dbname="postgres",
    )
    dsn = pg_server.dsn_for(dbname=STORE_DB)
    with psycopg.connect(dsn, autocommit=True) as conn:
        sync_stats.install(conn)
        # the day partitions around now (a snapshot's first step makes them)
        history.snapshot(conn, target="partitions")
    return dsn


@pytest.fixture
def conn(store_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(store_dsn, autocommit=True) as c:
        yield c


def _hour(value: dt.datetime) -> dt.datetime:
    value = value.astimezone(dt.timezone.utc)
    return value.replace(minute=0, second=0, microsecond=0)


def _synthetic(conn: psycopg.Connection[Any], name: str, first: dt.datetime, count: int) -> int:
    """A target with ``count`` snapshots a minute apart from ``first`` (a baseline,
    then complete intervals), 12 delta rows each over 20 entries; values are multiples
    of 1/64 (exact float sums), some counters NULL, some rows re-created."""
    target_id = conn.execute(
        "INSERT INTO pgstatkit.history_targets (name) VALUES (%s) RETURNING id", (name,)
    ).fetchone()[0]  # type: ignore[index]
    conn.execute(
        "INSERT INTO pgstatkit.history_snapshots (target_id, captured_at, previous_captured_at,"
        " status, pgss_version, server_version_num, entries_read, entries_stored, entries_new,"
        " entries_recreated, entries_gone)"
        " SELECT %(t)s, %(first)s + make_interval(mins => g),"
        " CASE WHEN g > 0 THEN %(first)s + make_interval(mins => g - 1) END,"
        " CASE WHEN g > 0 THEN 'complete' ELSE 'baseline' END, '1.12', 180000, 20, 12, 0, 0, 0"
        " FROM generate_series(0, %(n)s - 1) AS g",
        {"t": target_id, "first": first, "n": count},
    )
    conn.execute(
        "INSERT INTO pgstatkit.history_statements (snapshot_id, target_id, captured_at, dbid,"
        " userid, queryid, toplevel, recreated, calls, rows, total_exec_time_ms,"
        " exec_time_sumsq, plans, total_plan_time_ms, plan_time_sumsq, shared_blks_hit,"
        " temp_blks_read, wal_bytes, jit_functions, jit_generation_time_ms)"
        " SELECT s.id, s.target_id, s.captured_at, 5 + (k.q %% 2), 10, 1000 + k.q, k.q %% 3 > 0,"
        " (s.id + k.q) %% 37 = 0, 1 + (s.id + k.q) %% 5, (s.id * k.q) %% 11,"
        " ((s.id * 7 + k.q) %% 97) / 64.0, ((s.id * 13 + k.q) %% 89) / 64.0 * 3,"
        " CASE WHEN k.q %% 4 = 0 THEN 1 END, CASE WHEN k.q %% 4 = 0 THEN (s.id %% 9) / 64.0 END,"
        " CASE WHEN k.q %% 4 = 0 THEN (s.id %% 5) / 64.0 END, (s.id + k.q) %% 50,"
        " CASE WHEN k.q %% 5 = 0 THEN s.id %% 3 END, (s.id * 31 + k.q) %% 4096,"
        " CASE WHEN k.q = 7 THEN 2 END, CASE WHEN k.q = 7 THEN (s.id %% 17) / 32.0 END"
        " FROM pgstatkit.history_snapshots AS s"
        " CROSS JOIN LATERAL (SELECT (s.id * 7 + j) %% 20 AS q FROM generate_series(1, 12) AS j)"
        "   AS k"
        " WHERE s.target_id = %s AND s.status <> 'baseline'",
        (target_id,),
    )
    return int(target_id)


def _changes(
    conn: psycopg.Connection[Any],
    name: str | None,
    since: dt.datetime,
    until: dt.datetime,
    queryid: int | None = None,
) -> history.HistoryChanges:
    return history.changes(
        conn,
        since=since,
        until=until,
        target=name,
        limit=10_000,
        include_pgstatkit=True,
        queryid=queryid,
        order_by="calls",
    )


def _changes_of_database(
    conn: psycopg.Connection[Any], name: str, since: dt.datetime, until: dt.datetime, dbid: int
) -> history.HistoryChanges:
    """changes() of one database (the advisor's filter, not public)."""
    op = _history.changes(
        schema="pgstatkit",
        target=name,
        since=since,
        until=until,
        order_by="calls",
        limit=10_000,
        include_pgstatkit=True,
        queryid=None,
        timeout_ms=5000,
        dbid=dbid,
    )
    with open_sync(conn) as session:
        return run_sync(session, op)


def _raw(
    conn: psycopg.Connection[Any],
    name: str,
    since: dt.datetime,
    until: dt.datetime,
    queryid: int | None = None,
) -> dict[tuple[Any, ...], dict[str, object]]:
    """The window summed from the raw delta rows alone, by a query of its own (what
    changes() computed before roll-ups), as the fields of StatementChange."""
    sums = ", ".join(f"sum(h.{n})::{t} AS {n}" for n, t in _history.COUNTERS)
    cur = conn.execute(
        "SELECT t.name, h.dbid, h.userid, h.queryid, h.toplevel, count(*)::int4 AS intervals,"
        f" bool_or(h.recreated) AS recreated, {sums}"
        " FROM pgstatkit.history_statements h JOIN pgstatkit.history_targets t"
        " ON t.id = h.target_id WHERE t.name = %s AND h.captured_at > %s"
        " AND h.captured_at <= %s AND (%s::int8 IS NULL OR h.queryid = %s::int8)"
        " GROUP BY 1, 2, 3, 4, 5",
        (name, since, until, queryid, queryid),
    )
    columns = [c.name for c in cur.description or ()]
    out = {}
    for values in cur.fetchall():
        row = dict(zip(columns, values, strict=True))
        key = (row["name"], row["dbid"], row["userid"], row["queryid"], row["toplevel"])
        fields: dict[str, object] = {"intervals": row["intervals"], "recreated": row["recreated"]}
        fields.update(_history._metrics(row, (1, 12)))
        out[key] = fields
    return out


def _fields(result: history.HistoryChanges) -> dict[tuple[Any, ...], dict[str, object]]:
    """What _raw computes, from a changes() result."""
    table = _table(result)
    return {k: {f: v[f] for f in ("intervals", "recreated", *_METRICS)} for k, v in table.items()}


_METRICS = tuple(
    f
    for f in history.StatementChange.__dataclass_fields__
    if f not in {"target", "dbid", "database", "userid", "username", "queryid", "toplevel", "query"}
    and f not in ("intervals", "recreated")
)


def _key(s: history.StatementChange) -> tuple[Any, ...]:
    return (s.target, s.dbid, s.userid, s.queryid, s.toplevel)


def _table(result: history.HistoryChanges) -> dict[tuple[Any, ...], dict[str, object]]:
    return {_key(s): s.to_dict() for s in result.statements}


def _frontier(conn: psycopg.Connection[Any], name: str) -> dt.datetime | None:
    row = conn.execute(
        "SELECT rolled_up_until FROM pgstatkit.history_targets WHERE name = %s", (name,)
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def test_changes_with_roll_ups_are_identical_to_raw(conn: psycopg.Connection[Any]) -> None:
    name = f"synthetic-{uuid.uuid4().hex[:8]}"
    now = dt.datetime.now(dt.timezone.utc)
    # 5 h 40 min of minute snapshots, starting 23 minutes into an hour, ending ~1 h ago
    first = _hour(now) - 7 * HOUR + 23 * MINUTE
    _synthetic(conn, name, first, 340)
    last = first + 339 * MINUTE
    h0 = _hour(first)
    windows = [
        (h0 + HOUR, h0 + 4 * HOUR),  # aligned
        (first + 7 * MINUTE + dt.timedelta(seconds=30), last - 17 * MINUTE),  # unaligned
        (first - HOUR, now),  # from before the first snapshot to now
        (h0 + 2 * HOUR + 5 * MINUTE, h0 + 2 * HOUR + 50 * MINUTE),  # inside one hour
        (h0 + 2 * HOUR + 5 * MINUTE, h0 + 3 * HOUR + 50 * MINUTE),  # across one boundary
        (h0 + 90 * MINUTE, h0 + 5 * HOUR + 1 * MINUTE),
        (h0 + 30 * MINUTE, h0 + 6 * HOUR),
    ]
    raw = [_changes(conn, name, a, b) for a, b in windows]
    assert all(r.statements for r in raw)
    for (a, b), before in zip(windows, raw, strict=True):
        assert _fields(before) == _raw(conn, name, a, b), (a, b)
    one_queryid = raw[2].statements[0].queryid
    raw_one = _changes(conn, name, windows[1][0], windows[1][1], one_queryid)
    raw_db = _changes_of_database(conn, name, *windows[1], 6)
    raw_all = _changes(conn, None, windows[2][0], windows[2][1])

    # a partial roll-up: the frontier inside the windows
    (partial,) = history.roll_up(conn, target=name, max_buckets=2)
    assert (partial.buckets, partial.pending, partial.skipped) == (2, True, False)
    assert partial.rolled_up_until == h0 + 2 * HOUR
    assert partial.rows_read > 0 and 0 < partial.rows_written <= partial.rows_read
    for (a, b), before in zip(windows, raw, strict=True):
        assert _table(_changes(conn, name, a, b)) == _table(before), (a, b)

    # then up to the hour of the last snapshot (its hour is still open)
    rolled = history.roll_up(conn, target=name, max_buckets=24)
    assert [(r.pending, r.rolled_up_until) for r in rolled] == [(False, _hour(last))]
    hourly = conn.execute(
        "SELECT count(DISTINCT hour), sum(intervals) FROM pgstatkit.history_statements_hourly"
        " h JOIN pgstatkit.history_targets t ON t.id = h.target_id WHERE t.name = %s",
        (name,),
    ).fetchone()
    raw_rows = conn.execute(
        "SELECT count(*) FROM pgstatkit.history_statements h JOIN pgstatkit.history_targets"
        " t ON t.id = h.target_id WHERE t.name = %s AND h.captured_at < %s",
        (name, _hour(last)),
    ).fetchone()
    assert hourly is not None and raw_rows is not None
    assert (hourly[0], hourly[1]) == (6, raw_rows[0])  # h0 .. h0 + 5 h
    for (a, b), before in zip(windows, raw, strict=True):
        after = _changes(conn, name, a, b)
        assert _table(after) == _table(before), (a, b)
        assert [_key(s) for s in after.statements] == [_key(s) for s in before.statements]
        assert (after.intervals, after.status) == (before.intervals, before.status)
        assert _fields(after) == _raw(conn, name, a, b), (a, b)
    assert _table(_changes(conn, name, windows[1][0], windows[1][1], one_queryid)) == _table(
        raw_one
    )
    assert _fields(raw_one) == _raw(conn, name, windows[1][0], windows[1][1], one_queryid)
    rolled_db = _changes_of_database(conn, name, *windows[1], 6)
    assert _table(rolled_db) == _table(raw_db)
    expected = {k: v for k, v in _raw(conn, name, *windows[1]).items() if k[1] == 6}
    assert _fields(rolled_db) == expected and expected
    assert len(raw_one.statements) >= 1
    assert {s.queryid for s in raw_one.statements} == {one_queryid}
    # every target at once: this one's rows are the same
    mine = {k: v for k, v in _table(_changes(conn, None, *windows[2])).items() if k[0] == name}
    assert mine == {k: v for k, v in _table(raw_all).items() if k[0] == name}

    # idempotent: nothing more to do; a lost frontier is rebuilt without double counting
    again = history.roll_up(conn, target=name)
    assert [(r.buckets, r.rows_written) for r in again] == [(0, 0)]
    conn.execute(
        "UPDATE pgstatkit.history_targets SET rolled_up_until = NULL WHERE name = %s", (name,)
    )
    rebuilt = history.roll_up(conn, target=name, max_buckets=24)
    assert [(r.buckets, r.rows_written, r.rolled_up_until) for r in rebuilt] == [
        (6, 0, _hour(last))
    ]
    for (a, b), before in zip(windows, raw, strict=True):
        assert _table(_changes(conn, name, a, b)) == _table(before), (a, b)


def test_roll_up_of_an_unknown_or_empty_target(conn: psycopg.Connection[Any]) -> None:
    assert history.roll_up(conn, target=f"nobody-{uuid.uuid4().hex[:8]}") == []
    name = f"empty-{uuid.uuid4().hex[:8]}"
    conn.execute("INSERT INTO pgstatkit.history_targets (name) VALUES (%s)", (name,))
    (result,) = history.roll_up(conn, target=name)
    assert (result.buckets, result.rolled_up_until, result.pending) == (0, None, False)
    with pytest.raises(InvalidArgumentError, match="max_buckets"):
        history.roll_up(conn, max_buckets=0)


def test_async_roll_up(conn: psycopg.Connection[Any], store_dsn: str) -> None:
    """The async source (the sync twin is generated from it), through asyncpg."""
    name = f"async-{uuid.uuid4().hex[:8]}"
    now = dt.datetime.now(dt.timezone.utc)
    _synthetic(conn, name, _hour(now) - 3 * HOUR + 10 * MINUTE, 160)

    async def main() -> list[history.RollUp]:
        store = await asyncpg.connect(store_dsn)
        try:
            first = await async_history.roll_up(store, target=name, max_buckets=1)
            return first + await async_history.roll_up(store, target=name)
        finally:
            await store.close()

    first, rest = asyncio.run(main())
    assert (first.buckets, first.pending, rest.buckets, rest.pending) == (1, True, 1, False)
    assert rest.rolled_up_until == _hour(now) - HOUR


def test_a_held_roll_up_lock_skips_and_never_blocks_a_snapshot(
    conn: psycopg.Connection[Any], store_dsn: str
) -> None:
    name = f"locked-{uuid.uuid4().hex[:8]}"
    now = dt.datetime.now(dt.timezone.utc)
    target_id = _synthetic(conn, name, _hour(now) - 4 * HOUR + 10 * MINUTE, 150)
    with psycopg.connect(store_dsn) as other:
        other.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", (_history.ROLL_UP_LOCK_SPACE, target_id)
        )
        (result,) = history.roll_up(conn, target=name)
        assert (result.skipped, result.buckets, result.rolled_up_until) == (True, 0, None)
        # the snapshot's own lock is another key: snapshots go on
        snap = history.snapshot(conn, target=f"free-{uuid.uuid4().hex[:8]}")
        assert snap.status == "baseline"
        other.rollback()
    (result,) = history.roll_up(conn, target=name)
    assert (result.skipped, result.buckets) == (False, 2)


def test_prune_deletes_hourly_rows_before_the_cutoff(conn: psycopg.Connection[Any]) -> None:
    name = f"old-{uuid.uuid4().hex[:8]}"
    target_id = conn.execute(
        "INSERT INTO pgstatkit.history_targets (name) VALUES (%s) RETURNING id", (name,)
    ).fetchone()[0]  # type: ignore[index]
    old = _hour(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30))
    recent = _hour(dt.datetime.now(dt.timezone.utc) - 2 * HOUR)
    for hour in (old, old + HOUR, recent):
        conn.execute(
            "INSERT INTO pgstatkit.history_statements_hourly (target_id, hour, dbid, userid,"
            " queryid, toplevel, intervals, recreated, calls) VALUES (%s, %s, 1, 1, 1, true,"
            " 1, false, 1)",
            (target_id, hour),
        )
    result = history.prune(conn, keep=dt.timedelta(days=14))
    assert result.hourly_rows_deleted >= 2
    left = conn.execute(
        "SELECT array_agg(hour) FROM pgstatkit.history_statements_hourly WHERE target_id = %s",
        (target_id,),
    ).fetchone()
    assert left is not None and left[0] == [recent]


def _shift(conn: psycopg.Connection[Any], name: str, moves: dict[dt.datetime, dt.datetime]) -> None:
    """Move snapshots (and their rows) back in time: captured_at ``old`` -> ``new``."""
    for old, new in moves.items():
        conn.execute(
            "UPDATE pgstatkit.history_statements h SET captured_at = %s FROM"
            " pgstatkit.history_targets t WHERE t.id = h.target_id AND t.name = %s"
            " AND h.captured_at = %s",
            (new, name, old),
        )
        conn.execute(
            "UPDATE pgstatkit.history_snapshots s SET captured_at = %s FROM"
            " pgstatkit.history_targets t WHERE t.id = s.target_id AND t.name = %s"
            " AND s.captured_at = %s",
            (new, name, old),
        )


def _close(a: dict[str, object], b: dict[str, object]) -> None:
    assert a.keys() == b.keys()
    for field, x in a.items():
        y = b[field]
        if isinstance(x, float) and isinstance(y, float):
            assert x == pytest.approx(y, rel=1e-9, abs=1e-12), field
        else:
            assert x == y, field


def test_snapshots_roll_up_what_they_close(
    conn: psycopg.Connection[Any], store_dsn: str, caplog: Any
) -> None:
    """Real snapshots (the target is the store database itself), moved back so their
    hours close: the snapshot after them rolls them up, changes() agrees with the
    raw-only sums; a failing roll-up step leaves the snapshot written."""
    name = f"real-{uuid.uuid4().hex[:8]}"
    probe = f"SELECT g AS rollup_probe_{uuid.uuid4().hex[:6]}, 1, 2 FROM generate_series(1, 3) g"
    history.snapshot(conn, target=name)
    taken = []
    for k in range(5):
        for _ in range(k + 1):
            conn.execute(probe)  # type: ignore[arg-type]
        taken.append(history.snapshot(conn, target=name))
    now = dt.datetime.now(dt.timezone.utc)
    base = _hour(now) - 4 * HOUR + 20 * MINUTE
    # baseline and five intervals spread over four closed hours, 25 minutes apart
    snaps = history.snapshots(conn, since=now - HOUR, target=name)
    moves = {s.captured_at: base + k * 25 * MINUTE for k, s in enumerate(snaps)}
    _shift(conn, name, moves)
    assert _frontier(conn, name) is None or _frontier(conn, name) <= _hour(now)
    conn.execute(
        "UPDATE pgstatkit.history_targets SET rolled_up_until = NULL WHERE name = %s", (name,)
    )
    windows = [(base - HOUR, now + MINUTE), (base + 30 * MINUTE, base + 110 * MINUTE)]
    raw = [_changes(conn, name, a, b) for a, b in windows]
    probes = [s for s in raw[0].statements if s.query and "rollup_probe" in s.query]
    assert [(s.calls, s.rows) for s in probes] == [(15, 45)]

    # a roll-up that fails (its table locked) leaves the snapshot written, with a warning
    with psycopg.connect(store_dsn) as other:
        other.execute("LOCK TABLE pgstatkit.history_statements_hourly IN EXCLUSIVE MODE")
        with caplog.at_level(logging.WARNING, logger="pgstatkit.history"):
            snap = history.snapshot(conn, target=name, lock_timeout_ms=200)
        assert snap.status in ("complete", "lossy")
        assert "roll-up of target" in caplog.text
        assert _frontier(conn, name) is None
        other.rollback()
    # the next snapshot rolls up the closed hours
    last = history.snapshot(conn, target=name)
    assert _frontier(conn, name) == _hour(last.captured_at)
    # the past window: every entry the same; the whole one: the probe the same
    _same(_changes(conn, name, *windows[1]), raw[1])
    after = _changes(conn, name, *windows[0])
    probes_after = [s for s in after.statements if s.query and "rollup_probe" in s.query]
    assert [(s.calls, s.rows, s.intervals) for s in probes_after] == [(15, 45, 5)]
    _close(probes_after[0].to_dict(), probes[0].to_dict())


def _same(a: history.HistoryChanges, b: history.HistoryChanges) -> None:
    left, right = _table(a), _table(b)
    assert left.keys() == right.keys()
    for key, value in left.items():
        _close(value, right[key])


def _roll_up_runs(conn: psycopg.Connection[Any]) -> int:
    """How often the roll-up's first statement (rollup_plan) ran on the server."""
    row = conn.execute(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
        " WHERE query LIKE %s AND query NOT LIKE %s",
        ("%its id, its roll-up frontier (rolled_up_until)%", "%pg_stat_statements%"),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_snapshot_in_an_hour_already_rolled_up_runs_no_roll_up(
    conn: psycopg.Connection[Any],
) -> None:
    """The write step reads the target's frontier with the last snapshot's time: a
    snapshot that closes no hour sends no roll-up transaction (it used to cost one
    every snapshot)."""
    name = f"due-{uuid.uuid4().hex[:8]}"
    first = history.snapshot(conn, target=name)  # nothing rolled up yet: the run sets it
    assert _frontier(conn, name) == _hour(first.captured_at)
    before = _roll_up_runs(conn)
    taken = [history.snapshot(conn, target=name) for _ in range(3)]
    runs = _roll_up_runs(conn) - before
    hours = {_hour(s.captured_at) for s in [first, *taken]}
    # an hour that turned during the test closes once: one run for it
    assert runs == len(hours) - 1, (runs, hours)
    assert _frontier(conn, name) == _hour(taken[-1].captured_at)

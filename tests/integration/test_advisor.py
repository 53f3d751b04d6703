"""The index advisor on a planted-index workload, on every server.

The test builds a small shop (customers, orders, line items, events, with skew) whose
statements would each be served by one known missing index, plus two negatives: a
predicate no btree serves and one an existing index already serves. On PostgreSQL 15
the Debian hypopg extension validates the candidates; PostgreSQL 17 and 18 (wheels
without hypopg) take the unvalidated ``pg_stats`` path. Creating the suggestions for
real must make the helped statements faster (measured with EXPLAIN ANALYZE; the
numbers are printed, run with ``-s`` to see them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from harness.servers import TestServer
from pgstatkit import _advise, advisor, history, stats
from pgstatkit._run import run_async
from pgstatkit.adapters import open_async
from pgstatkit.errors import (
    InsufficientPrivilegeError,
    InvalidArgumentError,
    StatementTimeoutError,
)
from pgstatkit.history import HistoryNotInstalledError, NoHistoryError
from pgstatkit.models import IndexSuggestion
from pgstatkit.sync import advisor as sync_advisor

# the planted-index workload is shared with the comparison benchmark
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import advisor_workload
from advisor_workload import PLANTED, RUNS, SCHEMA, TABLE_OF, workload_sql

pytestmark = pytest.mark.server

DB = "pgstatkit_advisor"


def hypopg_available(server: TestServer) -> bool:
    found = server.psql("SELECT count(*) FROM pg_available_extensions WHERE name = 'hypopg'")
    return found == "1"


def reset_table_statistics(server: TestServer, dbname: str) -> None:
    """Zero the tables' write counters after the load (the load is not the workload).

    The ``pg_stat_reset()`` at the end of SCHEMA can come before the loading backend
    flushes its pending counters, which then arrive after it: 150,000 inserts a few
    seconds ago make a write overhead that outweighs every saving. Reset again from
    another session until the counters stay at zero.
    """
    writes = "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"
    for _ in range(50):
        server.psql("SELECT pg_stat_reset()", dbname=dbname)
        time.sleep(0.2)
        if server.psql(writes, dbname=dbname) == "0":
            return
    raise AssertionError(f"the table statistics of {dbname} do not stay reset")


@pytest.fixture(scope="session")
def advisor_server(pg_server: TestServer) -> TestServer:
    if pg_server.major == 15 and os.environ.get("CI", "").lower() not in ("", "0", "false"):
        # .ci/run installs Debian's postgresql-15-hypopg: the validated path must run
        assert hypopg_available(pg_server), "hypopg missing on the Debian pg15 cluster"
    if pg_server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB}'") != "1":
        pg_server.psql(f"CREATE DATABASE {DB}", dbname="postgres")
        try:
            pg_server.psql(SCHEMA, dbname=DB)
            reset_table_statistics(pg_server, DB)
            if hypopg_available(pg_server):
                pg_server.psql("CREATE EXTENSION hypopg", dbname=DB)
        except Exception:
            pg_server.psql(f"DROP DATABASE {DB}", dbname="postgres")
            raise
    pg_server.psql(workload_sql(), dbname=DB)
    return pg_server


@pytest.fixture
async def conn(advisor_server: TestServer) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(advisor_server.dsn_for(dbname=DB))
    try:
        yield c
    finally:
        await c.close()


def leading_matches(s: IndexSuggestion, planted: tuple[frozenset[str], str | None]) -> bool:
    return advisor_workload.leading_matches(s.columns, planted)


def is_validated_server(server: TestServer) -> bool:
    return hypopg_available(server)


async def leftovers(conn: asyncpg.Connection) -> tuple[int, int]:
    """(hypothetical indexes, pgstatkit prepared statements) left in the session."""
    prepared = await conn.fetchval(
        "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pgstatkit%'"
    )
    has_hypopg = await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'")
    hypo = await conn.fetchval("SELECT count(*) FROM hypopg_list_indexes") if has_hypopg else 0
    return int(hypo), int(prepared)


async def test_recovers_every_planted_index(
    conn: asyncpg.Connection, advisor_server: TestServer
) -> None:
    async with open_async(conn) as session:
        advice = await run_async(session, _advise.advice(max_indexes=10, timeout_ms=20_000))
    suggestions = advice.suggestions
    print(
        f"\n{advisor_server.id}: {advice.statements_examined} statements, {advice.candidates}"
        f" candidates, {advice.explains} EXPLAINs; notes: {advice.notes}"
    )
    validated = is_validated_server(advisor_server)
    report = [
        (s.table, s.columns, s.validated, round(s.time_saved_ms_per_day)) for s in suggestions
    ]
    print(f"\n{advisor_server.id} suggestions: {report}")
    assert all(s.validated is validated for s in suggestions), report
    for name, (_, planted) in PLANTED.items():
        table = TABLE_OF[name]
        on_table = [s for s in suggestions if s.table == table]
        if planted is not None:
            assert any(leading_matches(s, planted) for s in on_table), (name, report)
    # negatives: nothing on customers(name), orders(customer_id...), the tiny table
    assert not [s for s in suggestions if s.table == "customers" and "name" in s.columns]
    assert not [s for s in suggestions if s.table == "orders"], report
    assert not [s for s in suggestions if s.table == "settings"], report
    # one suggestion per planted index, nothing else
    assert len(suggestions) == 4, report
    for s in suggestions:
        assert s.create_statement.startswith('CREATE INDEX CONCURRENTLY ON "public".')
        assert s.estimated_size_bytes > 0
        assert s.time_saved_ms_per_day > 0
        assert s.write_overhead_ms_per_day >= 0
        assert s.statements and all(h.fingerprint for h in s.statements)
        for h in s.statements:
            assert h.calls == RUNS
            if validated:
                assert h.plan_cost_before is not None and h.plan_cost_after is not None
                assert h.plan_cost_after < h.plan_cost_before
            else:
                assert h.plan_cost_before is None and h.plan_cost_after is None
            assert 0 < h.cost_reduction_ratio <= 1
        json.dumps(s.to_dict())
    assert await leftovers(conn) == (0, 0)
    # no real index was created
    count = await conn.fetchval(
        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'"
        " AND indexname NOT LIKE '%_pkey' AND indexname <> 'orders_customer_created'"
    )
    assert count == 0


async def _execution_ms(conn: asyncpg.Connection, sql: str) -> float:
    times = []
    for _ in range(3):
        plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        times.append(float(json.loads(plan)[0]["Execution Time"]))
    return min(times)


async def test_creating_the_suggestions_makes_the_statements_faster(
    conn: asyncpg.Connection, advisor_server: TestServer
) -> None:
    suggestions = await advisor.suggest_indexes(conn, max_indexes=10, timeout_ms=20_000)
    helped = {name: text.format(n=111) for name, (text, p) in PLANTED.items() if p is not None}
    before = {name: await _execution_ms(conn, sql) for name, sql in helped.items()}
    names = (
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid::regclass::text = ANY($1)"
    )
    tables = [f"{s.table}" for s in suggestions]
    existing = {r[0] for r in await conn.fetch(names, tables)}
    try:
        for s in suggestions:
            await conn.execute(s.create_statement)  # CONCURRENTLY: outside a transaction
        await conn.execute("ANALYZE customers, line_items, events")
        after = {name: await _execution_ms(conn, sql) for name, sql in helped.items()}
    finally:
        for index in {r[0] for r in await conn.fetch(names, tables)} - existing:
            await conn.execute(f"DROP INDEX {index}")
    print(f"\n{advisor_server.id} execution ms before -> after:")
    for name in helped:
        print(f"  {name}: {before[name]:.3f} -> {after[name]:.3f}")
    for name in helped:
        assert after[name] < before[name], (name, before[name], after[name])


async def test_sync_twin_and_unvalidated_path(advisor_server: TestServer) -> None:
    import psycopg

    with psycopg.connect(advisor_server.dsn_for(dbname=DB)) as c:
        found = sync_advisor.suggest_indexes(c, validate=False, max_indexes=10, timeout_ms=20_000)
    assert found and all(not s.validated for s in found)
    assert all(h.plan_cost_before is None for s in found for h in s.statements)
    for name, (_, planted) in PLANTED.items():
        if planted is not None:
            on_table = [s for s in found if s.table == TABLE_OF[name]]
            assert any(leading_matches(s, planted) for s in on_table), (name, found)
    assert not [s for s in found if s.table in ("orders", "settings")]


async def test_budget_in_count_and_bytes(conn: asyncpg.Connection) -> None:
    [one] = await advisor.suggest_indexes(conn, max_indexes=1, timeout_ms=20_000)
    every = await advisor.suggest_indexes(conn, max_indexes=10, timeout_ms=20_000)
    # the greedy order: the largest saving first (times per day move with the clock)
    assert (one.table, one.columns) == (every[0].table, every[0].columns)
    small = min(s.estimated_size_bytes for s in every)
    capped = await advisor.suggest_indexes(conn, max_bytes=small, timeout_ms=20_000)
    assert sum(s.estimated_size_bytes for s in capped) <= small


async def test_cancelled_and_timed_out_leave_nothing(
    conn: asyncpg.Connection, advisor_server: TestServer
) -> None:
    cancelled = 0
    for delay in (0.0, 0.002, 0.005, 0.02, 0.05, 0.1, 0.2):
        task = asyncio.create_task(advisor.suggest_indexes(conn, timeout_ms=20_000))
        await asyncio.sleep(delay)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            cancelled += 1
        assert await leftovers(conn) == (0, 0), delay
        assert await conn.fetchval("SELECT 1") == 1
    assert cancelled >= 2  # cancelled midway (validated: also between the EXPLAINs)
    with pytest.raises(StatementTimeoutError):
        await advisor.suggest_indexes(conn, timeout_ms=1)
    assert await leftovers(conn) == (0, 0)


async def test_arguments_are_checked_before_anything_is_sent() -> None:
    for bad in (
        {"statements": 0},
        {"max_indexes": 0},
        {"max_bytes": 10},
        {"min_cost_reduction_ratio": 2},
        {"validate": "yes"},
        {"source": "since_reset"},
        {"since": dt.timedelta(0)},
        {"since": dt.datetime(2026, 1, 1)},  # naive
        {"until": dt.timedelta(days=8)},  # before since
        {"target": ""},
        {"schema": "pg_history"},
    ):
        with pytest.raises(InvalidArgumentError):
            await advisor.suggest_indexes(object(), **bad)  # type: ignore[arg-type]


def test_cli_advise_and_report_section(advisor_server: TestServer) -> None:
    import contextlib
    import io

    from pgstatkit.cli import main

    dsn = advisor_server.dsn_for(dbname=DB)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["advise", "--dsn", dsn, "--format", "json", "--max-indexes", "2"])
    assert code == 0
    rows = json.loads(out.getvalue())
    assert len(rows) == 2 and rows[0]["create_statement"].startswith("CREATE INDEX CONCURRENTLY")
    assert rows[0]["statements"][0]["fingerprint"]
    assert rows[0]["source"] == "since_reset" and rows[0]["window_start"]
    table = io.StringIO()
    with contextlib.redirect_stdout(table):
        assert main(["advise", "--dsn", dsn, "--format", "markdown"]) == 0
    assert "line_items" in table.getvalue() and "product_id, warehouse_id" in table.getvalue()
    assert "since reset" in table.getvalue()
    refused = io.StringIO()
    with contextlib.redirect_stdout(refused), contextlib.redirect_stderr(refused):
        code = main(["advise", "--dsn", dsn, "--source", "history", "--since-s", "3600"])
    assert code != 0 and "pgstatkit install" in refused.getvalue()
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        main(["report", "--dsn", dsn, "--format", "json"])
    section = json.loads(report.getvalue())["suggest_indexes"]
    assert [s["columns"] for s in section] == [r["columns"] for r in rows] + [
        s["columns"] for s in section[2:]
    ]


async def test_http_index_suggestions(advisor_server: TestServer) -> None:
    import httpx
    from fastapi import FastAPI

    from pgstatkit.fastapi import create_router

    async with asyncpg.create_pool(
        advisor_server.dsn_for(dbname=DB), min_size=1, max_size=2
    ) as pool:
        app = FastAPI()
        app.include_router(create_router(pool, allow_unauthenticated=True), prefix="/admin")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.get(
                "/admin/performance/index-suggestions",
                params={"max_indexes": 3, "timeout_ms": 20_000},
            )
            assert answer.status_code == 200, answer.text
            found = answer.json()
            assert len(found) == 3
            assert isinstance(found[0]["statements"][0]["queryid"], str)  # 64-bit as text
            assert {s["source"] for s in found} == {"since_reset"}
            no_history = await client.get(
                "/admin/performance/index-suggestions",
                params={"source": "history", "since_s": 3600, "target": "local"},
            )
            assert no_history.status_code == 503, no_history.text
            assert no_history.json()["title"] == "History not installed"
            refused = await client.get(
                "/admin/performance/index-suggestions", params={"max_indexes": 0}
            )
            assert refused.status_code == 422


def test_cli_progress_on_a_terminal_only(
    advisor_server: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib
    import io

    from pgstatkit.cli import main

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    dsn = advisor_server.dsn_for(dbname=DB)
    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["advise", "--dsn", dsn, "--format", "json"]) == 0
        assert ("explaining the top statements" in stream.getvalue()) is shown


# ------------------------------------------------------------------ history as the source

HISTORY_DB = "pgstatkit_advisor_history"
# runs only before the history window: an index on orders (total) would serve it
EARLY = "SELECT id, status FROM orders WHERE total = {n}"


def early_sql() -> str:
    return "".join(f"{EARLY.format(n=n * 37)};\n" for n in range(1, RUNS + 1))


@pytest.fixture(scope="session")
def history_server(advisor_server: TestServer) -> TestServer:
    """The planted schema in a database of its own, for the history tests: the other
    tests' database keeps no history (their advisor reads since the reset)."""
    server = advisor_server
    if server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{HISTORY_DB}'") != "1":
        server.psql(f"CREATE DATABASE {HISTORY_DB}", dbname="postgres")
        try:
            server.psql(SCHEMA, dbname=HISTORY_DB)
            reset_table_statistics(server, HISTORY_DB)
            if hypopg_available(server):
                server.psql("CREATE EXTENSION hypopg", dbname=HISTORY_DB)
        except Exception:
            server.psql(f"DROP DATABASE {HISTORY_DB}", dbname="postgres")
            raise
    return server


def on_orders_total(suggestions: list[IndexSuggestion]) -> list[IndexSuggestion]:
    return [s for s in suggestions if s.table == "orders" and s.columns[0] == "total"]


async def test_history_window_is_the_workload(history_server: TestServer) -> None:
    """Two snapshots around the planted workload: the advisor reads the history and
    recovers the planted indexes from the window alone. A statement that ran only
    before the first snapshot is the basis of a suggestion when the advisor falls back
    to the counters since the reset (no reset in between), and not with the history;
    a window that holds only it suggests only its index."""
    server = history_server
    target = f"advisor-{os.urandom(4).hex()}"
    workload = workload_sql().split("\n", 1)[1]  # without its reset
    server.psql(
        "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database"
        " WHERE datname = current_database();\n" + early_sql(),
        dbname=HISTORY_DB,
    )
    conn = await asyncpg.connect(server.dsn_for(dbname=HISTORY_DB))
    try:
        await stats.install(conn)
        first = await history.snapshot(conn, target=target)
        assert first.status == "baseline"
        server.psql(workload, dbname=HISTORY_DB)
        second = await history.snapshot(conn, target=target)

        found = await advisor.suggest_indexes(
            conn, target=target, max_indexes=10, timeout_ms=20_000
        )
        report = [(s.table, s.columns, s.source) for s in found]
        print(f"\n{server.id} from history: {report}")
        assert found and all(s.source == "history" for s in found), report
        assert {(s.window_start, s.window_end) for s in found} == {
            (first.captured_at, second.captured_at)
        }
        for name, (_, planted) in PLANTED.items():
            if planted is not None:
                on_table = [s for s in found if s.table == TABLE_OF[name]]
                assert any(leading_matches(s, planted) for s in on_table), (name, report)
        assert not [s for s in found if s.table in ("orders", "settings")], report
        assert len(found) == 4, report
        assert all(h.calls == RUNS for s in found for h in s.statements)
        # per day is per day of the window: the top statement's saving, from its numbers
        top, h = found[0], found[0].statements[0]
        days = max((second.captured_at - first.captured_at).total_seconds(), 60) / 86_400
        expected = h.calls * h.mean_exec_time_ms * h.cost_reduction_ratio / days
        assert h.time_saved_ms_per_day == pytest.approx(expected, rel=1e-9)
        assert top.to_dict()["source"] == "history"
        assert top.to_dict()["window_end"] == second.captured_at.isoformat()

        from_reset = await advisor.suggest_indexes(
            conn, target=target, source="reset", max_indexes=10, timeout_ms=20_000
        )
        report = [(s.table, s.columns, s.source) for s in from_reset]
        print(f"{server.id} since the reset: {report}")
        assert all(s.source == "since_reset" for s in from_reset), report
        [total] = on_orders_total(from_reset)
        assert [h.calls for h in total.statements] == [RUNS]
        assert total.window_start < first.captured_at < total.window_end

        # no history of the target: auto falls back, history says what to do
        other = await advisor.suggest_indexes(
            conn, target="no-such-target", max_indexes=10, timeout_ms=20_000
        )
        assert other and all(s.source == "since_reset" for s in other)
        assert on_orders_total(other)
        with pytest.raises(NoHistoryError, match="take snapshots"):
            await advisor.suggest_indexes(conn, target="no-such-target", source="history")
        assert await leftovers(conn) == (0, 0)

        # a role that may not read the history (no USAGE on the schema): auto falls
        # back and notes why; history raises the server's refusal
        monitor = await asyncpg.connect(server.dsn_for(dbname=HISTORY_DB, user=server.monitor_role))
        try:
            async with open_async(monitor) as session:
                advice = await run_async(session, _advise.advice(target=target))
                assert advice.source == "since_reset", advice
                assert any("not readable" in n for n in advice.notes), advice.notes
                if await monitor.fetchval(
                    "SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'"
                ):
                    # this role may not use hypopg: estimated, said so, never a refusal
                    assert not advice.validated, advice
                    assert any("may not use it" in n for n in advice.notes), advice.notes
                with pytest.raises(InsufficientPrivilegeError):
                    await run_async(
                        session, _advise.advice(target=target, source="history", validate=False)
                    )
            assert await monitor.fetchval("SELECT 1") == 1
        finally:
            await monitor.close()

        # a window holding only a later run of the early statement
        server.psql(early_sql(), dbname=HISTORY_DB)
        third = await history.snapshot(conn, target=target)
        late = await advisor.suggest_indexes(
            conn,
            target=target,
            source="history",
            since=second.captured_at,
            max_indexes=10,
            timeout_ms=20_000,
        )
        report = [(s.table, s.columns, s.source) for s in late]
        print(f"{server.id} window after the second snapshot: {report}")
        assert [s.table for s in late] == ["orders"], report
        assert [s.columns[0] for s in late] == ["total"], report
        assert (late[0].window_start, late[0].window_end) == (
            second.captured_at,
            third.captured_at,
        )
        assert [h.calls for h in late[0].statements] == [RUNS]
    finally:
        await conn.close()


async def test_history_without_install_and_the_since_reset_source(conn: asyncpg.Connection) -> None:
    """The planted database has no history tables: auto reads since the reset and says
    so; source="history" raises HistoryNotInstalledError, which names install."""
    found = await advisor.suggest_indexes(conn, max_indexes=2, timeout_ms=20_000)
    assert found and all(s.source == "since_reset" for s in found)
    assert all(s.window_start < s.window_end for s in found)
    with pytest.raises(HistoryNotInstalledError, match="pgstatkit install"):
        await advisor.suggest_indexes(conn, source="history", timeout_ms=20_000)
    assert await leftovers(conn) == (0, 0)

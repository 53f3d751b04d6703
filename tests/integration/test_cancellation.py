"""A call cancelled at any point leaves the caller's connection as it found it.

On every kind of source (asyncpg, psycopg, SQLAlchemy; connections, pools, sessions,
engines; async and blocking), a pgstatkit call is cancelled -- ``asyncio.wait_for`` with
a tiny timeout for the async API, a SIGINT (``KeyboardInterrupt``) for the blocking
one -- at random moments (hundreds of times), then at each statement that matters
(``BEGIN``, the setup statement, ``PREPARE``, ``EXPLAIN``, the rollback, the cleanups;
twice in one call) through a proxy that interrupts the client when it sends that
statement. After every call, on the same connection: the driver and the server agree
that no transaction is open, no ``PREPARE``d statement is left, the session settings
and advisory locks are unchanged, and the caller's next autocommit write persists.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sqlalchemy as sa

from harness.servers import TestServer

from .victims import (
    KINDS,
    Interrupter,
    Observer,
    Victim,
    check_unchanged,
    open_victim,
)
from .wire_proxy import WireProxy

pytestmark = pytest.mark.server

ITERATIONS = 200

Call = tuple[str, tuple[Any, ...], dict[str, Any]]


def _calls(kind: str) -> dict[str, Call]:
    """The calls a test cancels: a plain read, a generic plan, EXPLAIN ANALYZE, a commit."""
    key = 4_242_000 + KINDS.index(kind)  # one advisory lock key per kind
    lock_sql = f"SELECT pg_advisory_lock({key}), pg_advisory_lock_shared({key}, 8)"
    return {
        "stats": ("database_statistics", (), {}),
        "generic_plan": ("query_plan", ("SELECT $1::int",), {}),
        "analyze_lock": ("query_plan", (lock_sql,), {"analyze": True}),
        "commit": ("reset_query_statistics", (), {"queryid": 1}),
    }


def _sync_call(victim: Victim, call: Call) -> Callable[[], Any]:
    from pgstatkit.sync import stats

    name, args, kwargs = call
    return lambda: getattr(stats, name)(victim.source, *args, **kwargs)


@contextlib.asynccontextmanager
async def _watched(
    server: TestServer, kind: str, dsn: str
) -> AsyncIterator[tuple[Victim, Observer, int]]:
    """The victim on ``dsn``, an observer on the server, and the victim's backend pid."""
    async with Observer.open(server.dsn) as observer, open_victim(kind, dsn) as victim:
        await observer.forget(kind)
        first = await victim.state()
        yield victim, observer, first.pid


async def _duration_s(victim: Victim, call: Call) -> float:
    """The median of five uncancelled runs of ``call``, after one to warm up."""
    durations = []
    for _ in range(6):
        start = time.perf_counter()
        if victim.is_async:
            await victim.call(call[0], *call[1], **call[2])
        else:
            _sync_call(victim, call)()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations[1:])


async def _cancelled_after(victim: Victim, call: Call, delay_s: float, irq: Interrupter) -> bool:
    """Run ``call`` and interrupt it ``delay_s`` in; whether the interruption ended it."""
    if not victim.is_async:
        return irq.call_interrupted_after(delay_s, _sync_call(victim, call))
    try:
        await asyncio.wait_for(victim.call(call[0], *call[1], **call[2]), delay_s)
    except asyncio.TimeoutError:
        return True
    return False


@pytest.mark.parametrize("kind", KINDS)
async def test_random_cancellations_leave_the_connection_as_it_was(
    pg_server: TestServer, kind: str
) -> None:
    rng = random.Random(f"{pg_server.id}-{kind}")
    calls = _calls(kind)
    async with _watched(pg_server, kind, pg_server.dsn) as (victim, observer, pid):
        durations = {name: await _duration_s(victim, call) for name, call in calls.items()}
        assert not await check_unchanged(victim, observer, pid)
        cancelled = 0
        with Interrupter() as irq:
            for i in range(ITERATIONS):
                name = rng.choice(sorted(calls))
                delay_s = rng.uniform(0.0, durations[name])
                cancelled += await _cancelled_after(victim, calls[name], delay_s, irq)
                problems = await check_unchanged(victim, observer, pid)
                assert not problems, (
                    f"call {i} ({name}) interrupted after {delay_s * 1000:.3f} ms: {problems}"
                )
    assert cancelled >= ITERATIONS // 4, f"only {cancelled} of {ITERATIONS} calls were cancelled"


# ------------------------------------------------------------------------- each statement

# scenario -> (call, patterns of the statements to interrupt at, in order)
SCENARIOS: dict[str, tuple[str, tuple[str, ...]]] = {
    "begin": ("generic_plan", ("^BEGIN",)),
    "setup": ("generic_plan", ("prev_statement_timeout",)),
    "probe": ("generic_plan", ("AS pgss_loaded",)),
    "prepare": ("generic_plan", ("^PREPARE .*pgstatkit_plan_",)),
    "plan_cache_mode": ("generic_plan", ("plan_cache_mode",)),
    "explain": ("generic_plan", ("^EXPLAIN",)),
    "deallocate": ("generic_plan", ("^DEALLOCATE .*pgstatkit_plan_",)),
    "rollback": ("generic_plan", ("^ROLLBACK",)),
    "explain-then-rollback": ("generic_plan", ("^EXPLAIN", "^ROLLBACK")),
    "explain-then-cleanup": (
        "generic_plan",
        ("^EXPLAIN", "pg_prepared_statements AS p", "^DEALLOCATE .*pgstatkit_plan_"),
    ),
    "lock-snapshot": ("analyze_lock", ("pg_catalog.pg_locks",)),
    "explain-analyze": ("analyze_lock", ("^EXPLAIN",)),
    "explain-analyze-then-unlock": ("analyze_lock", ("^EXPLAIN", "pg_advisory_unlock")),
    "commit": ("commit", ("^COMMIT",)),
}


async def _interrupted_at(
    victim: Victim, call: Call, proxy: WireProxy, patterns: tuple[str, ...]
) -> tuple[bool, list[str]]:
    """Run ``call``, interrupting it at each statement of ``patterns``.

    Returns whether the call ended by the interruption, and the patterns of the
    statements that were never sent (so the scenario did not test what it says).
    """
    if victim.is_async:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(victim.call(call[0], *call[1], **call[2]))
        triggers = [proxy.arm(p, lambda: loop.call_soon_threadsafe(task.cancel)) for p in patterns]
        try:
            await task
            interrupted = False
        except asyncio.CancelledError:
            interrupted = True
    else:
        triggers = [proxy.arm(p, Interrupter.send) for p in patterns]
        try:
            _sync_call(victim, call)()
            interrupted = False
        except KeyboardInterrupt:
            interrupted = True
    proxy.disarm()
    return interrupted, [t.pattern for t in triggers if not t.fired]


@pytest.fixture
def proxy(pg_server: TestServer) -> Any:
    address = urllib.parse.urlsplit(pg_server.dsn)
    assert address.hostname is not None and address.port is not None
    wire = WireProxy(address.hostname, address.port).start()
    yield wire
    wire.stop()


def _through(proxy: WireProxy, server: TestServer) -> str:
    """The server's DSN, pointed at the proxy."""
    return proxy.dsn(server.dsn, urllib.parse.urlsplit(server.dsn).port or 0)


@pytest.mark.parametrize("kind", KINDS)
async def test_cancel_at_each_statement(pg_server: TestServer, proxy: WireProxy, kind: str) -> None:
    calls = _calls(kind)
    dsn = _through(proxy, pg_server)
    failures: dict[str, list[str]] = {}
    async with _watched(pg_server, kind, dsn) as (victim, observer, pid):
        with Interrupter():
            for scenario, (call, patterns) in SCENARIOS.items():
                interrupted, unsent = await _interrupted_at(victim, calls[call], proxy, patterns)
                problems = await check_unchanged(victim, observer, pid)
                if unsent:
                    problems.append(f"never sent: {unsent}")
                if not interrupted:
                    problems.append("the call was not interrupted")
                if problems:
                    failures[scenario] = problems
    assert not failures, "\n".join(f"{name}: {problems}" for name, problems in failures.items())


# ------------------------------------------------------------------------- in a transaction

IN_TRANSACTION_KINDS = (
    "asyncpg",
    "psycopg-async",
    "psycopg",
    "sqlalchemy-async-connection-asyncpg",
    "sqlalchemy-async-connection-psycopg",
    "sqlalchemy-async-session-asyncpg",
    "sqlalchemy-async-session-psycopg",
    "sqlalchemy-connection",
    "sqlalchemy-session",
)

NESTED_SCENARIOS: dict[str, tuple[str, tuple[str, ...]]] = {
    "savepoint": ("generic_plan", ("^SAVEPOINT",)),
    "setup": ("generic_plan", ("prev_statement_timeout",)),
    "probe": ("generic_plan", ("AS pgss_loaded",)),
    "explain": ("generic_plan", ("^EXPLAIN",)),
    "explain-then-cleanup": ("generic_plan", ("^EXPLAIN", "pg_prepared_statements AS p")),
    "rollback-to-savepoint": ("generic_plan", ("^ROLLBACK TO",)),
    "explain-analyze-then-unlock": ("analyze_lock", ("^EXPLAIN", "pg_advisory_unlock")),
    "release": ("commit", ("^RELEASE",)),
}


class CallersTransaction:
    """The caller's own transaction on a victim's connection, whatever its kind."""

    def __init__(self, victim: Victim) -> None:
        self.kind = victim.kind
        self.src = victim.source

    async def execute(self, sql: str) -> Any:
        """Run ``sql``; the result (rows not read). SQLAlchemy begins implicitly."""
        if self.kind == "asyncpg":
            return await self.src.execute(sql)
        if "async" in self.kind:
            return await self.src.execute(sql if self.kind == "psycopg-async" else sa.text(sql))
        return self.src.execute(sql if self.kind == "psycopg" else sa.text(sql))

    async def value(self, sql: str) -> Any:
        """The first column of the first row of ``sql``."""
        if self.kind == "asyncpg":
            return await self.src.fetchval(sql)
        result = await self.execute(sql)
        if self.kind == "psycopg-async":
            return (await result.fetchone())[0]
        if self.kind == "psycopg":
            return result.fetchone()[0]
        return result.scalar()

    async def begin(self) -> None:
        if self.kind in ("asyncpg", "psycopg-async", "psycopg"):  # autocommit connections
            await self.execute("BEGIN")
        await self.execute("CREATE TEMP TABLE caller_work (x int)")
        await self.execute("INSERT INTO caller_work VALUES (1)")
        await self.value("SELECT set_config('statement_timeout', '77s', true)")

    async def rollback(self) -> None:
        if self.kind in ("asyncpg", "psycopg-async", "psycopg"):
            await self.execute("ROLLBACK")
        elif "async" in self.kind:
            await self.src.rollback()
        else:
            self.src.rollback()

    async def problems(self, observer: Observer, pid: int) -> list[str]:
        """What differs from the caller's transaction as it was before the call."""
        problems = []
        seen = await observer.seen(pid, self.kind)
        if seen.state != "idle in transaction":
            problems.append(f"server: backend {pid} is {seen.state!r}")
        if seen.advisory_locks:
            problems.append(f"advisory locks {seen.advisory_locks}")
        try:
            state = await self.value(
                "SELECT current_setting('statement_timeout') || '|' || count(*)::text || '|'"
                " || (SELECT count(*) FROM pg_prepared_statements WHERE from_sql)::text"
                " FROM caller_work"
            )
        except Exception as exc:
            return [*problems, f"the caller's transaction is broken: {exc}"]
        if state != "77s|1|0":
            problems.append(f"statement_timeout|caller's rows|prepared: {state!r}, not '77s|1|0'")
        return problems + await self._savepoint_left()

    async def _savepoint_left(self) -> list[str]:
        """Whether the guard's savepoint is still there (breaks the transaction: last)."""
        name = "pgstatkit_guard" if self.kind.endswith("asyncpg") else "_pg3_1"
        try:
            await self.execute(f"RELEASE SAVEPOINT {name}")
        except Exception:  # "savepoint does not exist": as it should be
            return []
        return [f"savepoint {name} left in the caller's transaction"]


@pytest.mark.parametrize("kind", IN_TRANSACTION_KINDS)
async def test_cancel_inside_the_callers_transaction(
    pg_server: TestServer, proxy: WireProxy, kind: str
) -> None:
    calls = _calls(kind)
    dsn = _through(proxy, pg_server)
    failures: dict[str, list[str]] = {}
    async with _watched(pg_server, kind, dsn) as (victim, observer, pid):
        caller = CallersTransaction(victim)
        with Interrupter():
            for scenario, (call, patterns) in NESTED_SCENARIOS.items():
                await caller.begin()
                interrupted, unsent = await _interrupted_at(victim, calls[call], proxy, patterns)
                problems = await caller.problems(observer, pid)
                await caller.rollback()
                if unsent:
                    problems.append(f"never sent: {unsent}")
                if not interrupted:
                    problems.append("the call was not interrupted")
                if problems:
                    failures[scenario] = problems
    assert not failures, "\n".join(f"{name}: {problems}" for name, problems in failures.items())


# ------------------------------------------------------------------------- psycopg's unread answer


# not a bare SELECT <constant>: pg_stat_statements keeps the first text of a queryid,
# and other tests look for theirs
ALIVE = "SELECT pg_backend_pid() > 0 AS alive"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_an_unread_answer_is_read_before_the_rollback(
    pg_server: TestServer, is_async: bool
) -> None:
    """psycopg can leave an interrupted statement's answer unread (the connection stays
    ACTIVE: seen with its C wait function and KeyboardInterrupt); ``end`` reads it, so
    the guard closes. Here the state is made by hand: a statement sent behind psycopg's
    back, never read."""
    import psycopg

    from pgstatkit.adapters._psycopg import PsycopgAsyncSession, PsycopgSyncSession

    if is_async:
        aconn = await psycopg.AsyncConnection.connect(pg_server.dsn, autocommit=True)
        asession = PsycopgAsyncSession(aconn)
        await asession.begin(commit=False)
        aconn.pgconn.send_query(b"SELECT pg_sleep(0.05)")
        await asession.end(asyncio.CancelledError())
        status = aconn.info.transaction_status.name
        value = (await (await aconn.execute(ALIVE)).fetchone())[0]
        await aconn.close()
    else:
        conn = psycopg.connect(pg_server.dsn, autocommit=True)
        session = PsycopgSyncSession(conn)
        session.begin(commit=False)
        conn.pgconn.send_query(b"SELECT pg_sleep(0.05)")
        session.end(KeyboardInterrupt())
        status = conn.info.transaction_status.name
        value = conn.execute(ALIVE).fetchone()[0]
        conn.close()
    assert (status, value) == ("IDLE", True)

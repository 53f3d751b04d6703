"""EXPLAIN ANALYZE leaves the connection holding exactly the advisory locks it held before.

A statement run by ``query_plan(..., analyze=True)`` can take session-level advisory
locks, which outlive the rollback (transaction-level ones do not). pgstatkit reads the
session's advisory locks before it runs the statement and releases every new one
afterwards, on every kind of source; the caller's own locks stay held. (Through the
admin router: tests/http/test_http_explain_locks.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import psycopg
import pytest

from harness.servers import TestServer
from pgstatkit import stats
from pgstatkit.sync import stats as sync_stats

from .victims import KINDS, Observer, check_unchanged, open_victim

pytestmark = pytest.mark.server

# every flavour: bigint key twice (re-entrant), shared, the (int4, int4) form with keys
# whose oids print above 2^31, and a transaction-level lock (gone with the rollback)
TAKES_LOCKS = (
    "SELECT pg_advisory_lock({key}), pg_advisory_lock({key}), "
    "pg_advisory_lock_shared(-{key}), pg_advisory_lock(-1, -2), "
    "pg_advisory_lock_shared(2147483647, -2147483648), pg_advisory_xact_lock({key} + 1)"
)


@pytest.mark.parametrize("kind", KINDS)
async def test_analyze_releases_the_advisory_locks_it_took(
    pg_server: TestServer, kind: str
) -> None:
    key = 7_000_000 + KINDS.index(kind)
    async with Observer.open(pg_server.dsn) as observer, open_victim(kind, pg_server.dsn) as victim:
        await observer.forget(kind)
        pid = (await victim.state()).pid
        plan = await victim.call("query_plan", TAKES_LOCKS.format(key=key), analyze=True)
        assert plan.analyzed
        assert await check_unchanged(victim, observer, pid) == []


async def _locks(observer: Observer, pid: int) -> list[str]:
    rows = await observer.conn.fetch(
        "SELECT concat_ws(':', objid, mode) AS lock FROM pg_locks"
        " WHERE pid = $1 AND locktype = 'advisory' ORDER BY 1",
        pid,
    )
    return [row["lock"] for row in rows]


class Caller:
    """A plain connection of the caller: asyncpg, or psycopg (autocommit when idle)."""

    def __init__(self, driver: str, conn: Any) -> None:
        self.driver = driver
        self.conn = conn

    async def value(self, sql: str) -> Any:
        if self.driver == "asyncpg":
            return await self.conn.fetchval(sql)
        return self.conn.execute(sql).fetchone()[0]

    async def plan(self, sql: str) -> Any:
        if self.driver == "asyncpg":
            return await stats.query_plan(self.conn, sql, analyze=True)
        return sync_stats.query_plan(self.conn, sql, analyze=True)


@pytest.fixture(params=["asyncpg", "psycopg"])
async def caller(pg_server: TestServer, request: pytest.FixtureRequest) -> AsyncIterator[Caller]:
    if request.param == "asyncpg":
        conn = await asyncpg.connect(pg_server.dsn)
        try:
            yield Caller("asyncpg", conn)
        finally:
            await conn.close()
    else:
        with psycopg.connect(pg_server.dsn, autocommit=True) as sync_conn:
            yield Caller("psycopg", sync_conn)


@pytest.mark.parametrize("in_transaction", [False, True], ids=["idle", "in-transaction"])
async def test_the_callers_own_locks_stay_held(
    pg_server: TestServer, caller: Caller, in_transaction: bool
) -> None:
    """Locks the caller held stay held; a session lock it held is now held twice.

    pg_locks shows a lock once however many times a session took it, so pgstatkit cannot
    tell that the statement took the caller's lock again: it leaves that lock alone, and
    the caller needs one more unlock to release it (as the docs say).
    """
    if in_transaction and caller.driver == "asyncpg":
        await caller.conn.execute("BEGIN")
    elif in_transaction:
        caller.conn.autocommit = False  # the next statement begins a transaction
    pid = int(await caller.value("SELECT pg_backend_pid()"))
    await caller.value("SELECT pg_advisory_lock(801)::text")
    if in_transaction:
        await caller.value("SELECT pg_advisory_xact_lock(802)::text")
    async with Observer.open(pg_server.dsn) as observer:
        before = await _locks(observer, pid)
        assert len(before) == 1 + in_transaction
        await caller.plan("SELECT pg_advisory_lock(801), pg_advisory_lock(803)")
        assert await _locks(observer, pid) == before
        assert await caller.value("SELECT pg_advisory_unlock(801)") is True
        assert await _locks(observer, pid) == before  # taken twice: still held
        assert await caller.value("SELECT pg_advisory_unlock(801)") is True
        assert "801:ExclusiveLock" not in await _locks(observer, pid)
        if in_transaction:
            healthy = await caller.value("SELECT pg_backend_pid()")  # no failed transaction
            assert healthy == pid
            assert "802:ExclusiveLock" in await _locks(observer, pid)

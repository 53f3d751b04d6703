"""A monitoring call leaves the caller's connection as it found it.

Same session settings, same transaction state, the caller's uncommitted work intact,
no leftover savepoints or prepared statements; bounded by a statement timeout; inside
its guard the transaction is read-only with ``search_path`` pinned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from harness.servers import TestServer
from pgstatkit._protocol import Context, Operation, Query, Steps
from pgstatkit._run import run_async, run_sync
from pgstatkit.adapters import open_async, open_sync
from pgstatkit.errors import StatementTimeoutError, TransactionStateError

from .conftest import CONNECTIONS, Client, open_client

pytestmark = pytest.mark.server

CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("slow_queries", (), {"min_duration_ms": 0.0}),
    ("top_queries_by_total_time", (), {}),
    ("queries_with_low_cache_hit", (), {}),
    ("database_statistics", (), {}),
    ("table_statistics", (), {}),
    ("index_usage", (), {}),
    ("query_plan", ("SELECT 1",), {}),
    ("query_plan", ("SELECT $1::int",), {}),  # generic plan: PREPARE / DEALLOCATE
    ("query_plan", ("SELECT $1::int",), {"analyze": True, "params": [1]}),
]
CALL_IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CALLS)]


class Raw:
    """Plain SQL on the one connection under a client, whatever its driver."""

    def __init__(self, client: Client) -> None:
        self.kind = client.id
        self.src = client.source

    async def value(self, sql: str) -> Any:
        """The first column of the first row, or None for a statement without rows."""
        if self.kind == "asyncpg":
            return await self.src.fetchval(sql)
        if self.kind == "psycopg-async":
            cur = await self.src.execute(sql)
            row = await cur.fetchone() if cur.description else None
        elif self.kind == "psycopg":
            cur = self.src.execute(sql)
            row = cur.fetchone() if cur.description else None
        else:
            if self.kind == "sqlalchemy-async-connection":
                result = await self.src.execute(sa.text(sql))
            else:
                result = self.src.execute(sa.text(sql))
            row = result.first() if result.returns_rows else None
        return None if row is None else row[0]

    async def begin(self) -> None:
        if self.kind == "asyncpg":
            await self.src.execute("BEGIN")
        else:  # psycopg and SQLAlchemy begin implicitly on the next statement
            await self.value("SELECT 1")

    async def end(self, *, commit: bool) -> None:
        if self.kind == "asyncpg":
            if self.src.is_in_transaction():
                await self.src.execute("COMMIT" if commit else "ROLLBACK")
            return
        method = getattr(self.src, "commit" if commit else "rollback")
        if self.kind in ("psycopg-async", "sqlalchemy-async-connection"):
            await method()
        else:
            method()

    def in_transaction(self) -> bool:
        if self.kind == "asyncpg":
            return bool(self.src.is_in_transaction())
        if self.kind in ("psycopg", "psycopg-async"):
            return bool(self.src.info.transaction_status.name == "INTRANS")
        return bool(self.src.in_transaction())


@pytest.fixture(params=CONNECTIONS)
async def conn_client(
    pg_server: TestServer, request: pytest.FixtureRequest
) -> AsyncIterator[Client]:
    async for c in open_client(str(request.param), pg_server.dsn):
        yield c


SNAPSHOT = (
    "SELECT current_setting('statement_timeout') || '|' || current_setting('search_path')"
    " || '|' || current_setting('transaction_read_only') || '|'"
    " || (SELECT count(*) FROM pg_prepared_statements WHERE from_sql)::text"
    " || '|' || current_setting('lock_timeout')"
)


@pytest.mark.parametrize(("name", "args", "kwargs"), CALLS, ids=CALL_IDS)
async def test_idle_connection_stays_idle_with_its_settings(
    conn_client: Client, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    raw = Raw(conn_client)
    await raw.begin()
    await raw.value("SELECT set_config('search_path', 'public, pg_catalog', false)")
    await raw.value("SELECT set_config('statement_timeout', '123s', false)")
    await raw.value("SELECT set_config('lock_timeout', '9s', false)")
    await raw.end(commit=True)
    before = await raw.value(SNAPSHOT)
    await raw.end(commit=False)  # psycopg / SQLAlchemy began a transaction for SNAPSHOT
    assert not raw.in_transaction()

    await conn_client(name, *args, **kwargs)

    assert not raw.in_transaction(), "the call left a transaction open"
    assert await raw.value(SNAPSHOT) == before
    assert before.startswith("123s|public, pg_catalog|off|0") and before.endswith("|9s")
    await raw.end(commit=False)


@pytest.mark.parametrize(("name", "args", "kwargs"), CALLS, ids=CALL_IDS)
async def test_callers_transaction_survives_intact(
    conn_client: Client, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    raw = Raw(conn_client)
    await raw.begin()
    await raw.value("CREATE TEMP TABLE caller_work (x int)")
    await raw.value("INSERT INTO caller_work VALUES (42) RETURNING x")
    await raw.value("SELECT set_config('statement_timeout', '77s', true)")
    await raw.value("SELECT set_config('lock_timeout', '7s', true)")
    before = await raw.value(SNAPSHOT)

    await conn_client(name, *args, **kwargs)

    assert raw.in_transaction()
    assert await raw.value(SNAPSHOT) == before
    # still the caller's read-write transaction, with its uncommitted row
    assert await raw.value("INSERT INTO caller_work VALUES (43) RETURNING x") == 43
    assert await raw.value("SELECT sum(x) FROM caller_work") == 85
    await raw.end(commit=False)
    assert not raw.in_transaction()
    assert await raw.value("SELECT to_regclass('pg_temp.caller_work') IS NULL") is True
    await raw.end(commit=False)


async def test_failed_transaction_is_refused_clearly(conn_client: Client) -> None:
    raw = Raw(conn_client)
    await raw.begin()
    with pytest.raises(Exception, match="division by zero"):
        await raw.value("SELECT 1/0")
    with pytest.raises(TransactionStateError, match="roll it back"):
        await conn_client("slow_queries")
    await raw.end(commit=False)
    assert await raw.value("SELECT 7") == 7
    await raw.end(commit=False)


async def test_statement_timeout_bounds_the_call(conn_client: Client) -> None:
    raw = Raw(conn_client)
    with pytest.raises(StatementTimeoutError, match="timeout_ms"):
        await conn_client("query_plan", "SELECT pg_sleep(5)", analyze=True, timeout_ms=200)
    assert not raw.in_transaction()
    assert await raw.value("SELECT current_setting('statement_timeout')") == "0"
    await raw.end(commit=False)


def _probe(*, read_only: bool, pin: bool) -> Operation[str]:
    def steps(ctx: Context) -> Steps[str]:
        result = yield Query(
            "SELECT current_setting('transaction_read_only') || '|' "
            "|| current_setting('statement_timeout') || '|' || current_setting('lock_timeout') "
            "|| '|' || current_setting('search_path')"
        )
        return str(result.rows[0][0])

    return Operation("probe", steps, 4321, read_only=read_only, pin_search_path=pin)


async def test_guard_is_read_only_bounded_and_pinned(pg_server: TestServer) -> None:
    async for c in open_client("asyncpg", pg_server.dsn):
        async with open_async(c.source) as session:
            seen = await run_async(session, _probe(read_only=True, pin=True))
            assert seen == "on|4321ms|4321ms|pg_catalog, pg_temp"
            seen = await run_async(session, _probe(read_only=False, pin=False))
            assert seen == 'off|4321ms|4321ms|"$user", public'
    async for c in open_client("psycopg", pg_server.dsn):
        with open_sync(c.source) as sync_session:
            assert run_sync(sync_session, _probe(read_only=True, pin=True)).startswith("on|")

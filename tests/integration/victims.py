"""Every kind of source a caller can hand pgstatkit, opened so a test can watch the connection.

A :class:`Victim` is one source (``asyncpg``, ``psycopg-async-pool``,
``sqlalchemy-async-engine-asyncpg``...) over exactly one server connection: pools and
engines hold at most one. The victim's connections carry session settings a pgstatkit
call must not change (``statement_timeout`` 123s, a ``search_path``), and psycopg
connections run in autocommit mode, so a statement pgstatkit wrongly left inside its
transaction would be lost with it.

:meth:`Victim.state` reads, through the caller's own object, what the caller would see:
its driver's transaction state, the backend pid, the session settings and the
``PREPARE``d statements; it then writes one row the way the caller writes (asyncpg and
psycopg: autocommit; SQLAlchemy: execute + commit). An :class:`Observer` (a second,
superuser connection) reads the server's side: the backend's transaction state, its
advisory locks, and whether the rows written so far are visible.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import psycopg
import psycopg_pool
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from pgstatkit import stats as async_stats
from pgstatkit.sync import stats as sync_stats

SETTINGS = {"statement_timeout": "123s", "search_path": "public,pg_catalog", "lock_timeout": "45s"}
OPTIONS = "-c statement_timeout=123s -c search_path=public,pg_catalog -c lock_timeout=45s"
BASELINE = "123s|public,pg_catalog|auto|off|off|45s"
LOG_TABLE = "pgstatkit_cancel_log"

ASYNC_KINDS = (
    "asyncpg",
    "asyncpg-pool",
    "psycopg-async",
    "psycopg-async-pool",
    "sqlalchemy-async-connection-asyncpg",
    "sqlalchemy-async-connection-psycopg",
    "sqlalchemy-async-session-asyncpg",
    "sqlalchemy-async-session-psycopg",
    "sqlalchemy-async-engine-asyncpg",
    "sqlalchemy-async-engine-psycopg",
)
SYNC_KINDS = (
    "psycopg",
    "psycopg-pool",
    "sqlalchemy-connection",
    "sqlalchemy-session",
    "sqlalchemy-engine",
)
KINDS = ASYNC_KINDS + SYNC_KINDS
POOLED = (
    "asyncpg-pool",
    "psycopg-async-pool",
    "psycopg-pool",
    "sqlalchemy-async-session-asyncpg",
    "sqlalchemy-async-session-psycopg",
    "sqlalchemy-async-engine-asyncpg",
    "sqlalchemy-async-engine-psycopg",
    "sqlalchemy-session",
    "sqlalchemy-engine",
)


@dataclasses.dataclass(frozen=True)
class State:
    """What the caller sees on its connection after a call (and its write went through)."""

    driver_in_transaction: bool
    pid: int
    settings: str
    prepared: str


def probe_sql(kind: str, i: int) -> str:
    """The caller's write, returning the session's state (literals only: ints and a kind)."""
    return (
        f"INSERT INTO {LOG_TABLE} (kind, i) VALUES ('{kind}', {int(i)}) RETURNING "
        "pg_backend_pid() AS pid, "
        "current_setting('statement_timeout') || '|' || current_setting('search_path') || '|' "
        "|| current_setting('plan_cache_mode') || '|' || current_setting('transaction_read_only')"
        " || '|' || current_setting('default_transaction_read_only')"
        " || '|' || current_setting('lock_timeout') AS settings, "
        "(SELECT coalesce(string_agg(name, ',' ORDER BY name), '') "
        "FROM pg_prepared_statements WHERE from_sql) AS prepared"
    )


def _sa_url(dsn: str, driver: str) -> str:
    return dsn.replace("postgresql://", f"postgresql+{driver}://", 1)


def _sa_connect_args(driver: str) -> dict[str, Any]:
    return {"server_settings": SETTINGS} if driver == "asyncpg" else {"options": OPTIONS}


def _driver_in_transaction(raw: Any) -> bool:
    if isinstance(raw, asyncpg.Connection):
        return bool(raw.is_in_transaction())
    status = raw.info.transaction_status
    return bool(status != psycopg.pq.TransactionStatus.IDLE)


@dataclasses.dataclass
class Victim:
    """One source and the means to look at its connection; see the module docstring."""

    kind: str
    source: Any
    is_async: bool
    _state: Callable[[int], Awaitable[State]]
    writes: int = 0

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``pgstatkit.stats.<name>`` (async kinds) or ``pgstatkit.sync.stats.<name>``."""
        if self.is_async:
            return await getattr(async_stats, name)(self.source, *args, **kwargs)
        return getattr(sync_stats, name)(self.source, *args, **kwargs)

    async def state(self) -> State:
        """The caller's view, then one autocommit-style write (see the module docstring)."""
        self.writes += 1
        return await self._state(self.writes)


# ------------------------------------------------------------------------- factories


@asynccontextmanager
async def _asyncpg(kind: str, dsn: str) -> AsyncIterator[Victim]:
    conn = await asyncpg.connect(dsn, server_settings=SETTINGS)

    async def state(i: int) -> State:
        in_tx = conn.is_in_transaction()
        row = await conn.fetchrow(probe_sql(kind, i))
        return State(in_tx, row["pid"], row["settings"], row["prepared"])

    try:
        yield Victim(kind, conn, True, state)
    finally:
        await conn.close()


@asynccontextmanager
async def _asyncpg_pool(kind: str, dsn: str) -> AsyncIterator[Victim]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1, server_settings=SETTINGS)

    async def state(i: int) -> State:
        async with pool.acquire() as conn:
            in_tx = conn.is_in_transaction()
            row = await conn.fetchrow(probe_sql(kind, i))
        return State(in_tx, row["pid"], row["settings"], row["prepared"])

    try:
        yield Victim(kind, pool, True, state)
    finally:
        await pool.close()


async def _psycopg_state_async(conn: psycopg.AsyncConnection[Any], kind: str, i: int) -> State:
    in_tx = _driver_in_transaction(conn)
    cur = await conn.execute(probe_sql(kind, i))
    row = await cur.fetchone()
    assert row is not None
    return State(in_tx, row[0], row[1], row[2])


def _psycopg_state(conn: psycopg.Connection[Any], kind: str, i: int) -> State:
    in_tx = _driver_in_transaction(conn)
    row = conn.execute(probe_sql(kind, i)).fetchone()
    assert row is not None
    return State(in_tx, row[0], row[1], row[2])


@asynccontextmanager
async def _psycopg_async(kind: str, dsn: str) -> AsyncIterator[Victim]:
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True, options=OPTIONS)
    try:
        yield Victim(kind, conn, True, lambda i: _psycopg_state_async(conn, kind, i))
    finally:
        await conn.close()


@asynccontextmanager
async def _psycopg_async_pool(kind: str, dsn: str) -> AsyncIterator[Victim]:
    kwargs = {"autocommit": True, "options": OPTIONS}
    pool = psycopg_pool.AsyncConnectionPool(dsn, min_size=1, max_size=1, kwargs=kwargs, open=False)
    await pool.open(wait=True)

    async def state(i: int) -> State:
        async with pool.connection() as conn:
            return await _psycopg_state_async(conn, kind, i)

    try:
        yield Victim(kind, pool, True, state)
    finally:
        await pool.close()


@asynccontextmanager
async def _psycopg(kind: str, dsn: str) -> AsyncIterator[Victim]:
    conn = psycopg.connect(dsn, autocommit=True, options=OPTIONS)
    try:
        yield Victim(kind, conn, False, lambda i: _aw(_psycopg_state(conn, kind, i)))
    finally:
        conn.close()


@asynccontextmanager
async def _psycopg_pool(kind: str, dsn: str) -> AsyncIterator[Victim]:
    kwargs = {"autocommit": True, "options": OPTIONS}
    pool = psycopg_pool.ConnectionPool(dsn, min_size=1, max_size=1, kwargs=kwargs, open=False)
    pool.open(wait=True)

    def state(i: int) -> State:
        with pool.connection() as conn:
            return _psycopg_state(conn, kind, i)

    try:
        yield Victim(kind, pool, False, lambda i: _aw(state(i)))
    finally:
        pool.close()


async def _aw(value: State) -> State:
    return value


async def _sa_state_async(conn: AsyncConnection, kind: str, i: int) -> State:
    raw = (await conn.get_raw_connection()).driver_connection
    in_tx = _driver_in_transaction(raw) or conn.in_transaction()
    row = (await conn.execute(sa.text(probe_sql(kind, i)))).one()
    await conn.commit()
    return State(in_tx, row.pid, row.settings, row.prepared)


@asynccontextmanager
async def _sa_async(kind: str, dsn: str) -> AsyncIterator[Victim]:
    driver = kind.rsplit("-", 1)[1]
    engine = create_async_engine(
        _sa_url(dsn, driver), pool_size=1, max_overflow=0, connect_args=_sa_connect_args(driver)
    )

    async def pooled_state(i: int) -> State:
        async with engine.connect() as conn:
            return await _sa_state_async(conn, kind, i)

    try:
        if "-connection-" in kind:
            async with engine.connect() as conn:
                yield Victim(kind, conn, True, lambda i: _sa_state_async(conn, kind, i))
        elif "-session-" in kind:
            async with AsyncSession(engine) as session:
                yield Victim(kind, session, True, pooled_state)
        else:
            yield Victim(kind, engine, True, pooled_state)
    finally:
        await engine.dispose()


def _sa_state(conn: sa.Connection, kind: str, i: int) -> State:
    raw = conn.connection.driver_connection
    in_tx = _driver_in_transaction(raw) or conn.in_transaction()
    row = conn.execute(sa.text(probe_sql(kind, i))).one()
    conn.commit()
    return State(in_tx, row.pid, row.settings, row.prepared)


@asynccontextmanager
async def _sa_sync(kind: str, dsn: str) -> AsyncIterator[Victim]:
    engine = sa.create_engine(
        _sa_url(dsn, "psycopg"), pool_size=1, max_overflow=0, connect_args={"options": OPTIONS}
    )

    def pooled_state(i: int) -> State:
        with engine.connect() as conn:
            return _sa_state(conn, kind, i)

    try:
        if kind == "sqlalchemy-connection":
            with engine.connect() as conn:
                yield Victim(kind, conn, False, lambda i: _aw(_sa_state(conn, kind, i)))
        elif kind == "sqlalchemy-session":
            with Session(engine) as session:
                yield Victim(kind, session, False, lambda i: _aw(pooled_state(i)))
        else:
            yield Victim(kind, engine, False, lambda i: _aw(pooled_state(i)))
    finally:
        engine.dispose()


_FACTORIES: dict[str, Callable[[str, str], AbstractAsyncContextManager[Victim]]] = {
    "asyncpg": _asyncpg,
    "asyncpg-pool": _asyncpg_pool,
    "psycopg-async": _psycopg_async,
    "psycopg-async-pool": _psycopg_async_pool,
    "psycopg": _psycopg,
    "psycopg-pool": _psycopg_pool,
    "sqlalchemy-connection": _sa_sync,
    "sqlalchemy-session": _sa_sync,
    "sqlalchemy-engine": _sa_sync,
}


def open_victim(kind: str, dsn: str) -> AbstractAsyncContextManager[Victim]:
    """The victim of ``kind`` on ``dsn`` (closed on exit)."""
    factory = _FACTORIES.get(kind, _sa_async)
    return factory(kind, dsn)


# ------------------------------------------------------------------------- observer


@dataclasses.dataclass(frozen=True)
class Seen:
    """The server's side of a victim's connection."""

    state: str | None  # pg_stat_activity.state; None: no such backend any more
    advisory_locks: tuple[str, ...]
    rows: int  # rows of the victim's kind in the log table


class Observer:
    """A superuser connection that looks at a victim's backend from outside."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    @classmethod
    @asynccontextmanager
    async def open(cls, dsn: str) -> AsyncIterator[Observer]:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} (kind text NOT NULL, i int NOT NULL)"
            )
            yield cls(conn)
        finally:
            await conn.close()

    async def forget(self, kind: str) -> None:
        await self.conn.execute(f"DELETE FROM {LOG_TABLE} WHERE kind = $1", kind)

    async def seen(self, pid: int, kind: str) -> Seen:
        row = await self.conn.fetchrow(
            "SELECT (SELECT a.state FROM pg_stat_activity AS a WHERE a.pid = $1) AS state, "
            "ARRAY(SELECT concat_ws(':', l.classid, l.objid, l.objsubid, l.mode) "
            "      FROM pg_locks AS l WHERE l.pid = $1 AND l.locktype = 'advisory' "
            "      ORDER BY 1) AS locks, "
            f"(SELECT count(*) FROM {LOG_TABLE} WHERE kind = $2) AS rows",
            pid,
            kind,
        )
        return Seen(row["state"], tuple(row["locks"]), row["rows"])


async def check_unchanged(
    victim: Victim, observer: Observer, pid: int, locks: tuple[str, ...] = ()
) -> list[str]:
    """What differs from a connection left as it was found (empty when nothing does)."""
    problems = []
    seen = await observer.seen(pid, victim.kind)
    # 'active' right after an interrupted call is the driver's cancel request or a pool's
    # reset query (asyncpg's release is shielded and finishes after the caller's
    # CancelledError) still running; the caller's next use of the source waits for it.
    # It settles; what is left behind ('idle in transaction', a lock) does not.
    deadline = asyncio.get_running_loop().time() + 5.0
    while seen.state == "active" and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
        seen = await observer.seen(pid, victim.kind)
    if seen.state != "idle":
        problems.append(f"server: backend {pid} is {seen.state!r}, not 'idle'")
    if seen.advisory_locks != locks:
        problems.append(f"advisory locks {seen.advisory_locks}, expected {locks}")
    try:
        state = await victim.state()
    except Exception as exc:  # a write refused (read-only transaction left open...)
        return [*problems, f"the caller's write failed: {type(exc).__name__}: {exc}"]
    if state.driver_in_transaction:
        problems.append("the driver thinks the connection is in a transaction")
    if state.pid != pid:
        problems.append(f"the connection was replaced (pid {state.pid}, was {pid})")
    if state.settings != BASELINE:
        problems.append(f"settings {state.settings!r}, expected {BASELINE!r}")
    if state.prepared:
        problems.append(f"prepared statements left: {state.prepared}")
    rows = (await observer.seen(state.pid, victim.kind)).rows
    if rows != victim.writes:
        problems.append(f"{victim.writes - rows} of the caller's writes were lost")
    return problems


# ------------------------------------------------------------------------- interrupting


class Interrupter:
    """Sends SIGINT to the main thread (the blocking analogue of cancelling a task).

    While it is active, SIGINT raises ``KeyboardInterrupt`` and counts the deliveries, so
    a test can wait until a signal it sent has been handled (never leaving one pending).

    A ``KeyboardInterrupt`` that lands while Python runs a weakref callback or a
    ``__del__`` (SQLAlchemy has such callbacks) is lost: Python reports it as "Exception
    ignored" and the interrupted code goes on. That is Python's doing, not the code
    under test's: such reports are counted in :attr:`lost`, other unraisable
    exceptions still reach pytest.
    """

    def __init__(self) -> None:
        self.delivered = 0
        self.lost = 0
        self._previous: Any = None
        self._previous_hook: Any = None

    def __enter__(self) -> Interrupter:
        self._previous = signal.signal(signal.SIGINT, self._handler)
        self._previous_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        return self

    def __exit__(self, *exc_info: object) -> None:
        signal.signal(signal.SIGINT, self._previous)
        sys.unraisablehook = self._previous_hook

    def _unraisable(self, unraisable: Any) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            self.lost += 1
        else:
            self._previous_hook(unraisable)

    def _handler(self, signum: int, frame: object) -> None:
        self.delivered += 1
        raise KeyboardInterrupt

    @staticmethod
    def send() -> None:
        """Signal the main thread (from any thread)."""
        ident = threading.main_thread().ident
        assert ident is not None
        signal.pthread_kill(ident, signal.SIGINT)

    def call_interrupted_after(self, delay_s: float, call: Callable[[], Any]) -> bool:
        """Run ``call`` with a SIGINT ``delay_s`` in; whether it ended by the interrupt."""
        expected = self.delivered + 1
        timer = threading.Timer(delay_s, self.send)
        completed = False
        try:
            timer.start()
            try:
                call()
                completed = True
            finally:
                while self.delivered < expected:  # the signal may come after the call
                    time.sleep(0.0002)
        except KeyboardInterrupt:
            pass
        timer.join()
        return not completed

"""SQLAlchemy adapter: connections, sessions and engines, async and sync.

pgstatkit runs on the driver connection underneath SQLAlchemy (asyncpg or psycopg 3),
through that driver's adapter, and leaves it in the state it found it in, so
SQLAlchemy's own bookkeeping stays right:

- a ``Connection`` / ``AsyncConnection``: its driver connection (a savepoint if a
  transaction is open);
- a ``Session`` / ``AsyncSession`` inside a transaction: the session's connection;
  outside one: a fresh connection from the session's engine (the session is not
  touched, so it does not autobegin);
- an ``Engine`` / ``AsyncEngine``: a connection from the engine's pool.

When a call fails and leaves the driver connection closed (the server terminated the
backend, the network dropped, a driver closed it after a failed cancellation), the
SQLAlchemy connection is invalidated, as SQLAlchemy's own execution path does on a
disconnect error: its pool drops the dead connection and the next checkout opens a
fresh one. Without this, SQLAlchemy would never learn of the failure (pgstatkit does
not go through its execution path) and would hand the dead asyncpg connection out
again and again.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from pgstatkit.adapters._base import AsyncSession as AsyncAdapterSession
from pgstatkit.adapters._base import SyncSession

__all__ = ["open_async", "open_sync"]

_DRIVERS = "SQLAlchemy must use the asyncpg or psycopg (3) driver"


def _unsupported(driver_connection: object) -> TypeError:
    kind = type(driver_connection)
    return TypeError(f"{_DRIVERS}, got a {kind.__module__}.{kind.__qualname__} connection")


def _async_driver_session(driver_connection: Any) -> AsyncAdapterSession:
    module = type(driver_connection).__module__.partition(".")[0]
    if module == "asyncpg":
        from pgstatkit.adapters._asyncpg import AsyncpgSession

        return AsyncpgSession(driver_connection)
    if module == "psycopg":
        from pgstatkit.adapters._psycopg import PsycopgAsyncSession

        return PsycopgAsyncSession(driver_connection)
    raise _unsupported(driver_connection)


def _sync_driver_session(driver_connection: Any) -> SyncSession:
    module = type(driver_connection).__module__.partition(".")[0]
    if module == "psycopg":
        from pgstatkit.adapters._psycopg import PsycopgSyncSession

        return PsycopgSyncSession(driver_connection)
    raise _unsupported(driver_connection)


@asynccontextmanager
async def _async_connection(conn: AsyncConnection) -> AsyncIterator[AsyncAdapterSession]:
    """The driver session under ``conn``; ``conn`` is invalidated if the call loses it."""
    raw = await conn.get_raw_connection()
    session = _async_driver_session(raw.driver_connection)
    try:
        yield session
    except BaseException:
        if session.is_closed() and not conn.invalidated:
            with contextlib.suppress(Exception):
                await conn.invalidate()
        raise


@asynccontextmanager
async def _async_engine(engine: AsyncEngine) -> AsyncIterator[AsyncAdapterSession]:
    async with engine.connect() as conn, _async_connection(conn) as session:
        yield session


@asynccontextmanager
async def _async_session(session: AsyncSession) -> AsyncIterator[AsyncAdapterSession]:
    if session.in_transaction():
        async with _async_connection(await session.connection()) as adapter_session:
            yield adapter_session
        return
    bind = session.bind
    if not isinstance(bind, AsyncEngine):
        sync_bind = session.sync_session.get_bind()
        bind = AsyncEngine(sync_bind if isinstance(sync_bind, Engine) else sync_bind.engine)
    async with _async_engine(bind) as adapter_session:
        yield adapter_session


@contextmanager
def _connection(conn: Connection) -> Iterator[SyncSession]:
    """The driver session under ``conn``; ``conn`` is invalidated if the call loses it."""
    session = _sync_driver_session(conn.connection.driver_connection)
    try:
        yield session
    except BaseException:
        if session.is_closed() and not conn.invalidated:
            with contextlib.suppress(Exception):
                conn.invalidate()
        raise


@contextmanager
def _engine(engine: Engine) -> Iterator[SyncSession]:
    with engine.connect() as conn, _connection(conn) as session:
        yield session


@contextmanager
def _session(session: Session) -> Iterator[SyncSession]:
    if session.in_transaction():
        with _connection(session.connection()) as adapter_session:
            yield adapter_session
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _engine(engine) as adapter_session:
        yield adapter_session


def open_async(source: Any) -> AbstractAsyncContextManager[AsyncAdapterSession]:
    """A session over an ``AsyncConnection``, ``AsyncSession`` or ``AsyncEngine``."""
    if isinstance(source, AsyncConnection):
        return _async_connection(source)
    if isinstance(source, AsyncSession):
        return _async_session(source)
    return _async_engine(source)


def open_sync(source: Any) -> AbstractContextManager[SyncSession]:
    """A session over a ``Connection``, ``Session`` or ``Engine``."""
    if isinstance(source, Connection):
        return _connection(source)
    if isinstance(source, Session):
        return _session(source)
    return _engine(source)

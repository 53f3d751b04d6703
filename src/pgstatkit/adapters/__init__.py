"""Driver adapters: the only modules of pgstatkit that import a database driver.

:func:`open_async` / :func:`open_sync` pick the adapter for what the caller passed and
return a context manager yielding a session (see :mod:`pgstatkit.adapters._base`).
Drivers are imported only when the caller's object comes from them: the type checks
look the driver up in ``sys.modules``, which holds it whenever such an object exists.
"""

from __future__ import annotations

import sys
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any

from pgstatkit.adapters._base import AsyncSession, SyncSession

__all__ = [
    "ASYNC_SOURCES",
    "SYNC_SOURCES",
    "AsyncSession",
    "SyncSession",
    "open_async",
    "open_sync",
]

ASYNC_SOURCES = (
    "asyncpg Connection or Pool; psycopg AsyncConnection or AsyncConnectionPool; "
    "SQLAlchemy AsyncConnection, AsyncSession or AsyncEngine"
)
SYNC_SOURCES = (
    "psycopg Connection or ConnectionPool; SQLAlchemy Connection, Session or Engine "
    "(with the psycopg driver)"
)


def _is(obj: object, module: str, *names: str) -> bool:
    """Whether ``obj`` is an instance of ``module.name`` for one of ``names``."""
    mod = sys.modules.get(module)
    if mod is None:
        return False
    classes = tuple(cls for cls in (getattr(mod, n, None) for n in names) if isinstance(cls, type))
    return bool(classes) and isinstance(obj, classes)


def _describe(obj: object) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def open_async(source: Any) -> AbstractAsyncContextManager[AsyncSession]:
    """The adapter session for ``source`` (async API).

    Raises:
        TypeError: ``source`` is none of :data:`ASYNC_SOURCES`.
    """
    if _is(source, "asyncpg", "Connection", "Pool") or _is(
        source, "asyncpg.pool", "PoolConnectionProxy"
    ):
        from pgstatkit.adapters import _asyncpg

        return _asyncpg.open_session(source)
    if _is(source, "psycopg", "AsyncConnection") or _is(
        source, "psycopg_pool", "AsyncConnectionPool"
    ):
        from pgstatkit.adapters import _psycopg

        return _psycopg.open_async(source)
    if _is(source, "sqlalchemy.ext.asyncio", "AsyncConnection", "AsyncSession", "AsyncEngine"):
        from pgstatkit.adapters import _sqlalchemy

        return _sqlalchemy.open_async(source)
    hint = ""
    if _is(source, "psycopg", "Connection") or _is(source, "psycopg_pool", "ConnectionPool"):
        hint = "; for a blocking connection use pgstatkit.sync.stats"
    elif _is(source, "sqlalchemy.engine", "Connection", "Engine") or _is(
        source, "sqlalchemy.orm", "Session"
    ):
        hint = "; for a blocking SQLAlchemy object use pgstatkit.sync.stats"
    raise TypeError(f"expected an {ASYNC_SOURCES}; got {_describe(source)}{hint}")


def open_sync(source: Any) -> AbstractContextManager[SyncSession]:
    """The adapter session for ``source`` (blocking API).

    Raises:
        TypeError: ``source`` is none of :data:`SYNC_SOURCES`.
    """
    if _is(source, "psycopg", "Connection") or _is(source, "psycopg_pool", "ConnectionPool"):
        from pgstatkit.adapters import _psycopg

        return _psycopg.open_sync(source)
    if _is(source, "sqlalchemy.engine", "Connection", "Engine") or _is(
        source, "sqlalchemy.orm", "Session"
    ):
        from pgstatkit.adapters import _sqlalchemy

        return _sqlalchemy.open_sync(source)
    hint = ""
    if (
        _is(source, "asyncpg", "Connection", "Pool")
        or _is(source, "psycopg", "AsyncConnection")
        or _is(source, "sqlalchemy.ext.asyncio", "AsyncConnection", "AsyncSession", "AsyncEngine")
    ):
        hint = "; for an async connection use `from pgstatkit import stats` and await it"
    raise TypeError(f"expected a {SYNC_SOURCES}; got {_describe(source)}{hint}")

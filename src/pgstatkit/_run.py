"""Drive an :class:`~pgstatkit._protocol.Operation` on a driver session.

Two twins with the same shape, :func:`run_async` (:mod:`pgstatkit._run_async`, written
by hand) and :func:`run_sync` (:mod:`pgstatkit._run_sync`, generated from it by
``tools/async_to_sync.py``), sharing :mod:`pgstatkit._drive`: open the guard
(a transaction, or a savepoint inside the caller's transaction), run the setup
statement, feed the operation's steps, close the guard (roll back, or commit), run the
cleanups the steps registered, and translate server errors into pgstatkit errors
(the session describes a driver's exception as a :class:`~pgstatkit._protocol.ServerError`;
the steps receive that, the exit translates it through :mod:`pgstatkit._errors`).
Sessions come from :mod:`pgstatkit.adapters`. Every statement sent carries pgstatkit's
marker comment (:mod:`pgstatkit._own`), so its own entries in ``pg_stat_statements`` can
be left out of results.

Whatever ends a call -- a result, an error, a lost connection, or the caller giving up
(``CancelledError``, e.g. from ``asyncio.wait_for``; ``KeyboardInterrupt`` in the
blocking API) -- the connection ends as it began: the guard is closed and the cleanups
have run before the exception leaves. Opening and closing the guard are shielded
(:mod:`pgstatkit._shield`): an interruption that arrives meanwhile
waits until they are done, then is re-raised, so pgstatkit never has to guess whether
its ``BEGIN`` or ``ROLLBACK`` reached the server. An interruption during a step cancels
that statement (the drivers do this: asyncpg and psycopg send a cancel request and
wait for the server to answer) and goes straight to the close.
"""

from __future__ import annotations

from pgstatkit._run_async import run_async
from pgstatkit._run_sync import run_sync

__all__ = ["run_async", "run_sync"]

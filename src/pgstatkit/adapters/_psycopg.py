"""psycopg 3 adapter: ``AsyncConnection`` / ``AsyncConnectionPool`` and their sync twins.

Transactions use psycopg's own ``transaction()`` (a savepoint when the connection is
already in a transaction; ``force_rollback`` unless the operation commits), so
psycopg's idea of the connection state stays right; the runner enters it in ``begin``
and leaves it in ``end``, passing the call's error so psycopg rolls back. A statement
interrupted by a cancellation or ``KeyboardInterrupt`` is cancelled on the server by
psycopg, which waits for the server's answer before the exception leaves. Queries run
through a raw cursor (``$1`` placeholders) with ``binary=True``, which forces the
extended query protocol: the server refuses more than one statement. ``prepare=False``
keeps pgstatkit's statements out of the connection's prepared statements.

The async session (:mod:`~pgstatkit.adapters._psycopg_async`) is written by hand; the
blocking one (:mod:`~pgstatkit.adapters._psycopg_sync`) is generated from it by
``tools/async_to_sync.py``; what they share is in
:mod:`~pgstatkit.adapters._psycopg_common`.
"""

from __future__ import annotations

from pgstatkit.adapters._psycopg_async import PsycopgAsyncSession, open_async
from pgstatkit.adapters._psycopg_sync import PsycopgSyncSession, open_sync

__all__ = ["PsycopgAsyncSession", "PsycopgSyncSession", "open_async", "open_sync"]

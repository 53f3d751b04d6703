"""pgstatkit: PostgreSQL query-performance monitoring on ``pg_stat_statements``.

Async API::

    from pgstatkit import stats
    slow = await stats.slow_queries(conn, min_duration_ms=500)

Blocking API, same names::

    from pgstatkit.sync import stats
"""

from __future__ import annotations

from pgstatkit import stats
from pgstatkit._version import __version__
from pgstatkit.errors import (
    ExtensionNotInstalledError,
    ExtensionNotLoadedError,
    ExtensionNotSetUpError,
    ExtensionTooOldError,
    InstallRefusedError,
    InsufficientPrivilegeError,
    InvalidArgumentError,
    LockTimeoutError,
    PgStatKitError,
    StatementConflictError,
    StatementPrivilegeError,
    StatementRejectedError,
    StatementTimeoutError,
    TransactionStateError,
    UnsafeQueryError,
)

__all__ = [
    "ExtensionNotInstalledError",
    "ExtensionNotLoadedError",
    "ExtensionNotSetUpError",
    "ExtensionTooOldError",
    "InstallRefusedError",
    "InsufficientPrivilegeError",
    "InvalidArgumentError",
    "LockTimeoutError",
    "PgStatKitError",
    "StatementConflictError",
    "StatementPrivilegeError",
    "StatementRejectedError",
    "StatementTimeoutError",
    "TransactionStateError",
    "UnsafeQueryError",
    "__version__",
    "stats",
]

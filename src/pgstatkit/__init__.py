"""pgstatkit: PostgreSQL query-performance monitoring on ``pg_stat_statements``.

Async API::

    from pgstatkit import stats
    slow = await stats.slow_queries(conn, min_duration_ms=500)

Blocking API, same names::

    from pgstatkit.sync import stats

``import pgstatkit`` is cheap: :mod:`pgstatkit.stats` (and what it needs) is imported on
first use of ``pgstatkit.stats``, and no database driver is imported until a call opens a
connection.
"""

from __future__ import annotations

import importlib

from pgstatkit._version import __version__
from pgstatkit.errors import (
    ExtensionNotInstalledError,
    ExtensionNotLoadedError,
    ExtensionNotSetUpError,
    ExtensionTooOldError,
    ExtraNotInstalledError,
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
    "ExtraNotInstalledError",
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

TYPE_CHECKING = False  # not typing's: `import pgstatkit` does not import typing
if TYPE_CHECKING:
    from types import ModuleType

    from pgstatkit import stats

_LAZY_SUBMODULES = frozenset({"stats"})


def __getattr__(name: str) -> ModuleType:
    """Import :mod:`pgstatkit.stats` on first access (PEP 562)."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"pgstatkit.{name}")
    raise AttributeError(f"module 'pgstatkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

"""The plugin's own connection: one autocommit psycopg connection, imported only once the
plugin is configured and a test is about to run."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pgstatkit._protocol import Operation

__all__ = ["PSYCOPG_MISSING", "connect", "run"]

T = TypeVar("T")

PSYCOPG_MISSING = (
    'psycopg is not installed: pip install "pgstatkit[psycopg]" (the plugin reads the '
    "statistics over its own psycopg connection, whatever driver the tests use)"
)


def connect(dsn: str) -> Any:
    """An autocommit psycopg connection to ``dsn`` (SQLAlchemy-style ``+driver`` dropped).

    Raises:
        ImportError: psycopg is not installed (:data:`PSYCOPG_MISSING` says what to do).
        psycopg.Error: the server cannot be reached.
    """
    try:
        import psycopg
    except ImportError:
        raise ImportError(PSYCOPG_MISSING) from None
    dsn = re.sub(r"^(postgres(?:ql)?)\+[a-z0-9_]+://", r"\1://", dsn.strip())
    return psycopg.connect(
        dsn, autocommit=True, application_name="pgstatkit-pytest", connect_timeout=10
    )


def run(conn: Any, op: Operation[T]) -> T:
    """Run one of pgstatkit's operations on the plugin's connection (through the guard)."""
    from pgstatkit._run import run_sync
    from pgstatkit.adapters import open_sync

    with open_sync(conn) as session:
        return run_sync(session, op)


def server_error_class() -> type[Exception]:
    """psycopg's base exception (a connection that fails or is lost)."""
    import psycopg

    return psycopg.Error

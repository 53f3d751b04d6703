"""Throwaway PostgreSQL clusters for tests and demos (standard library only).

::

    from pgstatkit.testing import Cluster, find_installations, wheel_installations

    installation = (find_installations() + wheel_installations())[0]
    with Cluster(installation) as cluster:  # pg_stat_statements preloaded
        cluster.psql("CREATE EXTENSION pg_stat_statements")
        dsn = cluster.dsn()  # postgresql://postgres@127.0.0.1:PORT/postgres

See :mod:`pgstatkit.testing.cluster` for where binaries are found, running as root
and the teardown guarantees.
"""

from __future__ import annotations

from pgstatkit.testing.cluster import (
    BASE_SETTINGS,
    BINDIRS_ENV,
    OS_USER_ENV,
    PRELOAD_SETTINGS,
    WHEEL_PACKAGES,
    Cluster,
    ClusterError,
    Installation,
    embedded_installation,
    find_installations,
    wheel_installations,
)

__all__ = [
    "BASE_SETTINGS",
    "BINDIRS_ENV",
    "OS_USER_ENV",
    "PRELOAD_SETTINGS",
    "WHEEL_PACKAGES",
    "Cluster",
    "ClusterError",
    "Installation",
    "embedded_installation",
    "find_installations",
    "wheel_installations",
]

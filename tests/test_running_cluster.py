"""``pgstatkit.testing.RunningCluster`` attached to real servers, and ``BaseCluster``.

The servers are the local clusters of the matrix (``pg_server.cluster``): the tests
attach to them by their DSN or by the libpq environment, and check that the cluster
is still running afterwards.
"""

from __future__ import annotations

import secrets
import socket

import psycopg
import pytest

from harness.servers import TestServer
from pgstatkit.testing import BaseCluster, Cluster, ClusterError, RunningCluster, running


@pytest.fixture
def cluster(pg_server: TestServer) -> Cluster:
    if pg_server.cluster is None:
        pytest.skip("needs a local cluster to attach to")
    return pg_server.cluster


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_attach_by_dsn_leaves_the_server_running(cluster: Cluster) -> None:
    marker = f"attach_{secrets.token_hex(4)}"
    with RunningCluster(cluster.dsn()) as server:
        assert (server.major, server.user, server.managed) == (cluster.major, "postgres", False)
        assert server.running
        server.psql('CREATE DATABASE :"db"', variables={"db": marker})
        assert server.psql("SELECT current_database()", dbname=marker) == marker
        assert server.dsn(dbname=marker) == cluster.dsn(dbname=marker)
        with psycopg.connect(server.dsn(dbname=marker)) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (marker,)
        server.stop()  # a no-op, like leaving the block
    assert cluster.running
    assert cluster.psql("SELECT 1", dbname=marker) == "1"
    cluster.psql(f'DROP DATABASE "{marker}"')


def test_attach_by_libpq_environment(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGHOST", str(cluster.socket_dir))
    monkeypatch.setenv("PGPORT", str(cluster.port))
    monkeypatch.setenv("PGUSER", "postgres")
    monkeypatch.setenv("PGDATABASE", "template1")
    server = RunningCluster()  # everything from the environment
    assert server.start() is server
    assert server.user == "postgres"  # asked: the URI names no role
    assert server.major == cluster.major
    assert server.psql("SELECT current_database(), current_user") == "template1|postgres"
    assert server.psql("SELECT current_database()", dbname="postgres") == "postgres"
    with psycopg.connect(server.dsn(dbname="postgres")) as conn:  # postgresql://postgres@/postgres
        row = conn.execute("SELECT current_database(), inet_server_port()").fetchone()
    assert row == ("postgres", None)  # over the Unix socket of PGHOST


def test_psql_errors(cluster: Cluster) -> None:
    server = RunningCluster(cluster.dsn())
    with pytest.raises(ClusterError, match=r"psql failed \(exit 3\).*division by zero"):
        server.psql("SELECT 1/0")
    with pytest.raises(ClusterError, match="psql failed"):
        server.psql("SELECT 1", user="no_such_role")
    with pytest.raises(ValueError, match="psql variable name"):
        server.psql("SELECT 1", variables={"Bad-Name": "x"})


def test_unreachable_server(monkeypatch: pytest.MonkeyPatch) -> None:
    server = RunningCluster.from_address("127.0.0.1", _closed_port(), user="postgres")
    assert not server.running
    with pytest.raises(ClusterError, match="psql failed"), server:
        pass
    with pytest.raises(ClusterError, match="psql failed"):
        _ = server.major
    with pytest.raises(ClusterError, match="could not run /nonexistent/psql"):
        RunningCluster(server.dsn(), psql="/nonexistent/psql").psql("SELECT 1")
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(running, "find_installations", list)
    monkeypatch.setattr(running, "wheel_installations", list)
    with pytest.raises(ClusterError, match="no psql client found"):
        server.psql("SELECT 1")


def _describe(server: BaseCluster) -> str:
    """Code written once for both kinds of server."""
    with server:
        return f"{server.major} {server.user} " + server.psql(
            "SELECT current_database()", dbname="template1", user=server.user
        )


def test_one_interface_for_both(pg_server: TestServer, cluster: Cluster) -> None:
    expected = f"{cluster.major} postgres template1"
    assert _describe(RunningCluster(cluster.dsn())) == expected
    assert cluster.running
    fresh = Cluster(cluster.installation, preload_pg_stat_statements=False)
    assert fresh.managed
    assert _describe(fresh) == expected
    assert not fresh.running  # the temporary one is stopped on leaving the block
    assert isinstance(pg_server.server, BaseCluster)

"""Fixtures of the command-line tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_support import CLI_DB, MARK

from harness.servers import TestServer
from pgstatkit.testing import Cluster


@pytest.fixture(scope="session")
def cli_server(pg_server: TestServer) -> TestServer:
    """``pgstatkit_cli``: a slow statement, a scanned table and an unused index."""
    exists = pg_server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{CLI_DB}'")
    if exists != "1":
        pg_server.psql(f"CREATE DATABASE {CLI_DB}", dbname="postgres")
        pg_server.psql(
            "CREATE EXTENSION pg_stat_statements;\n"
            "CREATE TABLE cli_big AS SELECT g AS id, md5(g::text) AS payload"
            " FROM generate_series(1, 20000) AS g;\n"
            "CREATE INDEX cli_big_payload_unused ON cli_big (payload);\n"
            "VACUUM ANALYZE cli_big;\n",
            dbname=CLI_DB,
        )
    pg_server.psql(
        f"SELECT pg_sleep(0.06) {MARK};\n" * 2
        + f"SELECT count(*) FROM cli_big WHERE id % 7 = 3 {MARK};\n" * 3,
        dbname=CLI_DB,
    )
    return pg_server


@pytest.fixture
def private_server(pg_server: TestServer) -> Iterator[Cluster]:
    """A new cluster of the same PostgreSQL as ``pg_server``, for what would disturb the
    shared one (a server-wide reset); ``pg_stat_statements`` preloaded, not created."""
    if pg_server.cluster is None:
        pytest.skip("needs a local cluster of the server matrix")
    cluster = Cluster(pg_server.cluster.installation, settings={"shared_buffers": "16MB"})
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()

"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest
from cli_support import CLI_DB, MARK

from harness.servers import TestServer


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

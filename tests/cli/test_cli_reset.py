"""``pgstatkit reset``: what it says is what ``pg_stat_statements_reset()`` does.

A full reset forgets the statements of every database on the server (it runs on a
private cluster, not to disturb the shared ones); ``--queryid`` every entry with that
queryid, any user, any database, and says how many there were.
"""

from __future__ import annotations

import json

from cli_support import CLI_DB, dsn, ok, run_cli
from psycopg.conninfo import conninfo_to_dict

from harness.servers import TestServer
from pgstatkit.testing import Cluster

MARK = "/* cli-reset-count */"


def test_full_reset_names_the_whole_server(private_server: Cluster) -> None:
    cluster = private_server
    for db in ("shop", "billing"):
        cluster.psql(f"CREATE DATABASE {db}", dbname="postgres")
        cluster.psql("CREATE EXTENSION pg_stat_statements", dbname=db)
        cluster.psql(f"SELECT 1 {MARK}", dbname=db)
    count = f"SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%{MARK}'"
    assert cluster.psql(count, dbname="billing") == "2"  # both databases' entries
    server = f"the server {cluster.host}:{cluster.port}"

    proc = run_cli("reset", "--dsn", cluster.dsn(dbname="shop"))
    assert proc.returncode == 8
    assert f"all statements of every database on {server}" in proc.stderr
    assert cluster.psql(count, dbname="billing") == "2"

    out = ok(run_cli("reset", "--yes", "--dsn", cluster.dsn(dbname="shop")))
    assert out.startswith(f"reset the statistics of all statements of every database on {server}")
    assert cluster.psql(count, dbname="billing") == "0"  # the other database's too


def test_reset_queryid_counts_every_user_and_database(cli_server: TestServer) -> None:
    other_db = cli_server.dbname
    # A statement of its own shape: pg_stat_statements keeps the first text of a queryid,
    # so a bare SELECT <constant> run earlier by another test would hide the marker.
    probe = f"SELECT pg_catalog.int4smaller(4242, 4343) {MARK}"
    cli_server.psql(probe, dbname=CLI_DB)
    cli_server.psql(probe, dbname=CLI_DB, user=cli_server.monitor_role)
    cli_server.psql(probe, dbname=other_db)
    rows = cli_server.psql(
        "SELECT queryid FROM pg_stat_statements"
        " WHERE query = 'SELECT pg_catalog.int4smaller($1, $2) /* cli-reset-count */'",
        dbname=CLI_DB,
    ).split()
    assert len(rows) == 3
    assert len(set(rows)) == 1
    queryid = rows[0]
    where = conninfo_to_dict(dsn(cli_server))
    server = f"the server {where['host']}:{where['port']}"

    proc = run_cli("reset", "--queryid", queryid, "--dsn", dsn(cli_server))
    assert proc.returncode == 8
    assert f"statement {queryid} on {server}" in proc.stderr
    assert "any user, any database" in proc.stderr

    out = ok(run_cli("reset", "--queryid", queryid, "--yes", "--dsn", dsn(cli_server)))
    assert out.startswith(
        f"reset 3 entries of statement {queryid} (any user, any database) on {server}"
    )
    left = f"SELECT count(*) FROM pg_stat_statements WHERE queryid = {queryid}"
    assert cli_server.psql(left, dbname=CLI_DB) == "0"

    again = run_cli("reset", "--queryid", queryid, "--yes", "--dsn", dsn(cli_server))
    assert ok(again).strip() == f"no statement with queryid {queryid} on {server}; nothing reset"
    data = json.loads(
        ok(
            run_cli(
                "reset", "--queryid", queryid, "--yes", "--format", "json", "--dsn", dsn(cli_server)
            )
        )
    )
    assert data["entries"] == 0
    assert data["entries_complete"] is True
    assert data["scope"] == "statement"
    assert data["queryid"] == int(queryid)

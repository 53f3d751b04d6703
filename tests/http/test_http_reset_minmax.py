"""``POST /performance/reset?minmax_only=true`` on real servers."""

from __future__ import annotations

import secrets

import asyncpg
import pytest
from http_support import AUTH, PREFIX, TOKEN, http_client, make_app

from harness.servers import TestServer
from pgstatkit.fastapi import bearer_token, create_router

URL = f"{PREFIX}/performance/reset"


def test_openapi_documents_minmax_only() -> None:
    router = create_router(lambda: None, auth=bearer_token(TOKEN), enable_reset=True)
    schema = make_app(router).openapi()
    params = {p["name"]: p for p in schema["paths"][URL]["post"]["parameters"]}
    assert params["minmax_only"]["schema"]["type"] == "boolean"
    assert params["minmax_only"]["schema"]["default"] is False
    assert "PostgreSQL 17" in params["minmax_only"]["description"]
    result = schema["components"]["schemas"]["ResetResult"]["properties"]
    assert result["minmax_only"]["type"] == "boolean"


async def test_reset_minmax_only(pg_server: TestServer) -> None:
    table = f"http_minmax_{secrets.token_hex(6)}"
    pg_server.psql(
        f"CREATE TABLE {table} AS SELECT 1 AS x;\n"
        f"SELECT pg_sleep(0.002) FROM {table};\n"
        f"SELECT pg_sleep(0.02) FROM {table};\n"
    )
    probe = (
        "SELECT queryid, calls, min_exec_time > 0 FROM pg_stat_statements"
        f" WHERE query = 'SELECT pg_sleep($1) FROM {table}'"
    )
    queryid, calls, has_min = pg_server.psql(probe).split("|")
    assert (calls, has_min) == ("2", "t")
    pool = await asyncpg.create_pool(pg_server.dsn, min_size=1, max_size=2)
    try:
        router = create_router(pool, auth=bearer_token(TOKEN), enable_reset=True)
        async with http_client(router) as client:
            bad = {"queryid": queryid, "minmax_only": "yes?"}
            r = await client.post(URL, params=bad, headers=AUTH)
            assert r.status_code == 422  # FastAPI: not a boolean
            params = {"queryid": queryid, "minmax_only": "true"}
            r = await client.post(URL, params=params, headers=AUTH)
    finally:
        await pool.close()
    if pg_server.major < 17:
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert "1.11 (PostgreSQL 17)" in r.json()["detail"]
        assert pg_server.psql(probe).split("|")[1:] == ["2", "t"]  # nothing reset
    else:
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["reset"] is True and body["minmax_only"] is True
        assert body["queryid"] == queryid  # a decimal string, as pg_stat_statements has it
        assert isinstance(body["reset_at"], str)
        assert pg_server.psql(probe).split("|")[1:] == ["2", "f"]  # calls kept, min reset
    pg_server.psql(f"DROP TABLE {table}")


@pytest.mark.parametrize("minmax_only", [None, "false"])
async def test_default_is_a_plain_reset(pg_server: TestServer, minmax_only: str | None) -> None:
    table = f"http_plain_{secrets.token_hex(6)}"
    pg_server.psql(f"CREATE TABLE {table} AS SELECT 1 AS x;\nSELECT x FROM {table};\n")
    queryid = pg_server.psql(
        f"SELECT queryid FROM pg_stat_statements WHERE query = 'SELECT x FROM {table}'"
    )
    params = {"queryid": queryid} | ({"minmax_only": minmax_only} if minmax_only else {})
    pool = await asyncpg.create_pool(pg_server.dsn, min_size=1, max_size=2)
    try:
        router = create_router(pool, auth=bearer_token(TOKEN), enable_reset=True)
        async with http_client(router) as client:
            r = await client.post(URL, params=params, headers=AUTH)
    finally:
        await pool.close()
    assert r.status_code == 200, r.text
    assert r.json()["minmax_only"] is False
    gone = f"SELECT count(*) FROM pg_stat_statements WHERE queryid = {int(queryid)}"
    assert pg_server.psql(gone) == "0"  # the whole entry was reset
    pg_server.psql(f"DROP TABLE {table}")

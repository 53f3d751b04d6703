"""64-bit ``queryid``s over HTTP: decimal strings in JSON, exact above 2**53.

A JavaScript client parses JSON numbers as doubles: ``-1118924422343236163`` becomes
``-1118924422343236200``, and a reset by that copied id targets another statement (or
none). The admin API writes every 64-bit identifier as a string and accepts a string
(or an integer) back; the Python API keeps ints.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pydantic
import pytest
from http_support import AUTH, PREFIX, TOKEN, http_client, make_app
from hypothesis import given
from hypothesis import strategies as st

from harness.servers import TestServer
from pgstatkit.fastapi import bearer_token, create_router
from pgstatkit.http._schema import INT64_MAX, INT64_MIN, Int64

TWO_53 = 2**53


def _as_javascript(text: str) -> Any:
    """JSON as a JavaScript client reads it: every number a double."""
    return json.loads(text, parse_int=float)


def _statement_with_a_big_queryid(pg_server: TestServer) -> tuple[str, int]:
    """A table of its own read once, whose statement's queryid is beyond 2**53.

    queryids are hashes: almost all are that large; the loop tries another table when
    one is not.
    """
    for _ in range(50):
        table = f"http_qid_{secrets.token_hex(6)}"
        pg_server.psql(f"CREATE TABLE {table} (id int); SELECT count(*) FROM {table};")
        queryid = int(
            pg_server.psql(
                "SELECT queryid FROM pg_stat_statements"
                f" WHERE query = 'SELECT count(*) FROM {table}'"
            )
        )
        if abs(queryid) > TWO_53:
            return table, queryid
    raise AssertionError("no statement with a queryid beyond 2**53 in 50 tries")


@pytest.fixture
async def pool(pg_server: TestServer) -> AsyncIterator[Any]:
    p = await asyncpg.create_pool(pg_server.dsn, min_size=1, max_size=2)
    try:
        yield p
    finally:
        await p.close()


async def test_queryid_round_trip_above_2_53(pool: Any, pg_server: TestServer) -> None:
    table, queryid = _statement_with_a_big_queryid(pg_server)
    assert float(queryid) != queryid  # a double cannot hold it: the case that broke
    router = create_router(pool, auth=bearer_token(TOKEN), enable_reset=True, query_text="full")
    async with http_client(router) as client:
        r = await client.get(
            f"{PREFIX}/performance/top-queries", params={"limit": 10_000}, headers=AUTH
        )
        assert r.status_code == 200, r.text
        text = f"SELECT count(*) FROM {table}"
        rows = [row for row in _as_javascript(r.text) if row["query"] == text]
        assert [row["queryid"] for row in rows] == [str(queryid)]

        copied = rows[0]["queryid"]  # what a dashboard would send back
        r = await client.post(
            f"{PREFIX}/performance/reset", params={"queryid": copied}, headers=AUTH
        )
        assert r.status_code == 200, r.text
        assert _as_javascript(r.text)["queryid"] == str(queryid)

    left = pg_server.psql(f"SELECT count(*) FROM pg_stat_statements WHERE queryid = {queryid}")
    assert left == "0", "the statement of the copied queryid was not reset"
    assert int(pg_server.psql("SELECT count(*) FROM pg_stat_statements")) > 0  # only it


def test_openapi_declares_queryids_as_strings() -> None:
    router = create_router(lambda: None, auth=bearer_token(TOKEN), enable_reset=True)
    schema = make_app(router).openapi()
    components = schema["components"]["schemas"]
    for model in ("QueryStat", "ResetResult"):
        queryid = components[model]["properties"]["queryid"]
        kinds = [s.get("type") for s in queryid["anyOf"]]
        assert kinds == ["string", "null"], (model, queryid)
        assert "2^53" in queryid["description"]
    reset = schema["paths"][f"{PREFIX}/performance/reset"]["post"]["parameters"]
    param = next(p for p in reset if p["name"] == "queryid")
    assert [s.get("type") for s in param["schema"]["anyOf"]] == ["string", "integer", "null"]


class _Holder(pydantic.BaseModel):
    queryid: Int64


@given(st.integers(min_value=INT64_MIN, max_value=INT64_MAX))
def test_int64_round_trips_as_a_string(value: int) -> None:
    text = _Holder(queryid=value).model_dump_json()
    assert json.loads(text) == {"queryid": str(value)}
    assert _Holder.model_validate_json(text).queryid == value
    assert _Holder.model_validate({"queryid": value}).queryid == value


@pytest.mark.parametrize(
    "value", ["", "1.0", "1e3", " 1", "0x10", "+1", "9223372036854775808", True, 2**63, 1.5]
)
def test_int64_refuses_what_is_not_a_64_bit_integer(value: object) -> None:
    with pytest.raises(pydantic.ValidationError):
        _Holder.model_validate({"queryid": value})

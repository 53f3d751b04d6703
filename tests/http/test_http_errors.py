"""How the admin router answers errors: the caller's mistakes are 4xx, never a paging 503.

Errors caused by the statement given to ``POST /performance/explain`` (a unique
violation of an analyzed INSERT, a subquery returning two rows, parameters the driver
cannot send...) are the caller's: 4xx, logged at INFO. Timeouts are 504 (WARNING); only
what the operator must fix (an unreachable database, pg_stat_statements missing, a
grant missing, the server out of resources) is 503 with an ERROR line. Statuses of
server errors are checked for each SQLSTATE class by a function that raises exactly
that SQLSTATE inside the analyzed statement.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import psycopg_pool
import pydantic
import pytest
from http_support import AUTH, GET_ENDPOINTS, PREFIX, TOKEN, http_client
from hypothesis import given
from hypothesis import strategies as st

from harness.servers import TestServer
from pgstatkit import _validate
from pgstatkit.errors import InvalidArgumentError
from pgstatkit.fastapi import ExplainRequest, bearer_token, create_router

EXPLAIN = f"{PREFIX}/performance/explain"
RAISE_FN = "pgstatkit_test_raise"


def assert_problem(r: httpx.Response, status: int, *, leaks: tuple[str, ...] = ()) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["status"] == status
    for leak in ("Traceback", "postgresql://", "asyncpg", "psycopg", *leaks):
        assert leak not in r.text, (leak, r.text)


def error_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "pgstatkit.fastapi" and r.levelno >= logging.ERROR
    ]


def full_router(source: Any) -> Any:
    return create_router(
        source,
        auth=bearer_token(TOKEN),
        enable_explain=True,
        enable_explain_analyze=True,
        enable_reset=True,
    )


@pytest.fixture(scope="module")
def raise_fn(pg_server: TestServer) -> str:
    """A function that raises the SQLSTATE it is given (PL/pgSQL ``RAISE ... ERRCODE``)."""
    pg_server.psql(
        f"CREATE OR REPLACE FUNCTION public.{RAISE_FN}(code text) RETURNS int"
        " LANGUAGE plpgsql VOLATILE AS $$ BEGIN"
        " RAISE EXCEPTION 'raised on purpose: %', code USING ERRCODE = code; END $$;"
        "CREATE TABLE IF NOT EXISTS public.http_unique (id int PRIMARY KEY);"
        "INSERT INTO public.http_unique VALUES (1) ON CONFLICT DO NOTHING;"
    )
    return RAISE_FN


@pytest.fixture
async def pool(pg_server: TestServer) -> AsyncIterator[Any]:
    p = await asyncpg.create_pool(pg_server.dsn, min_size=1, max_size=2)
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
async def psycopg_source(pg_server: TestServer) -> AsyncIterator[Any]:
    async with psycopg_pool.AsyncConnectionPool(
        pg_server.dsn, min_size=1, max_size=2, open=False
    ) as p:
        yield p


# (SQLSTATE, status): the caller's statement at fault (4xx), or not (5xx)
STATUSES = [
    ("21000", 422),  # cardinality_violation
    ("22012", 422),  # division_by_zero (class 22: data exception)
    ("23505", 422),  # unique_violation (class 23: integrity constraint)
    ("27000", 422),  # triggered_data_change_violation
    ("2F005", 422),  # function executed no return statement
    ("38001", 422),  # containing_sql_not_permitted (external routine)
    ("39P01", 422),  # trigger_protocol_violated
    ("3F000", 422),  # invalid_schema_name
    ("42703", 422),  # undefined_column (class 42: syntax or access rule)
    ("0A000", 422),  # feature_not_supported
    ("44000", 422),  # with_check_option_violation
    ("54001", 422),  # statement_too_complex
    ("55000", 422),  # object_not_in_prerequisite_state (e.g. currval before nextval)
    ("P0001", 422),  # raise_exception in the caller's function
    ("42501", 403),  # insufficient_privilege: the role may not do what the statement does
    ("40001", 409),  # serialization_failure
    ("40P01", 409),  # deadlock_detected
    ("57014", 504),  # query_canceled: statement timeout (or a cancel request)
    ("55P03", 504),  # lock_not_available: lock timeout
    ("53200", 503),  # out_of_memory (class 53: the server's resources)
    ("57P01", 503),  # admin_shutdown (class 57: operator intervention)
    ("58030", 503),  # io_error (class 58: system error)
    ("XX000", 503),  # internal_error
    ("HV000", 503),  # fdw_error: a foreign server failed
    ("72000", 503),  # snapshot_too_old
]


@pytest.mark.parametrize(("sqlstate", "status"), STATUSES, ids=[s for s, _ in STATUSES])
async def test_status_of_each_sqlstate_class(
    pool: Any, raise_fn: str, sqlstate: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    query = f"SELECT public.{raise_fn}($1)"
    with caplog.at_level(logging.INFO, logger="pgstatkit.fastapi"):
        async with http_client(full_router(pool)) as client:
            r = await client.post(
                EXPLAIN, json={"query": query, "analyze": True, "params": [sqlstate]}, headers=AUTH
            )
    assert_problem(r, status, leaks=("raised on purpose", raise_fn))
    if status < 500:
        assert sqlstate in r.json()["detail"]
        assert not error_lines(caplog), error_lines(caplog)
        assert any(rec.levelno == logging.INFO for rec in caplog.records)
    elif status == 504:
        assert not error_lines(caplog), error_lines(caplog)
    else:
        assert error_lines(caplog)


async def test_unique_violation_of_an_analyzed_insert(
    pool: Any, raise_fn: str, caplog: pytest.LogCaptureFixture
) -> None:
    query = "INSERT INTO public.http_unique VALUES (1)"
    with caplog.at_level(logging.INFO, logger="pgstatkit.fastapi"):
        async with http_client(full_router(pool)) as client:
            r = await client.post(EXPLAIN, json={"query": query, "analyze": True}, headers=AUTH)
    assert_problem(r, 422, leaks=("http_unique", "duplicate", "INSERT"))
    assert "23505" in r.json()["detail"]
    assert not error_lines(caplog)


async def test_cardinality_violation(pool: Any, caplog: pytest.LogCaptureFixture) -> None:
    query = "SELECT (SELECT g FROM generate_series(1, 2) AS g)"
    with caplog.at_level(logging.INFO, logger="pgstatkit.fastapi"):
        async with http_client(full_router(pool)) as client:
            r = await client.post(EXPLAIN, json={"query": query, "analyze": True}, headers=AUTH)
    assert_problem(r, 422, leaks=("generate_series", "more than one row"))
    assert "21000" in r.json()["detail"]
    assert not error_lines(caplog)


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("SELECT $1::jsonb", [{"a": 1}]),  # psycopg: cannot adapt type 'dict'
        ("SELECT $1::text", ["a\x00b"]),  # psycopg: text cannot contain NUL bytes
        ("SELECT $1::int", [[1, "a"]]),  # psycopg: cannot dump lists of mixed types
        ("SELECT $1::int", ["abc"]),  # the server: invalid input syntax for type integer
    ],
    ids=["dict", "nul", "mixed-list", "bad-int"],
)
async def test_params_psycopg_cannot_send_are_422(
    psycopg_source: Any, query: str, params: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="pgstatkit.fastapi"):
        async with http_client(full_router(psycopg_source)) as client:
            body = {"query": query, "analyze": True, "params": params}
            r = await client.post(EXPLAIN, json=body, headers=AUTH)
    assert_problem(r, 422, leaks=("adapt", "NUL", "dump", "abc"))
    assert not error_lines(caplog)


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("SELECT $1::jsonb", [{"a": 1}]),  # asyncpg: expected str, got dict
        ("SELECT $1::int", ["abc"]),  # asyncpg: 'str' object cannot be interpreted as an integer
        ("SELECT $1::int8", [2**70]),  # asyncpg: value out of int64 range
        ("SELECT $1::text", ["a\x00b"]),  # the server: invalid byte sequence
    ],
    ids=["dict", "bad-int", "huge-int", "nul"],
)
async def test_params_asyncpg_cannot_send_are_422(
    pool: Any, query: str, params: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="pgstatkit.fastapi"):
        async with http_client(full_router(pool)) as client:
            body = {"query": query, "analyze": True, "params": params}
            r = await client.post(EXPLAIN, json=body, headers=AUTH)
    assert_problem(r, 422, leaks=("expected str", "interpreted", "int64", "abc"))
    assert not error_lines(caplog)


async def test_timeout_of_the_analyzed_statement_is_504_without_an_error_line(
    pool: Any, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"query": "SELECT pg_sleep(2)", "analyze": True, "timeout_ms": 100}
    with caplog.at_level(logging.INFO, logger="pgstatkit.fastapi"):
        async with http_client(full_router(pool)) as client:
            r = await client.post(EXPLAIN, json=body, headers=AUTH)
    assert_problem(r, 504, leaks=("pg_sleep",))
    assert "timeout_ms" in r.json()["detail"]
    assert not error_lines(caplog)


async def test_timeout_on_a_german_server_is_504(pg_server_german: TestServer) -> None:
    p = await asyncpg.create_pool(pg_server_german.dsn, min_size=1, max_size=1)
    try:
        async with http_client(full_router(p)) as client:
            body = {"query": "SELECT pg_sleep(2)", "analyze": True, "timeout_ms": 100}
            r = await client.post(EXPLAIN, json=body, headers=AUTH)
    finally:
        await p.close()
    assert_problem(r, 504, leaks=("Zeitüberschreitung", "storniere"))


async def test_not_loaded_and_not_created_name_both_fixes(
    pg_server_no_preload: TestServer,
) -> None:
    server = pg_server_no_preload
    p = await asyncpg.create_pool(
        server.dsn_for(dbname=server.no_extension_db), min_size=1, max_size=1
    )
    try:
        async with http_client(full_router(p)) as client:
            r = await client.get(f"{PREFIX}/performance/top-queries", headers=AUTH)
    finally:
        await p.close()
    assert_problem(r, 503)
    detail = r.json()["detail"]
    assert "shared_preload_libraries" in detail and "CREATE EXTENSION" in detail


# ----------------------------------------------------------------- no server needed


def offline_router() -> Any:
    return full_router(lambda: None)


@pytest.mark.parametrize(
    "body",
    [
        '{"query": "SELECT 1", "timeout_ms": NaN}',
        '{"query": "SELECT 1", "timeout_ms": Infinity}',
        '{"query": "SELECT 1", "timeout_ms": -Infinity}',
        '{"query": NaN}',
        '{"query": "SELECT 1", "analyze": Infinity}',
        '{"query": "SELECT $1::float8", "params": [NaN]}',
        '{"query": "SELECT 1", "params": NaN}',
        '{"query": "SELECT 1", "extra": NaN}',
    ],
)
async def test_nan_and_infinity_in_the_body_are_422(body: str) -> None:
    async with http_client(offline_router()) as client:
        r = await client.post(
            EXPLAIN, content=body, headers={**AUTH, "content-type": "application/json"}
        )
    assert r.status_code == 422, r.text
    json.loads(r.text, parse_constant=refuse)  # the answer itself is valid JSON
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["code"] == "json_invalid"


def refuse(name: str) -> Any:
    raise AssertionError(f"{name} in a response")


FLOAT_PARAMETERS = [(path, "timeout_ms") for path in GET_ENDPOINTS] + [
    ("/performance/slow-queries", "min_duration_ms"),
    ("/performance/low-cache-hit", "max_cache_hit_ratio"),
]


@pytest.mark.parametrize(("path", "name"), FLOAT_PARAMETERS)
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "-Infinity"])
async def test_non_finite_query_parameters_are_422(path: str, name: str, value: str) -> None:
    async with http_client(offline_router()) as client:
        r = await client.get(PREFIX + path, params={name: value}, headers=AUTH)
        assert r.status_code == 422, r.text
        assert any(e["name"] == name for e in r.json()["errors"]), r.text
        r = await client.post(
            f"{PREFIX}/performance/reset", params={"timeout_ms": value}, headers=AUTH
        )
        assert r.status_code == 422, r.text


@given(st.one_of(st.floats(), st.integers(min_value=-(10**8), max_value=10**8), st.none()))
def test_explain_request_timeout_is_finite_and_in_range(value: float | None) -> None:
    """The model refuses what ``_validate.timeout_ms`` refuses (NaN and infinities too)."""
    try:
        request = ExplainRequest.model_validate({"query": "SELECT 1", "timeout_ms": value})
    except pydantic.ValidationError:
        accepted = False
    else:
        accepted = True
        assert request.timeout_ms == value
    try:
        _validate.timeout_ms(value)
    except InvalidArgumentError:
        valid = False
    else:
        valid = True
    assert accepted == valid, value

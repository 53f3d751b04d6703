"""pgstatkit.fastapi: the admin router through an in-process ASGI client, on real servers."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import psycopg_pool
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from http_support import AUTH, GET_ENDPOINTS, PREFIX, TOKEN, http_client, make_app
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import create_async_engine

from harness.servers import TestServer
from pgstatkit.fastapi import bearer_token, create_router

MARK = "/* pgstatkit-http-probe */"


# ----------------------------------------------------------------- no server needed


def test_router_without_auth_is_refused() -> None:
    with pytest.raises(ValueError, match="auth="):
        create_router(object())


def test_unsupported_source_is_refused() -> None:
    with pytest.raises(TypeError, match="asyncpg"):
        create_router(object(), allow_unauthenticated=True)


def test_router_options_are_checked() -> None:
    auth = bearer_token(TOKEN)
    with pytest.raises(ValueError, match="query_text"):
        create_router(lambda: None, auth=auth, query_text="partial")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_query_length"):
        create_router(lambda: None, auth=auth, max_query_length=0)
    with pytest.raises(ValueError, match="enable_explain"):
        create_router(lambda: None, auth=auth, enable_explain_analyze=True)
    with pytest.raises(ValueError, match="metrics_top_n"):
        create_router(lambda: None, auth=auth, metrics_top_n=0)


@pytest.mark.parametrize("token", ["", "   "])
def test_bearer_token_refuses_an_empty_token(token: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        bearer_token(token)


def test_bearer_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGSTATKIT_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValueError, match="PGSTATKIT_ADMIN_TOKEN"):
        bearer_token()
    monkeypatch.setenv("PGSTATKIT_ADMIN_TOKEN", "")
    with pytest.raises(ValueError, match="empty"):
        bearer_token()
    monkeypatch.setenv("PGSTATKIT_ADMIN_TOKEN", TOKEN)
    assert callable(bearer_token())


async def test_bearer_token_checks_without_a_database() -> None:
    router = APIRouter(dependencies=[Depends(bearer_token(TOKEN))])

    @router.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ok": "yes"}

    transport = httpx.ASGITransport(app=make_app(router))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
            r = await client.get(f"{PREFIX}/ping", headers=headers)
            assert r.status_code == 401
            assert r.headers["www-authenticate"] == "Bearer"
        r = await client.get(f"{PREFIX}/ping", headers=AUTH)
        assert r.status_code == 200


async def test_custom_auth_dependency() -> None:
    async def only_admins(x_role: str | None = None) -> None:
        if x_role != "admin":
            raise HTTPException(status_code=403, detail="admins only")

    router = create_router(lambda: None, auth=only_admins)
    async with http_client(router) as client:
        r = await client.get(f"{PREFIX}/performance/top-queries")
        assert r.status_code == 403


def test_openapi_documents_models_and_limits() -> None:
    router = create_router(
        lambda: None, auth=bearer_token(TOKEN), enable_explain=True, enable_reset=True
    )
    schema = make_app(router).openapi()
    paths = schema["paths"]
    expected = {f"{PREFIX}{p}" for p in GET_ENDPOINTS} | {
        f"{PREFIX}/performance/explain",
        f"{PREFIX}/performance/reset",
    }
    assert expected <= set(paths)
    slow = paths[f"{PREFIX}/performance/slow-queries"]["get"]
    params = {p["name"]: p["schema"] for p in slow["parameters"]}
    assert params["limit"]["minimum"] == 1 and params["limit"]["maximum"] == 10_000
    assert params["min_duration_ms"]["minimum"] == 0
    assert params["min_duration_ms"]["maximum"] == 86_400_000
    timeout = params["timeout_ms"]
    assert timeout["default"] == 5000  # the default is in the schema, not only in prose
    assert timeout["minimum"] == 1 and timeout["maximum"] == 3_600_000
    ratio = paths[f"{PREFIX}/performance/low-cache-hit"]["get"]["parameters"]
    ratio_schema = next(p["schema"] for p in ratio if p["name"] == "max_cache_hit_ratio")
    assert ratio_schema["minimum"] == 0 and ratio_schema["maximum"] == 1
    ok = slow["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["type"] == "array" and ok["items"]["$ref"].endswith("/QueryStat")
    assert "503" in slow["responses"] and "401" in slow["responses"]
    components = schema["components"]["schemas"]
    assert "mean_exec_time_ms" in components["QueryStat"]["properties"]
    assert "cache_hit_ratio" in components["DatabaseStatistics"]["properties"]
    assert "unused" in components["IndexUsage"]["properties"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


# ----------------------------------------------------------------- real servers


@pytest.fixture
async def pool(pg_server: TestServer) -> AsyncIterator[Any]:
    p = await asyncpg.create_pool(pg_server.dsn, min_size=1, max_size=2)
    try:
        yield p
    finally:
        await p.close()


def full_router(source: Any, **options: Any) -> APIRouter:
    return create_router(
        source,
        auth=bearer_token(TOKEN),
        enable_explain=True,
        enable_explain_analyze=True,
        enable_reset=True,
        **options,
    )


async def test_every_endpoint_needs_the_token(pool: Any) -> None:
    requests: list[tuple[str, str, dict[str, Any]]] = [("GET", p, {}) for p in GET_ENDPOINTS]
    requests += [
        ("POST", "/performance/explain", {"json": {"query": "SELECT 1"}}),
        # a queryid nobody has: resets nothing other tests rely on
        ("POST", "/performance/reset", {"params": {"queryid": 4242424242}}),
    ]
    async with http_client(full_router(pool)) as client:
        for method, path, kwargs in requests:
            url = PREFIX + path
            r = await client.request(method, url, **kwargs)
            assert r.status_code == 401, (path, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            r = await client.request(
                method, url, headers={"Authorization": "Bearer wrong"}, **kwargs
            )
            assert r.status_code == 401, (path, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            r = await client.request(method, url, headers=AUTH, **kwargs)
            assert r.status_code == 200, (path, r.text)


async def test_endpoints_return_the_models(pool: Any, pg_server: TestServer) -> None:
    pg_server.psql(f"SELECT pg_sleep(0.05) {MARK}")
    async with http_client(full_router(pool, query_text="full")) as client:
        r = await client.get(
            f"{PREFIX}/performance/slow-queries",
            params={"min_duration_ms": 40, "limit": 10000},
            headers=AUTH,
        )
        assert r.status_code == 200
        rows = r.json()
        # not MARK: statements differing only in comments share one entry and one text
        assert any("pg_sleep" in (row["query"] or "") for row in rows)
        assert all(row["mean_exec_time_ms"] >= 40 for row in rows)

        r = await client.get(f"{PREFIX}/performance/top-queries", params={"limit": 3}, headers=AUTH)
        assert r.status_code == 200 and 1 <= len(r.json()) <= 3

        r = await client.get(
            f"{PREFIX}/performance/low-cache-hit",
            params={"max_cache_hit_ratio": 1, "all_databases": "true"},
            headers=AUTH,
        )
        assert r.status_code == 200
        assert all(row["cache_hit_ratio"] <= 1 for row in r.json())

        r = await client.get(f"{PREFIX}/performance/database-stats", headers=AUTH)
        assert r.status_code == 200
        body = r.json()
        assert body["database"] == "pgstatkit_test" and body["size_bytes"] > 0
        assert body["stats_reset"] is None or isinstance(body["stats_reset"], str)

        pg_server.psql(
            "CREATE TABLE IF NOT EXISTS http_probe (id int PRIMARY KEY, v int);"
            "CREATE INDEX IF NOT EXISTS http_probe_v ON http_probe (v);"
        )
        r = await client.get(
            f"{PREFIX}/performance/table-stats",
            params={"order_by": "name", "limit": 10000},
            headers=AUTH,
        )
        assert r.status_code == 200
        assert any(t["table"] == "http_probe" for t in r.json())

        r = await client.get(f"{PREFIX}/performance/setup", headers=AUTH)
        assert r.status_code == 200
        findings = {f["check"]: f for f in r.json()["findings"]}
        assert findings["shared_preload_libraries"]["severity"] == "ok"
        assert findings["extension"]["severity"] in ("ok", "warning")
        assert {"found", "why", "fix", "restart_required"} <= set(findings["extension"])

        r = await client.get(f"{PREFIX}/performance/index-usage", headers=AUTH)
        assert r.status_code == 200
        assert any(i["index"] == "http_probe_v" and i["unused"] for i in r.json())


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("slow-queries", {"limit": 0}, "limit"),
        ("slow-queries", {"limit": 10001}, "limit"),
        ("slow-queries", {"min_duration_ms": -1}, "min_duration_ms"),
        ("slow-queries", {"min_duration_ms": 86_400_001}, "min_duration_ms"),
        ("top-queries", {"limit": "ten"}, "limit"),
        ("low-cache-hit", {"max_cache_hit_ratio": 2}, "max_cache_hit_ratio"),
        ("low-cache-hit", {"max_cache_hit_ratio": -0.1}, "max_cache_hit_ratio"),
        ("table-stats", {"order_by": "size"}, "order_by"),
        ("index-usage", {"timeout_ms": 0}, "timeout_ms"),
        ("database-stats", {"timeout_ms": 3_600_001}, "timeout_ms"),
    ],
)
async def test_bad_parameters_give_422(
    pool: Any, path: str, params: dict[str, Any], name: str
) -> None:
    async with http_client(full_router(pool)) as client:
        r = await client.get(f"{PREFIX}/performance/{path}", params=params, headers=AUTH)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422 and name in body["detail"]
    assert any(e["in"] == "query" and e["name"] == name for e in body["errors"]), r.text


async def test_pgstatkit_refusals_give_422_problems(pool: Any) -> None:
    async with http_client(full_router(pool)) as client:
        url = f"{PREFIX}/performance/explain"
        r = await client.post(url, json={"query": "SELECT 1; SELECT 2"}, headers=AUTH)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 422 and "statement" in r.json()["detail"]
        # a normalized text cannot be run without params
        r = await client.post(url, json={"query": "SELECT $1::int", "analyze": True}, headers=AUTH)
        assert r.status_code == 422 and "params" in r.json()["detail"]
        # the server rejects the statement: its message (which may echo SQL) stays out
        r = await client.post(
            url, json={"query": "SELECT no_such_column_xyz FROM pg_class"}, headers=AUTH
        )
        assert r.status_code == 422
        assert "42703" in r.json()["detail"] and "no_such_column_xyz" not in r.text
        r = await client.post(url, json={"query": ""}, headers=AUTH)
        assert r.status_code == 422
        r = await client.post(url, json={"query": "SELECT 1", "extra": 1}, headers=AUTH)
        assert r.status_code == 422


async def test_explain_and_reset_are_off_by_default(pool: Any) -> None:
    router = create_router(pool, auth=bearer_token(TOKEN))
    async with http_client(router) as client:
        r = await client.post(
            f"{PREFIX}/performance/explain", json={"query": "SELECT 1"}, headers=AUTH
        )
        assert r.status_code == 404
        r = await client.post(f"{PREFIX}/performance/reset", headers=AUTH)
        assert r.status_code == 404


async def test_analyze_needs_its_own_switch(pool: Any) -> None:
    router = create_router(pool, auth=bearer_token(TOKEN), enable_explain=True)
    async with http_client(router) as client:
        url = f"{PREFIX}/performance/explain"
        r = await client.post(url, json={"query": "SELECT 1", "analyze": True}, headers=AUTH)
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"
        assert "analyze" in r.json()["detail"]
        r = await client.post(url, json={"query": "SELECT 1"}, headers=AUTH)
        assert r.status_code == 200
        assert r.json()["analyzed"] is False and r.json()["node_type"] == "Result"
    async with http_client(full_router(pool)) as client:
        r = await client.post(
            url,
            json={"query": "SELECT $1::int + 1", "analyze": True, "params": [41]},
            headers=AUTH,
        )
        assert r.status_code == 200, r.text
        assert r.json()["analyzed"] is True and r.json()["execution_time_ms"] >= 0


async def test_reset_one_statement(pool: Any, pg_server: TestServer) -> None:
    async with http_client(full_router(pool)) as client:
        r = await client.post(f"{PREFIX}/performance/reset", params={"queryid": 777}, headers=AUTH)
        assert r.status_code == 200
        body = r.json()
        assert body["reset"] is True and body["queryid"] == "777"  # 64-bit ids are strings
        if pg_server.major >= 17:
            assert isinstance(body["reset_at"], str)
        else:
            assert body["reset_at"] is None
        r = await client.post(f"{PREFIX}/performance/reset", params={"queryid": 0}, headers=AUTH)
        assert r.status_code == 422  # pgstatkit: queryid must be non-zero
        assert r.headers["content-type"] == "application/problem+json"


async def test_reset_without_the_grant_is_a_clean_503(pg_server: TestServer) -> None:
    p = await asyncpg.create_pool(
        pg_server.dsn_for(user=pg_server.plain_role), min_size=1, max_size=1
    )
    try:
        async with http_client(full_router(p)) as client:
            r = await client.post(f"{PREFIX}/performance/reset", headers=AUTH)
    finally:
        await p.close()
    assert r.status_code == 503
    assert "GRANT EXECUTE" in r.json()["detail"]


@pytest.mark.parametrize("mode", ["full", "truncate", "hide"])
async def test_query_text_option(pool: Any, pg_server: TestServer, mode: str) -> None:
    long_sql = f"SELECT {' + '.join(['1'] * 60)} AS long_probe {MARK}"
    pg_server.psql(long_sql)
    router = full_router(pool, query_text=mode, max_query_length=40)
    async with http_client(router) as client:
        r = await client.get(
            f"{PREFIX}/performance/top-queries", params={"limit": 10000}, headers=AUTH
        )
    rows = r.json()
    texts = [row["query"] for row in rows]
    if mode == "hide":
        assert all(t is None for t in texts)
    elif mode == "truncate":
        assert all(t is None or len(t) <= 40 for t in texts)
        assert any(t is not None and t.endswith("\u2026") for t in texts)
    else:
        assert any(t is not None and MARK in t for t in texts)


async def test_missing_extension_is_a_503_that_says_what_to_do(pg_server: TestServer) -> None:
    p = await asyncpg.create_pool(
        pg_server.dsn_for(dbname=pg_server.no_extension_db), min_size=1, max_size=1
    )
    try:
        async with http_client(full_router(p)) as client:
            r = await client.get(f"{PREFIX}/performance/slow-queries", headers=AUTH)
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/problem+json"
            body = r.json()
            assert set(body) == {"type", "title", "status", "detail"}
            assert body["status"] == 503 and "CREATE EXTENSION" in body["detail"]
            # statistics that need no extension still work
            r = await client.get(f"{PREFIX}/performance/database-stats", headers=AUTH)
            assert r.status_code == 200
            # metrics still answer, and say the extension is not available
            r = await client.get(f"{PREFIX}/performance/metrics", headers=AUTH)
            assert r.status_code == 200
            values = {
                s.name: s.value
                for f in text_string_to_metric_families(r.text)
                for s in f.samples
                if not s.labels
            }
            assert values["pgstatkit_pg_stat_statements_available"] == 0
            assert values["pgstatkit_up"] == 1
    finally:
        await p.close()


async def test_psycopg_pool_source(pg_server: TestServer) -> None:
    async with (
        psycopg_pool.AsyncConnectionPool(pg_server.dsn, min_size=1, max_size=2, open=False) as p,
        http_client(full_router(p)) as client,
    ):
        r = await client.get(f"{PREFIX}/performance/top-queries", headers=AUTH)
        assert r.status_code == 200 and r.json()
        r = await client.get(f"{PREFIX}/performance/database-stats", headers=AUTH)
        assert r.status_code == 200


async def test_sqlalchemy_engine_source(pg_server: TestServer) -> None:
    url = pg_server.dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url)
    try:
        async with http_client(full_router(engine)) as client:
            r = await client.get(f"{PREFIX}/performance/top-queries", headers=AUTH)
            assert r.status_code == 200 and r.json()
            r = await client.get(f"{PREFIX}/performance/index-usage", headers=AUTH)
            assert r.status_code == 200
    finally:
        await engine.dispose()


async def test_lazy_source_from_app_state(pg_server: TestServer) -> None:
    app = FastAPI()
    app.include_router(
        create_router(lambda: app.state.pool, auth=bearer_token(TOKEN)), prefix=PREFIX
    )
    app.state.pool = await asyncpg.create_pool(pg_server.dsn, min_size=1, max_size=1)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get(f"{PREFIX}/performance/database-stats", headers=AUTH)
        assert r.status_code == 200
    finally:
        await app.state.pool.close()


# ----------------------------------------------------------------- unreachable database

SECRET_PASSWORD = "pw-must-not-leak"
DEAD_DSN = f"postgresql://leaky_user:{SECRET_PASSWORD}@127.0.0.1:1/leaky_db"


def assert_clean_503(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["status"] == 503
    assert "unreachable" in body["detail"]
    for leak in ("127.0.0.1", ":1", SECRET_PASSWORD, "leaky", "Traceback", "postgresql", "Error"):
        assert leak not in r.text, (leak, r.text)


async def _dead_asyncpg() -> Any:
    return await asyncpg.connect(DEAD_DSN, timeout=5)


async def test_unreachable_database_asyncpg(caplog: pytest.LogCaptureFixture) -> None:
    router = full_router(_dead_asyncpg)
    with caplog.at_level(logging.ERROR, logger="pgstatkit.fastapi"):
        async with http_client(router) as client:
            for path in GET_ENDPOINTS:
                assert_clean_503(await client.get(PREFIX + path, headers=AUTH))
            r = await client.post(
                f"{PREFIX}/performance/explain", json={"query": "SELECT 1"}, headers=AUTH
            )
            assert_clean_503(r)
            assert_clean_503(await client.post(f"{PREFIX}/performance/reset", headers=AUTH))
    # the full error is in the service log
    assert any(rec.exc_info for rec in caplog.records)


async def test_unreachable_database_sqlalchemy() -> None:
    engine = create_async_engine(DEAD_DSN.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with http_client(full_router(engine)) as client:
            assert_clean_503(await client.get(f"{PREFIX}/performance/top-queries", headers=AUTH))
            r = await client.get(f"{PREFIX}/performance/database-stats", headers=AUTH)
            assert_clean_503(r)
    finally:
        await engine.dispose()


async def test_unreachable_database_psycopg_pool() -> None:
    async with (
        psycopg_pool.AsyncConnectionPool(
            DEAD_DSN, min_size=1, max_size=1, open=False, timeout=0.5, reconnect_timeout=1
        ) as p,
        http_client(full_router(p)) as client,
    ):
        assert_clean_503(await client.get(f"{PREFIX}/performance/slow-queries", headers=AUTH))


async def test_unexpected_errors_are_a_generic_500() -> None:
    def broken() -> Any:
        raise RuntimeError(f"boom {DEAD_DSN}")

    async with http_client(full_router(broken)) as client:
        r = await client.get(f"{PREFIX}/performance/top-queries", headers=AUTH)
    assert r.status_code == 500
    assert SECRET_PASSWORD not in r.text and "boom" not in r.text
    assert json.loads(r.text)["status"] == 500

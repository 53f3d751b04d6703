"""Every response the admin API declares is what it answers, validated against the schema.

The test walks the OpenAPI document of a router with every route enabled (so a route
added later is walked too): for each operation and each error status it declares, it
provokes that status and validates the body, with its content type, against the
declared schema (JSON Schema 2020-12, the dialect of OpenAPI 3.1, by ``jsonschema``).
A success answer is validated too.

How a status is provoked:

- 401: no token;
- 422: a value the schema refuses, made from the schema (below a minimum, not among the
  choices, not a number...); the problem then names the parameter in ``errors``;
- 503: a source whose database is unreachable (a closed port on 127.0.0.1);
- 504: a real server whose ``pg_extension`` catalog another session holds locked, so
  the call waits until a statement timeout cancels it (see ``slow_pool``);
- 403, 409 and anything else: a request of :data:`SPECIFIC`, per route. A route that
  declares a status no entry provokes fails the test: add one.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from http_support import AUTH, PREFIX, TOKEN, http_client, make_app

from harness.servers import TestServer
from pgstatkit import stats
from pgstatkit.fastapi import bearer_token, create_router

jsonschema = pytest.importorskip("jsonschema")

DEAD_DSN = "postgresql://nobody@127.0.0.1:1/nothing"
RAISE_FN = "pgstatkit_test_raise_schema"

VALID_BODIES: dict[str, dict[str, Any]] = {"ExplainRequest": {"query": "SELECT 1"}}
"""A valid body per request model (by the name of its schema)."""

VALID_PARAMS: dict[str, str] = {"queryid": "4242424242"}
"""Values for optional parameters that keep a valid request harmless (a reset of a
queryid nobody has)."""

Request = dict[str, Any]  # keyword arguments of httpx's request()

SPECIFIC: dict[tuple[str, str, int], tuple[str, Request]] = {
    # (method, path after the prefix, status): (router variant, request)
    ("post", "/performance/explain", 403): (
        "no_analyze",
        {"json": {"query": "SELECT 1", "analyze": True}},
    ),
    ("post", "/performance/explain", 409): (
        "everything",
        {"json": {"query": f"SELECT public.{RAISE_FN}('40001')", "analyze": True}},
    ),
    ("post", "/performance/reset", 422): ("everything", {"params": {"queryid": "0"}}),
    ("post", "/performance/explain", 422): (
        "everything",
        {"json": {"query": "SELECT 1; SELECT 2"}},  # pgstatkit's refusal: no `errors`
    ),
}
"""Requests for what no generic provocation gives (and extra cases of generic statuses:
a value pgstatkit itself refuses)."""

OPTIONS: dict[str, dict[str, Any]] = {
    "everything": {"enable_explain": True, "enable_explain_analyze": True, "enable_reset": True},
    "no_analyze": {"enable_explain": True, "enable_reset": True},
}


def spec() -> dict[str, Any]:
    router = create_router(lambda: None, auth=bearer_token(TOKEN), **OPTIONS["everything"])
    document: dict[str, Any] = make_app(router).openapi()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path after the prefix, operation) of every operation."""
    return [
        (method, path.removeprefix(PREFIX), op)
        for path, methods in document["paths"].items()
        for method, op in methods.items()
    ]


def validate(document: dict[str, Any], op: dict[str, Any], r: httpx.Response) -> None:
    """The response has a declared status and content type, and its body fits."""
    declared = op["responses"].get(str(r.status_code))
    assert declared is not None, f"undeclared status {r.status_code}: {r.text}"
    media = r.headers["content-type"].split(";")[0]
    content = {key.split(";")[0]: value for key, value in declared.get("content", {}).items()}
    assert media in content, (r.status_code, media, r.text)
    schema = {**content[media]["schema"], "components": document["components"]}
    body = r.json() if "json" in media else r.text
    jsonschema.Draft202012Validator(schema).validate(body)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref:
        found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        return found
    return schema


def valid_request(document: dict[str, Any], op: dict[str, Any]) -> Request:
    """A request the schema accepts: required body from VALID_BODIES, harmless params."""
    request: Request = {"headers": dict(AUTH)}
    names = [p["name"] for p in op.get("parameters", [])]
    params = {name: VALID_PARAMS[name] for name in names if name in VALID_PARAMS}
    if params:
        request["params"] = params
    body = op.get("requestBody")
    if body:
        name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert name in VALID_BODIES, f"no valid body for {name}: add one to VALID_BODIES"
        request["json"] = copy.deepcopy(VALID_BODIES[name])
    return request


def _bad_value(schema: dict[str, Any]) -> str | None:
    """A query-string value the parameter's schema refuses, or ``None``."""
    choices = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    for choice in choices:
        if "enum" in choice or "const" in choice:
            return "bogus-value"
        if "minimum" in choice:
            return str(choice["minimum"] - 1)
        if choice.get("type") == "boolean":
            return "maybe"
    if all("pattern" in c or c.get("type") == "integer" for c in choices):
        return "twelve"
    return None


def invalid_request(document: dict[str, Any], op: dict[str, Any]) -> tuple[Request, str]:
    """A request the schema refuses, and the name of the refused value."""
    request = valid_request(document, op)
    for param in op.get("parameters", []):
        bad = _bad_value(param["schema"])
        if bad is not None:
            request.setdefault("params", {})[param["name"]] = bad
            return request, param["name"]
    if "json" in request:
        request["json"] = ["not", "an", "object"]
        return request, ""
    raise AssertionError(f"no value of {op['operationId']} to refuse")


# ------------------------------------------------------------------- the walk


@pytest.fixture
async def slow_pool(pg_server: TestServer) -> AsyncIterator[Any]:
    """Connections whose own statement timeout is 500 ms.

    The guard's setup statement reads ``pg_extension`` before it sets the call's
    ``timeout_ms`` (``SET LOCAL`` inside that statement), so with the catalog locked it
    would wait without end; the connection's own timeout ends the wait (57014, as the
    call's would).
    """
    p = await asyncpg.create_pool(
        pg_server.dsn, min_size=1, max_size=1, server_settings={"statement_timeout": "500"}
    )
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
async def pool(pg_server: TestServer) -> AsyncIterator[Any]:
    pg_server.psql(
        f"CREATE OR REPLACE FUNCTION public.{RAISE_FN}(code text) RETURNS int"
        " LANGUAGE plpgsql VOLATILE AS $$ BEGIN"
        " RAISE EXCEPTION 'raised on purpose: %', code USING ERRCODE = code; END $$;"
    )
    p = await asyncpg.create_pool(pg_server.dsn, min_size=1, max_size=2)
    try:
        yield p
    finally:
        await p.close()


async def _dead() -> Any:
    return await asyncpg.connect(DEAD_DSN, timeout=5)


async def _send(source: Any, variant: str, method: str, path: str, request: Request) -> Any:
    router = create_router(source, auth=bearer_token(TOKEN), **OPTIONS[variant])
    async with http_client(router) as client:
        return await client.request(method.upper(), PREFIX + path, **request)


async def _locked(dsn: str, send: Callable[[], Any]) -> Any:
    """``send()`` while another session holds ``pg_extension`` locked."""
    holder = await asyncpg.connect(dsn)
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE")
            return await send()
    finally:
        await holder.close()


def provocation(
    document: dict[str, Any], method: str, path: str, op: dict[str, Any], status: int
) -> tuple[str, str, Request, str | None]:
    """(source kind, router variant, request, refused name) that should give ``status``:
    source kind ``pool`` (the server), ``dead`` (unreachable) or ``slow`` (locked out)."""
    if (method, path, status) in SPECIFIC:
        variant, request = SPECIFIC[method, path, status]
        return "pool", variant, {"headers": dict(AUTH), **copy.deepcopy(request)}, None
    request = valid_request(document, op)
    if status == 401:
        request.pop("headers")
        return "pool", "everything", request, None
    if status == 422:
        request, name = invalid_request(document, op)
        return "pool", "everything", request, name
    if status == 503:
        return "dead", "everything", request, None
    if status == 504:
        request.setdefault("params", {})["timeout_ms"] = "300"
        if "json" in request:
            request["json"]["timeout_ms"] = 300
        return "slow", "everything", request, None
    pytest.fail(f"{method} {path} declares {status}: add a request to SPECIFIC")


@pytest.fixture
async def history_pool(pg_server: TestServer) -> AsyncIterator[Any]:
    """A database where pgstatkit (and so its history tables) is installed: the history
    routes read their store there."""
    db = "pgstatkit_http_history"
    if pg_server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'") != "1":
        pg_server.psql(f"CREATE DATABASE {db}", dbname="postgres")
    p = await asyncpg.create_pool(pg_server.dsn_for(dbname=db), min_size=1, max_size=2)
    try:
        async with p.acquire() as conn:
            await stats.install(conn)
        yield p
    finally:
        await p.close()


async def test_every_declared_status_is_answered_as_declared(
    pool: Any, slow_pool: Any, history_pool: Any, pg_server: TestServer
) -> None:
    document = spec()
    seen: set[tuple[str, str, int]] = set()
    for method, path, op in operations(document):
        store = history_pool if path.startswith("/performance/history/") else pool
        sources = {"pool": store, "dead": _dead, "slow": slow_pool}
        for status in sorted(int(s) for s in op["responses"] if s.startswith(("4", "5"))):
            kind, variant, request, name = provocation(document, method, path, op, status)

            async def send(kind: str = kind, variant: str = variant, request: Request = request,
                           method: str = method, path: str = path,
                           sources: dict[str, Any] = sources) -> Any:  # fmt: skip
                return await _send(sources[kind], variant, method, path, request)

            r = await (_locked(pg_server.dsn, send) if kind == "slow" else send())
            assert r.status_code == status, (method, path, r.status_code, r.text)
            validate(document, op, r)
            if name is not None:
                assert name in [e["name"] for e in r.json()["errors"]], (method, path, r.text)
            if status == 401:
                assert r.headers["www-authenticate"] == "Bearer"
            seen.add((method, path, status))
        r = await _send(store, "everything", method, path, valid_request(document, op))
        assert r.status_code == 200, (method, path, r.text)
        validate(document, op, r)
    assert {s for *_, s in seen} >= {401, 403, 409, 422, 503, 504}
    assert len({(m, p) for m, p, _ in seen}) == len(operations(document))


def test_the_walk_provokes_a_422_for_every_kind_of_parameter() -> None:
    assert _bad_value({"type": "integer", "minimum": 1, "maximum": 10}) == "0"
    assert _bad_value({"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}]}) == "-1"
    assert _bad_value({"enum": ["a", "b"], "type": "string"}) == "bogus-value"
    assert _bad_value({"type": "boolean", "default": False}) == "maybe"
    assert _bad_value({"anyOf": [{"type": "string", "pattern": "^1$"}, {"type": "null"}]})
    assert _bad_value({"type": "string"}) is None

"""The router's ``include_pgstatkit`` parameter, and the metrics without prometheus-client."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from http_support import AUTH, PREFIX, TOKEN, http_client
from prometheus_client.parser import text_string_to_metric_families

from harness.servers import TestServer
from pgstatkit.fastapi import bearer_token, create_router

MARKER = "pgstatkit:internal"


@pytest.fixture
async def pool(pg_server: TestServer) -> AsyncIterator[Any]:
    p = await asyncpg.create_pool(pg_server.dsn, min_size=1, max_size=2)
    try:
        yield p
    finally:
        await p.close()


async def test_include_pgstatkit_query_parameter(pool: Any) -> None:
    router = create_router(pool, auth=bearer_token(TOKEN), query_text="full")
    async with http_client(router) as client:
        for _ in range(2):  # pgstatkit's own statements are there now
            await client.get(f"{PREFIX}/performance/database-stats", headers=AUTH)
        for path in ("top-queries", "slow-queries?min_duration_ms=0"):
            url = f"{PREFIX}/performance/{path}{'&' if '?' in path else '?'}limit=10000"
            default = (await client.get(url, headers=AUTH)).json()
            assert not [r for r in default if MARKER in (r["query"] or "")]
            everything = (await client.get(f"{url}&include_pgstatkit=true", headers=AUTH)).json()
            assert [r for r in everything if MARKER in (r["query"] or "")]
            assert {"userid", "dbid"} <= set(everything[0])
        r = await client.get(
            f"{PREFIX}/performance/top-queries?include_pgstatkit=maybe", headers=AUTH
        )
        assert r.status_code == 422
        for path in ("table-stats", "index-usage", "metrics"):
            r = await client.get(
                f"{PREFIX}/performance/{path}?include_pgstatkit=true", headers=AUTH
            )
            assert r.status_code == 200, r.text
        metrics = (await client.get(f"{PREFIX}/performance/metrics", headers=AUTH)).text
    assert any(
        f.name == "pgstatkit_statement_calls" for f in text_string_to_metric_families(metrics)
    )


def _without_prometheus_client(code: str) -> subprocess.CompletedProcess[str]:
    prelude = "import sys; sys.modules['prometheus_client'] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, check=False
    )


def test_without_prometheus_client() -> None:
    proc = _without_prometheus_client(
        "import pgstatkit.fastapi as f\n"
        "f.create_router(object, allow_unauthenticated=True, enable_metrics=False)\n"
        "try:\n"
        "    f.create_router(object, allow_unauthenticated=True)\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "try:\n"
        "    import pgstatkit.prometheus\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert proc.returncode == 0, proc.stderr
    router_error, module_error = proc.stdout.splitlines()
    assert 'pip install "pgstatkit[fastapi]"' in router_error
    assert "enable_metrics=False" in router_error
    assert 'pip install "pgstatkit[prometheus]"' in module_error

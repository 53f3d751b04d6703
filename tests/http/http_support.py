"""Helpers of the HTTP tests: an app around a router and an in-process ASGI client.

(No ``__init__.py`` in this directory: a package named ``http`` would shadow the standard
library's. Test modules import this one by its unique name.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI

PREFIX = "/api/v1/admin"
TOKEN = "s3cret-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

GET_ENDPOINTS = (
    "/performance/slow-queries",
    "/performance/top-queries",
    "/performance/low-cache-hit",
    "/performance/database-stats",
    "/performance/table-stats",
    "/performance/index-usage",
    "/performance/setup",
    "/performance/health",
    "/performance/metrics",
)


def make_app(router: APIRouter) -> FastAPI:
    app = FastAPI()
    app.include_router(router, prefix=PREFIX)
    return app


@asynccontextmanager
async def http_client(router: APIRouter) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(router))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client

"""An admin HTTP API for a FastAPI service: ``pgstatkit.fastapi.create_router``.

Extra ``fastapi`` (``pip install "pgstatkit[fastapi]"``); without it, importing this
module raises :class:`ImportError` with that command. Mount the router under a prefix
of your own::

    from fastapi import FastAPI
    from pgstatkit.fastapi import bearer_token, create_router

    app = FastAPI()
    app.include_router(create_router(pool, auth=bearer_token()), prefix="/api/v1/admin")

Secure by default: :func:`create_router` refuses to build a router without an ``auth``
dependency unless ``allow_unauthenticated=True``; ``POST /performance/explain`` and
``POST /performance/reset`` do not exist unless enabled, and ``analyze`` needs its own
switch. Errors are ``application/problem+json`` (RFC 9457) bodies that never carry a
stack trace, SQL text, a DSN or a driver's exception text (a request the schema refuses
is a :class:`ValidationProblem` naming each refused value); the full exception goes to
the ``pgstatkit.fastapi`` logger. 64-bit identifiers (``queryid``) are decimal strings
in JSON. See ``docs/http.md``.

The routes of the reports come from :mod:`pgstatkit.reports`; the implementation lives
in the :mod:`pgstatkit.http` package, and this module is its public import path.
"""

from __future__ import annotations

from pgstatkit.http._auth import TOKEN_ENV, bearer_token
from pgstatkit.http._models import (
    ExplainRequest,
    FieldError,
    Problem,
    QueryTextMode,
    ResetResult,
    ValidationProblem,
)
from pgstatkit.http.router import create_router

__all__ = [
    "TOKEN_ENV",
    "ExplainRequest",
    "FieldError",
    "Problem",
    "QueryTextMode",
    "ResetResult",
    "ValidationProblem",
    "bearer_token",
    "create_router",
]

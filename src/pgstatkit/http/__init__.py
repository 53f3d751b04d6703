"""The admin HTTP API over FastAPI; its public import path is :mod:`pgstatkit.fastapi`.

The package: :mod:`._models` (the request and answer models), :mod:`._auth`
(:func:`bearer_token`), :mod:`._errors` (the one mapping from errors to HTTP statuses,
``application/problem+json``), :mod:`._json` (strict JSON bodies), :mod:`._params`
(the OpenAPI query parameters), :mod:`._routes` (the routes: one per report of
:mod:`pgstatkit.reports`, plus metrics, explain and reset) and :mod:`.router`
(:func:`create_router`).

Extra ``fastapi``: without it, importing this package raises :class:`ImportError` with
the pip command.
"""

from __future__ import annotations

try:
    import fastapi as _fastapi  # noqa: F401 - the extra's check
    import pydantic as _pydantic  # noqa: F401
except ImportError as _exc:  # pragma: no cover - tested in a subprocess
    raise ImportError(
        f"pgstatkit.fastapi needs FastAPI ({_exc.name or 'fastapi'} could not be imported): "
        'pip install "pgstatkit[fastapi]"',
        name=_exc.name,
    ) from _exc

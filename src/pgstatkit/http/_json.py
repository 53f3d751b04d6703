"""Strict JSON request bodies: ``NaN`` and ``Infinity`` are refused at decoding."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from pgstatkit.http._errors import http_problem, validation_problem

__all__ = ["StrictJSONRoute"]


class _NonFiniteNumberError(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NonFiniteNumberError(name)


class _StrictJSONRequest(Request):
    """A request whose JSON body may not hold ``NaN``, ``Infinity`` or ``-Infinity``.

    Python's ``json`` accepts them, JSON does not, and FastAPI's 422 answer echoes the
    offending input: with a non-finite float in it, that answer cannot be encoded and
    the request ends in a 500. Refused at decoding, such a body is FastAPI's own 422
    ``json_invalid`` instead.
    """

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, parse_constant=_refuse_constant)
            except _NonFiniteNumberError as exc:
                text = body.decode("utf-8", errors="replace")
                raise json.JSONDecodeError(
                    f"{exc} is not a JSON number: numbers must be finite", text, 0
                ) from None
        return self._json


class StrictJSONRoute(APIRoute):
    """The router's routes: request bodies are decoded by :class:`_StrictJSONRequest`,
    and the errors FastAPI would answer in its own shape are problem documents, as the
    OpenAPI document declares: a request the schema refuses (422, with the refused
    values in ``errors``) and an ``HTTPException`` of the ``auth`` dependency (401).
    This is the route class, not an exception handler, because a router cannot install
    handlers in the application it is mounted in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_json(request: Request) -> Response:
            try:
                return await handler(_StrictJSONRequest(request.scope, request.receive))
            except RequestValidationError as exc:
                return validation_problem(exc)
            except HTTPException as exc:  # raised by the auth dependency
                return http_problem(exc)

        return strict_json

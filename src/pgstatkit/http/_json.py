"""Strict JSON request bodies: ``NaN`` and ``Infinity`` are refused at decoding."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

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
    """The router's routes: request bodies are decoded by :class:`_StrictJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_json(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict_json

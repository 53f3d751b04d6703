"""The one mapping from errors to HTTP answers (``application/problem+json``).

A pgstatkit call that raises gets the answer of the first row of :data:`ANSWERS` whose
class matches: the caller's mistake is 4xx, an unreachable database or an unusable
``pg_stat_statements`` 503, a statement timeout 504. ``detail`` never holds a driver's
message, SQL, a DSN or a traceback; the full exception goes to the
``pgstatkit.fastapi`` logger.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, NamedTuple

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pgstatkit._history import HistoryNotInstalledError, NoHistoryError
from pgstatkit.errors import (
    ExtensionNotInstalledError,
    ExtensionNotLoadedError,
    ExtensionTooOldError,
    ExtraNotInstalledError,
    InsufficientPrivilegeError,
    InvalidArgumentError,
    PgStatKitError,
    StatementConflictError,
    StatementPrivilegeError,
    StatementRejectedError,
    StatementTimeoutError,
    TransactionStateError,
    UnsafeQueryError,
)
from pgstatkit.http._models import PROBLEM_TYPE, FieldError, Problem, ValidationProblem

__all__ = [
    "ANSWERS",
    "Answer",
    "answer",
    "error_response",
    "http_problem",
    "logger",
    "problem",
    "responses",
    "validation_problem",
]

logger = logging.getLogger("pgstatkit.fastapi")

_UNREACHABLE = (
    "The database is unreachable or refused the connection; the service log has the details."
)
_INTERNAL = "The request failed on the server; the service log has the details."


def problem(
    status: int, title: str, detail: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A problem response."""
    body = Problem(title=title, status=status, detail=detail).model_dump()
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def _field_error(error: Mapping[str, Any]) -> FieldError:
    """One error of FastAPI's request validation as a :class:`FieldError`."""
    where, *path = error.get("loc") or ("body",)
    location = where if where in ("query", "path", "header", "cookie") else "body"
    if location != "body":
        name = str(path[0]) if path else ""
    elif error.get("type") == "json_invalid":  # loc holds a character position
        name = ""
    else:
        name = "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in path)
    detail = str(error.get("msg", "invalid value"))
    reason = (error.get("ctx") or {}).get("error")
    if isinstance(reason, str) and reason not in detail:
        detail = f"{detail}: {reason}"
    found = {"in": location, "name": name, "detail": detail, "code": str(error.get("type"))}
    return FieldError.model_validate(found)


def validation_problem(exc: RequestValidationError) -> JSONResponse:
    """The 422 problem for a request its route's schema refused; the values themselves
    are never echoed (they may be large, secret, or not encodable)."""
    errors = [_field_error(e) for e in exc.errors()]
    named = "; ".join(f"{e.name or e.location}: {e.detail}" for e in errors[:5])
    body = ValidationProblem(
        title="Invalid argument", status=422, detail=f"Invalid request: {named}.", errors=errors
    )
    logger.info("pgstatkit request refused: %s", named)
    return JSONResponse(body.model_dump(by_alias=True), status_code=422, media_type=PROBLEM_TYPE)


def http_problem(exc: StarletteHTTPException) -> JSONResponse:
    """The problem for an ``HTTPException`` (the ``auth`` dependency's 401 or 403), its
    headers (``WWW-Authenticate``) kept."""
    status = exc.status_code
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem(status, title, detail, headers=exc.headers)


_DRIVER_MODULES = ("asyncpg", "psycopg", "psycopg_pool", "sqlalchemy")


def _is_driver_error(exc: BaseException) -> bool:
    return any(cls.__module__.split(".")[0] in _DRIVER_MODULES for cls in type(exc).__mro__[:-1])


def _own(exc: Exception) -> str:
    return str(exc)  # pgstatkit's own message: English, no SQL, no server text


def _sqlstate(exc: Exception) -> str:
    return str(getattr(exc, "sqlstate", "?"))


def _rejected(exc: Exception) -> str:
    return f"The server rejected the statement (SQLSTATE {_sqlstate(exc)})."


def _not_permitted(exc: Exception) -> str:
    return (
        f"The database role of this service may not run this statement (SQLSTATE {_sqlstate(exc)})."
    )


def _conflict(exc: Exception) -> str:
    return f"The statement lost to a concurrent transaction (SQLSTATE {_sqlstate(exc)}); retry it."


def _unreachable(exc: Exception) -> str:
    return _UNREACHABLE


def _internal(exc: Exception) -> str:
    return _INTERNAL


class Answer(NamedTuple):
    """What an error class gets: status, title, log level and the detail's text."""

    status: int
    title: str
    level: int
    detail: Callable[[Exception], str]


_INFO, _WARNING, _ERROR = logging.INFO, logging.WARNING, logging.ERROR
_PGSS = "pg_stat_statements is not available"
_DOWN = Answer(503, "Database unavailable", _ERROR, _unreachable)

# The first row whose class matches wins, so subclasses come before their bases. 4xx
# (the caller's mistake) is logged at INFO, 504 at WARNING, everything an operator must
# fix at ERROR.
ANSWERS: tuple[tuple[type[BaseException], Answer], ...] = (
    (InvalidArgumentError, Answer(422, "Invalid argument", _INFO, _own)),
    (UnsafeQueryError, Answer(422, "Invalid argument", _INFO, _own)),
    (StatementConflictError, Answer(409, "Statement conflict", _INFO, _conflict)),
    (StatementPrivilegeError, Answer(403, "Statement not permitted", _INFO, _not_permitted)),
    (StatementRejectedError, Answer(422, "Statement rejected", _INFO, _rejected)),
    (StatementTimeoutError, Answer(504, "Statement timeout", _WARNING, _own)),
    (ExtensionNotLoadedError, Answer(503, _PGSS, _ERROR, _own)),
    (ExtensionNotInstalledError, Answer(503, _PGSS, _ERROR, _own)),
    (ExtensionTooOldError, Answer(503, _PGSS, _ERROR, _own)),
    (InsufficientPrivilegeError, Answer(503, "Insufficient privilege", _ERROR, _own)),
    (TransactionStateError, Answer(503, "Database session unusable", _ERROR, _own)),
    (ExtraNotInstalledError, Answer(501, "Optional dependency not installed", _ERROR, _own)),
    (HistoryNotInstalledError, Answer(503, "History not installed", _ERROR, _own)),
    (NoHistoryError, Answer(503, "No history in the window", _WARNING, _own)),
    (PgStatKitError, Answer(500, "pgstatkit error", _ERROR, _own)),
    (OSError, _DOWN),
    (asyncio.TimeoutError, _DOWN),
)
"""(error class, answer): the one table; a driver's own error is 503, anything else 500."""


def answer(exc: Exception) -> Answer:
    """The answer for ``exc``."""
    for cls, found in ANSWERS:
        if isinstance(exc, cls):
            return found
    if _is_driver_error(exc):  # asyncpg / psycopg / pool / SQLAlchemy: the database
        return _DOWN
    return Answer(500, "Internal error", _ERROR, _internal)


def error_response(exc: Exception, operation: str) -> JSONResponse:
    """The problem response for an exception of a pgstatkit call; logs it.

    Refusals of the caller's own input (pgstatkit's argument checks) are logged without
    a traceback; everything else with it (the driver's error, in the chain, names what
    the server said).
    """
    status, title, level, detail = answer(exc)
    quiet = isinstance(exc, InvalidArgumentError | UnsafeQueryError)
    logger.log(
        level, "pgstatkit %s: %s: %s", operation, title, exc, exc_info=None if quiet else exc
    )
    return problem(status, title, detail(exc))


_DESCRIBED: dict[int, str] = {
    401: "Missing or invalid credentials.",
    403: "Not enabled on this router; or the service's role may not run the statement.",
    409: "The explained statement lost to a concurrent transaction; retry it.",
    422: "Invalid parameters, or a statement the server rejected; the body says which.",
    503: "Database unreachable, pg_stat_statements missing, or a grant missing.",
    504: "The statement timeout of the call was reached.",
}


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` put in place (an OpenAPI response's
    schema cannot refer to ``#/$defs``: that would be the OpenAPI document's root)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(dict(defs[ref.removeprefix("#/$defs/")]))
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def responses(*extra: int, without: tuple[int, ...] = ()) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI error responses of a route: 401, 422, 503, 504 and ``extra``, less
    ``without``, each an ``application/problem+json`` document (422: with the refused
    values). tests/http/test_http_error_schemas.py provokes every one it declares."""
    result: dict[int | str, dict[str, Any]] = {}
    for status in (401, 422, 503, 504, *extra):
        if status in without:
            continue
        model = ValidationProblem if status == 422 else Problem
        schema = _inline(model.model_json_schema(by_alias=True, mode="serialization"))
        result[status] = {
            "description": _DESCRIBED[status],
            "content": {PROBLEM_TYPE: {"schema": schema}},
        }
    return result

"""Argument validation, done before anything is sent to the server.

Every check raises :class:`pgstatkit.errors.InvalidArgumentError` (also a
``ValueError``) whose message names the argument, what was given and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Collection

from pgstatkit.errors import InvalidArgumentError

__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "MAX_LIMIT",
    "MAX_TIMEOUT_MS",
    "choice",
    "duration_ms",
    "flag",
    "limit",
    "queryid",
    "ratio",
    "timeout_ms",
]

MAX_LIMIT = 10_000
"""The largest ``limit`` accepted: ``pg_stat_statements.max`` rarely exceeds it."""

DEFAULT_TIMEOUT_MS = 5_000
"""Statement timeout of a monitoring call unless ``timeout_ms`` says otherwise."""

MAX_TIMEOUT_MS = 3_600_000
"""One hour: a monitoring call must stay bounded."""

MAX_DURATION_MS = 86_400_000.0
"""One day: a larger slow-query threshold is surely a unit mistake."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_float(value: object) -> float:
    """``float(value)`` for an int or float; huge ints become ``inf`` instead of raising."""
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]


def limit(value: object, name: str = "limit") -> int:
    """A row limit: an int from 1 to :data:`MAX_LIMIT`."""
    if not _is_int(value):
        raise InvalidArgumentError(
            f"{name} must be an int from 1 to {MAX_LIMIT}, got {type(value).__name__} {value!r}"
        )
    assert isinstance(value, int)
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidArgumentError(f"{name} must be from 1 to {MAX_LIMIT}, got {value}")
    return value


def duration_ms(value: object, name: str) -> float:
    """A duration threshold in milliseconds: finite, from 0 to one day."""
    if not _is_number(value):
        raise InvalidArgumentError(
            f"{name} must be a number of milliseconds, got {type(value).__name__} {value!r}"
        )
    number = _as_float(value)
    if not math.isfinite(number) or not 0.0 <= number <= MAX_DURATION_MS:
        raise InvalidArgumentError(
            f"{name} must be a finite number of milliseconds from 0 to "
            f"{MAX_DURATION_MS:.0f} (one day), got {value!r}"
        )
    return number


def ratio(value: object, name: str) -> float:
    """A ratio: a finite number from 0 to 1 (a fraction, not a percentage)."""
    if not _is_number(value):
        raise InvalidArgumentError(
            f"{name} must be a number from 0 to 1, got {type(value).__name__} {value!r}"
        )
    number = _as_float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        hint = " (a fraction: 0.9 means 90%)" if math.isfinite(number) and number > 1 else ""
        raise InvalidArgumentError(f"{name} must be from 0 to 1{hint}, got {value!r}")
    return number


def timeout_ms(value: object) -> int:
    """The statement timeout of one call: ``None`` for the default, else 1 ms to 1 hour."""
    if value is None:
        return DEFAULT_TIMEOUT_MS
    if not _is_number(value):
        raise InvalidArgumentError(
            f"timeout_ms must be a number of milliseconds or None, "
            f"got {type(value).__name__} {value!r}"
        )
    number = _as_float(value)
    if not math.isfinite(number) or not 1.0 <= number <= MAX_TIMEOUT_MS:
        raise InvalidArgumentError(
            f"timeout_ms must be from 1 to {MAX_TIMEOUT_MS} (one hour), got {value!r}"
        )
    return math.ceil(number)


def flag(value: object, name: str) -> bool:
    """A bool (not a truthy value: ``"false"`` is a mistake, not ``True``)."""
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be True or False, got {value!r}")
    return value


def queryid(value: object) -> int | None:
    """A ``pg_stat_statements`` queryid (a signed 64-bit int) or ``None``."""
    if value is None:
        return None
    if not _is_int(value):
        raise InvalidArgumentError(
            f"queryid must be an int (a pg_stat_statements queryid) or None, "
            f"got {type(value).__name__} {value!r}"
        )
    assert isinstance(value, int)
    if not -(2**63) <= value < 2**63 or value == 0:
        raise InvalidArgumentError(f"queryid must be a non-zero signed 64-bit int, got {value}")
    return value


def choice(value: object, name: str, allowed: Collection[str]) -> str:
    """One of a fixed set of strings."""
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(a) for a in sorted(allowed))
        raise InvalidArgumentError(f"{name} must be one of {options}, got {value!r}")
    return value

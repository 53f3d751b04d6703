"""The blocking twin of :mod:`pgstatkit.setup`: ``from pgstatkit.sync import setup``.

Same names, keyword arguments and docstrings; ``conn`` is anything
:mod:`pgstatkit.sync.stats` accepts.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pgstatkit import _doctor, _install
from pgstatkit import setup as _async
from pgstatkit._protocol import Operation
from pgstatkit._run import run_sync
from pgstatkit.adapters import open_sync
from pgstatkit.models import SetupReport

__all__ = ["check_setup", "install", "uninstall"]

T = TypeVar("T")


def _run(conn: Any, op: Operation[T]) -> T:
    with open_sync(conn) as session:
        return run_sync(session, op)


def install(conn: Any, *, schema: str = "pgstatkit", timeout_ms: float | None = None) -> None:
    return _run(conn, _install.install(schema, timeout_ms=timeout_ms))


def uninstall(conn: Any, *, schema: str = "pgstatkit", timeout_ms: float | None = None) -> None:
    return _run(conn, _install.uninstall(schema, timeout_ms=timeout_ms))


def check_setup(
    conn: Any, *, schema: str = "pgstatkit", timeout_ms: float | None = None
) -> SetupReport:
    return _run(conn, _doctor.check_setup(schema=schema, timeout_ms=timeout_ms))


check_setup.__doc__ = _async.check_setup.__doc__
install.__doc__ = _async.install.__doc__
uninstall.__doc__ = _async.uninstall.__doc__

"""Plans: a few operations, each run as its own guarded call, with the logic between
them written once for the async and the blocking path.

A plan is a generator that yields :class:`~pgstatkit._protocol.Operation` objects and
receives each one's result; a pgstatkit error of an operation is thrown into it at the
``yield``, so the plan decides what a failed step means. Its return value is the
result. :func:`run_plan_async` and :func:`run_plan_sync` drive one on a source (each
operation opens its own session, as the functions of :mod:`pgstatkit.stats` do); they
differ only in the runner they call. Errors that are not pgstatkit's (a lost
connection) propagate.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

from pgstatkit._protocol import Operation
from pgstatkit._run import run_async, run_sync
from pgstatkit.adapters import open_async, open_sync
from pgstatkit.errors import PgStatKitError

__all__ = ["Plan", "run_plan_async", "run_plan_sync"]

T = TypeVar("T")

Plan = Generator[Operation[Any], Any, T]


async def run_plan_async(source: Any, plan: Plan[T]) -> T:
    """Drive ``plan`` on an async source (as for :mod:`pgstatkit.stats`)."""
    try:
        op = next(plan)
        while True:
            try:
                async with open_async(source) as session:
                    value = await run_async(session, op)
            except PgStatKitError as exc:  # noqa: PERF203 - a step that failed is rare
                op = plan.throw(exc)
            else:
                op = plan.send(value)
    except StopIteration as stop:
        result: T = stop.value
        return result


def run_plan_sync(source: Any, plan: Plan[T]) -> T:
    """Drive ``plan`` on a blocking source (as for :mod:`pgstatkit.sync.stats`)."""
    try:
        op = next(plan)
        while True:
            try:
                with open_sync(source) as session:
                    value = run_sync(session, op)
            except PgStatKitError as exc:  # noqa: PERF203 - a step that failed is rare
                op = plan.throw(exc)
            else:
                op = plan.send(value)
    except StopIteration as stop:
        result: T = stop.value
        return result

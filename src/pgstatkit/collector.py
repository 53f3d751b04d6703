"""Collecting history in a service: an asyncio loop of :func:`pgstatkit.history.snapshot`.

``await collect({"orders": orders_pool, "billing": billing_pool}, store=store_pool)``
snapshots every target once per ``interval_s`` seconds, the targets concurrently, each
after a random delay of up to ``jitter_s`` (so many collectors do not hit their servers
at the same instant), until ``stop`` is set or the task is cancelled. A failed snapshot
is logged (logger ``pgstatkit.collector``) and retried at the next tick; nothing is
written by a failed or cancelled snapshot (its write is one transaction). A snapshot
refused because another collector snapshots the same target
(:class:`~pgstatkit.history.SnapshotConflictError`) is logged at INFO: the other one
covers the interval.

Connections: any that :mod:`pgstatkit.history` takes (asyncpg, psycopg 3, SQLAlchemy).
Snapshots of several targets run at the same time, so give the store as a *pool*
(``asyncpg.create_pool``, psycopg's ``AsyncConnectionPool``, an ``AsyncEngine``), or a
callable returning the store connection for a target name. Stopping: set ``stop``;
the snapshots under way finish (each is bounded by its statement and lock timeouts)
and ``collect`` returns. A FastAPI lifespan runs it as a task (see
``examples/history_lifespan.py``); ``pgstatkit collect`` is the command-line loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from typing import Any

from pgstatkit import _validate, history
from pgstatkit._history import lock_timeout_ms as _lock_timeout_ms
from pgstatkit._history import target_name
from pgstatkit.errors import InvalidArgumentError, PgStatKitError

__all__ = ["collect", "collect_once"]

logger = logging.getLogger("pgstatkit.collector")

MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 86_400.0


def _interval(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(f"interval_s must be a number of seconds, got {value!r}")
    if not MIN_INTERVAL_S <= float(value) <= MAX_INTERVAL_S:
        raise InvalidArgumentError(
            f"interval_s must be from {MIN_INTERVAL_S:g} to {MAX_INTERVAL_S:g} seconds, "
            f"got {value!r}"
        )
    return float(value)


def _jitter(value: object, interval: float) -> float:
    if value is None:
        return min(interval / 10.0, 5.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(f"jitter_s must be a number of seconds, got {value!r}")
    if not 0.0 <= float(value) < interval:
        raise InvalidArgumentError(
            f"jitter_s must be from 0 to less than interval_s ({interval:g}), got {value!r}"
        )
    return float(value)


async def collect_once(
    targets: Mapping[str, Any],
    *,
    store: Any = None,
    jitter_s: float = 0.0,
    schema: str = "pgstatkit",
    timeout_ms: float | None = None,
    lock_timeout_ms: float | None = None,
    on_snapshot: Callable[[history.Snapshot], None] | None = None,
) -> dict[str, history.Snapshot | BaseException]:
    """One tick: a snapshot of every target, concurrently; target name -> its snapshot,
    or the exception that failed it (logged, never raised, except cancellation).

    ``store``: a pool, a callable ``store(target_name)`` returning the store connection
    for that target, or ``None`` (each target is its own store).
    """

    async def one(name: str, conn: Any) -> history.Snapshot | BaseException:
        if jitter_s > 0:
            await asyncio.sleep(random.uniform(0.0, jitter_s))  # noqa: S311 - not crypto
        where = store(name) if callable(store) else store
        try:
            snap = await history.snapshot(
                conn,
                store=where,
                target=name,
                schema=schema,
                timeout_ms=timeout_ms,
                lock_timeout_ms=lock_timeout_ms,
            )
        except history.SnapshotConflictError as exc:
            logger.info("snapshot of %r skipped: %s", name, exc)
            return exc
        except Exception as exc:
            level = logging.WARNING if isinstance(exc, PgStatKitError) else logging.ERROR
            logger.log(level, "snapshot of %r failed (retried next tick): %s", name, exc)
            return exc
        logger.debug("snapshot of %r: %s, %d stored", name, snap.status, snap.entries_stored)
        if on_snapshot is not None:
            on_snapshot(snap)
        return snap

    names = list(targets)
    done = await asyncio.gather(*(one(n, targets[n]) for n in names))
    return dict(zip(names, done, strict=True))


async def collect(
    targets: Mapping[str, Any],
    *,
    store: Any = None,
    interval_s: float = 60.0,
    jitter_s: float | None = None,
    stop: asyncio.Event | None = None,
    schema: str = "pgstatkit",
    timeout_ms: float | None = None,
    lock_timeout_ms: float | None = None,
    on_snapshot: Callable[[history.Snapshot], None] | None = None,
) -> None:
    """Snapshot ``targets`` every ``interval_s`` seconds until ``stop`` is set.

    Args:
        targets: target name -> its connection (or pool); names as in
            :func:`pgstatkit.history.snapshot`.
        store: where the snapshots go (see :func:`collect_once`); ``None``: each
            target into itself.
        interval_s: seconds from one tick's start to the next, 1 to 86,400.
        jitter_s: each snapshot waits a random 0..jitter_s seconds into its tick;
            default a tenth of the interval, at most 5 s.
        stop: set it to stop after the snapshots under way (cancelling the task
            works too: a cancelled snapshot writes nothing).
        on_snapshot: called with each snapshot written.

    Raises:
        InvalidArgumentError: bad arguments (before anything is sent).
    """
    if not targets:
        raise InvalidArgumentError("targets must name at least one target")
    for name in targets:
        target_name(name)
    interval = _interval(interval_s)
    jitter = _jitter(jitter_s, interval)
    _validate.timeout_ms(timeout_ms)
    _lock_timeout_ms(lock_timeout_ms)
    event = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    while not event.is_set():
        started = loop.time()
        await collect_once(
            targets,
            store=store,
            jitter_s=jitter,
            schema=schema,
            timeout_ms=timeout_ms,
            lock_timeout_ms=lock_timeout_ms,
            on_snapshot=on_snapshot,
        )
        remaining = interval - (loop.time() - started)
        if remaining > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

"""pgstatkit calls against the raw driver running the same SQL, interleaved.

For every benchmarked call and driver, four variants run round-robin in one loop (the
order rotates each repetition, so machine drift and ordering effects cancel):

``pgstatkit``
    the public API call (``await pgstatkit.stats.<fn>(conn, ...)``), models included.
``same_sql``
    the exact statement sequence pgstatkit sends, through the same driver, returning
    plain rows: ``BEGIN``, the guard's setup and probe statements, the
    operation's statement with its parameters, ``ROLLBACK``. The statements are taken
    from pgstatkit's own operation objects (``pgstatkit._operations``,
    ``pgstatkit._protocol.setup_query`` / ``probe_query``), so they are the same text and values.
``bare``
    only the operation's main ``SELECT``, in autocommit: the cost of the safety guard
    (timeouts, read-only transaction, rollback) is ``same_sql - bare``.
``no_text``
    (``pg_stat_statements`` calls only) the bare ``SELECT`` with
    ``pg_stat_statements(showtext := false)`` instead of the view: what remains when the
    server does not read its query-text file.

Every variant returns its rows (pgstatkit: models; the others: the driver's rows), and
each result is freed after its timing stops, never inside the next variant's. Besides
the wall clock, each run's CPU time of this process (``time.process_time``) is kept:
pgstatkit's CPU minus the floor's is its own work, which the other jobs on a shared
machine do not blur as they blur the wall clock.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import psycopg

from pgstatkit import _operations as ops
from pgstatkit import stats
from pgstatkit._protocol import Operation, Query, Result, parse_probe, probe_query, setup_query
from pgstatkit._sql import quote_ident

__all__ = ["CALLS", "Call", "Measurement", "Sample", "measure_level"]

ALL = 10_000


@dataclass(frozen=True)
class Call:
    """One benchmarked call: label, pgstatkit function name and keyword arguments."""

    label: str
    function: str
    kwargs: dict[str, Any]
    pgss: bool  # reads pg_stat_statements

    def operation(self) -> Operation[Any]:
        factory: Callable[..., Operation[Any]] = getattr(ops, self.function)
        return factory(**self.kwargs)

    def api(self) -> Callable[..., Awaitable[Any]]:
        fn: Callable[..., Awaitable[Any]] = getattr(stats, self.function)
        return fn


CALLS: tuple[Call, ...] = (
    Call("top_queries_by_total_time(limit=20)", "top_queries_by_total_time", {"limit": 20}, True),
    Call(
        "top_queries_by_total_time(limit=10000)",
        "top_queries_by_total_time",
        {"limit": ALL},
        True,
    ),
    Call("slow_queries()", "slow_queries", {}, True),
    Call(
        "slow_queries(min_duration_ms=0, limit=10000)",
        "slow_queries",
        {"min_duration_ms": 0.0, "limit": ALL},
        True,
    ),
    Call(
        "queries_with_low_cache_hit(max=1.0, limit=10000)",
        "queries_with_low_cache_hit",
        {"max_cache_hit_ratio": 1.0, "limit": ALL},
        True,
    ),
    Call("database_statistics()", "database_statistics", {}, False),
    Call("table_statistics(limit=50)", "table_statistics", {"limit": 50}, False),
    Call("index_usage(limit=50)", "index_usage", {"limit": 50}, False),
)


@dataclass
class Sample:
    """Timings (seconds) of one variant: wall clock, and this process's CPU time."""

    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def quantile(self, q: float) -> float:
        if len(self.times) < 2:
            return self.times[0]
        cuts = statistics.quantiles(self.times, n=10, method="inclusive")
        return cuts[round(q * 10) - 1]


@dataclass
class Measurement:
    """All variants of one call on one driver at one fill level."""

    call: Call
    driver: str
    entries: int
    rows: int
    variants: dict[str, Sample]
    peak_kib: dict[str, float] = field(default_factory=dict)
    loop_iterations: dict[str, float] = field(default_factory=dict)

    def ratio(self, variant: str, base: str = "pgstatkit") -> float:
        return self.variants[base].median / self.variants[variant].median


# ------------------------------------------------------------------ drivers


class _Driver:
    name: str
    conn: Any

    async def fetch(self, query: Query) -> Result:
        raise NotImplementedError

    async def same_sql(self, guard: tuple[Query, ...], main: Query) -> list[Any]:
        raise NotImplementedError

    async def bare(self, main: Query) -> list[Any]:
        raise NotImplementedError

    async def close(self) -> None:
        await self.conn.close()


class _Asyncpg(_Driver):
    name = "asyncpg"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def fetch(self, query: Query) -> Result:
        records = await self.conn.fetch(query.sql, *query.params)
        return Result(tuple(records[0].keys()) if records else (), records)

    async def same_sql(self, guard: tuple[Query, ...], main: Query) -> list[Any]:
        conn = self.conn
        await conn.execute("BEGIN")
        try:
            for query in guard:
                await conn.fetch(query.sql, *query.params)
            rows: list[Any] = await conn.fetch(main.sql, *main.params)
        finally:
            await conn.execute("ROLLBACK")
        return rows

    async def bare(self, main: Query) -> list[Any]:
        rows: list[Any] = await self.conn.fetch(main.sql, *main.params)
        return rows


class _Psycopg(_Driver):
    name = "psycopg"

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def _rows(self, query: Query) -> list[Any]:
        async with psycopg.AsyncRawCursor(self.conn) as cur:
            await cur.execute(query.sql, query.params, prepare=False, binary=True)
            return await cur.fetchall() if cur.description else []

    async def fetch(self, query: Query) -> Result:
        async with psycopg.AsyncRawCursor(self.conn) as cur:
            await cur.execute(query.sql, query.params, prepare=False, binary=True)
            cols = tuple(d.name for d in cur.description) if cur.description else ()
            return Result(cols, await cur.fetchall() if cols else [])

    async def same_sql(self, guard: tuple[Query, ...], main: Query) -> list[Any]:
        # psycopg's own transaction block sends BEGIN / ROLLBACK, as pgstatkit's adapter.
        async with self.conn.transaction(force_rollback=True):
            for query in guard:
                await self._rows(query)
            return await self._rows(main)

    async def bare(self, main: Query) -> list[Any]:
        return await self._rows(main)


async def connect(dsn: str) -> list[_Driver]:
    """One asyncpg and one psycopg (autocommit) connection to ``dsn``."""
    apg = await asyncpg.connect(dsn)
    pg = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    return [_Asyncpg(apg), _Psycopg(pg)]


# ------------------------------------------------------------------ measuring


async def _statements(driver: _Driver, call: Call) -> tuple[tuple[Query, ...], Query]:
    """The guard's statements and the main statement pgstatkit sends for ``call`` here."""
    op = call.operation()
    guard = (setup_query(op), probe_query())
    await driver.fetch(Query("BEGIN"))
    try:
        await driver.fetch(guard[0])
        context = parse_probe(await driver.fetch(guard[1]))
    finally:
        await driver.fetch(Query("ROLLBACK"))
    steps = op.steps(context)
    main = next(steps)
    steps.close()
    return guard, main


def _no_text(main: Query) -> Query:
    view = f"{quote_ident('public')}.pg_stat_statements AS p"
    if view not in main.sql:
        raise RuntimeError("the pg_stat_statements view is not in the statement")
    return Query(main.sql.replace(view, view.replace(" AS p", "(false) AS p")), main.params)


async def _peak_kib(run: Callable[[], Awaitable[object]]) -> float:
    """Peak Python-heap allocation (KiB) during one run, its result still referenced."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = await run()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    return peak / 1024


async def _loop_iterations(run: Callable[[], Awaitable[object]], times: int = 20) -> float:
    """Event-loop iterations per run (``BaseEventLoop._run_once`` calls): each costs an
    ``epoll`` call and the loop's bookkeeping, whatever the work."""
    loop: Any = asyncio.get_running_loop()
    original = loop._run_once
    count = 0

    def counting() -> None:
        nonlocal count
        count += 1
        original()

    loop._run_once = counting
    try:
        for _ in range(times):
            await run()
    finally:
        del loop._run_once  # the class's method again
    return count / times


async def measure_call(
    driver: _Driver, call: Call, *, entries: int, reps: int, warmup: int, memory: bool
) -> Measurement:
    guard, main = await _statements(driver, call)
    api = call.api()
    conn = driver.conn
    kwargs = call.kwargs
    rows = 0

    async def run_pgstatkit() -> object:
        return await api(conn, **kwargs)

    variants: dict[str, Callable[[], Awaitable[object]]] = {
        "pgstatkit": run_pgstatkit,
        "same_sql": lambda: driver.same_sql(guard, main),
        "bare": lambda: driver.bare(main),
    }
    if call.pgss:
        no_text = _no_text(main)
        variants["no_text"] = lambda: driver.bare(no_text)
    names = list(variants)
    samples = {name: Sample() for name in names}
    for rep in range(warmup + reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            start, cpu = time.perf_counter(), time.process_time()
            result = await variants[name]()
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            if rep >= warmup:
                samples[name].times.append(elapsed)
                samples[name].cpu.append(cpu)
            if name == "pgstatkit":
                rows = len(result) if isinstance(result, list) else 1
            # Every variant returns its rows (models or the driver's rows), freed here,
            # outside the timings: never by the next variant's.
            del result
    measurement = Measurement(call, driver.name, entries, rows, samples)
    if memory and driver.name == "asyncpg":
        for name in ("pgstatkit", "same_sql"):
            measurement.loop_iterations[name] = await _loop_iterations(variants[name])
    if memory:
        for name in ("pgstatkit", "same_sql"):
            measurement.peak_kib[name] = await _peak_kib(variants[name])
    return measurement


async def measure_level(
    dsn: str, *, entries: int, reps: int, warmup: int, memory: bool, calls: tuple[Call, ...]
) -> list[Measurement]:
    """Every call on both drivers at the current fill level."""
    drivers = await connect(dsn)
    try:
        return [
            await measure_call(
                driver, call, entries=entries, reps=reps, warmup=warmup, memory=memory
            )
            for call in calls
            for driver in drivers
        ]
    finally:
        for driver in drivers:
            await driver.close()


def run_level(dsn: str, **kwargs: Any) -> list[Measurement]:
    return asyncio.run(measure_level(dsn, **kwargs))

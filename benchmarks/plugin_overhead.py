"""What the pytest plugin adds to each test: its two reads of the counters.

For each fill level, on the filled database, with the plugin's own machinery
(:class:`pgstatkit.pytest_plugin._meter.Meter` on its autocommit psycopg connection),
interleaved in one loop so machine drift cancels:

- *per test*: the read before the test and the read after it with the difference
  computed, around one statement of an "application" connection that the plugin has
  seen before (no text lookup): what every test pays;
- *per test, new statement*: the same around a statement never seen before, so the
  end adds the text lookup (``pg_stat_statements(true)`` for that one queryid): what a
  test pays the first time it runs a statement;
- *one read*: a single read of the counters (``pg_stat_statements(false)``);
- *read with texts*: for comparison, a bare ``SELECT * FROM pg_stat_statements`` in
  autocommit, which reads the query-text file: what a delta taken with texts would
  cost per read.

The application's own statement is not timed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from latency import Sample

from pgstatkit.pytest_plugin._connect import connect
from pgstatkit.pytest_plugin._meter import Meter

__all__ = ["VARIANTS", "PluginOverhead", "measure"]

VARIANTS = {
    "per_test": "per test",
    "per_test_new": "per test, new statement",
    "read": "one read",
    "read_with_texts": "read with texts",
}


@dataclass
class PluginOverhead:
    """The plugin's timings at one fill level."""

    entries: int
    samples: dict[str, Sample] = field(default_factory=lambda: {k: Sample() for k in VARIANTS})
    load_avg: float = 0.0  # the machine's 1-minute load average at the end


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(dsn: str, *, entries: int, reps: int, warmup: int) -> PluginOverhead:
    """Time the plugin's reads on ``dsn`` (a database with ``entries`` statements)."""
    result = PluginOverhead(entries)
    meter = Meter(connect(dsn))
    app = psycopg.connect(dsn, autocommit=True)
    try:
        meter.calibrate()
        seen = "SELECT 1 AS plugin_bench_seen"
        app.execute(seen)
        meter.delta(meter.read())  # its text is known from now on

        def per_test(sql: str) -> float:
            start = meter.read
            began = time.perf_counter()
            snapshot = start()
            reading = time.perf_counter() - began
            app.execute(sql)
            return reading + _timed(lambda: meter.delta(snapshot))

        def read_with_texts() -> None:
            meter.conn.execute("SELECT * FROM pg_stat_statements").fetchall()

        for rep in range(warmup + reps):
            # a new shape every time: one more column than any before
            new = "SELECT " + ", ".join(["1"] * (rep + 2)) + " AS plugin_bench_new"
            order = [
                ("per_test", lambda: per_test(seen)),
                ("per_test_new", lambda new=new: per_test(new)),  # type: ignore[misc]
                ("read", lambda: _timed(meter.read)),
                ("read_with_texts", lambda: _timed(read_with_texts)),
            ]
            shift = rep % len(order)
            for variant, run in order[shift:] + order[:shift]:
                elapsed = run()
                if rep >= warmup:
                    result.samples[variant].times.append(elapsed)
    finally:
        app.close()
        meter.close()
    result.load_avg = os.getloadavg()[0]
    return result

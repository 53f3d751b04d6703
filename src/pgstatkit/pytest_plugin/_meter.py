"""What a test ran on the database: the difference between two reads of the counters.

:class:`Meter` holds the plugin's connection and what it has learned: the texts of the
statements seen so far, which queryids are pgstatkit's own, and what one of its own
operations adds to the entries it shares with other clients. No pytest here (the
benchmarks use it as it is).

pgstatkit's own statements are left out: its reads carry the marker of
:mod:`pgstatkit._own` (their queryids are remembered and dropped), and the transaction
control of its guard (``BEGIN`` / ``ROLLBACK``, shared with every client) is measured
once, at the start -- two reads back to back, with nothing else in between -- and
subtracted once per operation of the plugin between a test's start and its end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pgstatkit import _operations
from pgstatkit._own import MARKER
from pgstatkit._protocol import Operation
from pgstatkit.models import StatementCounters
from pgstatkit.pytest_plugin import _connect

__all__ = ["Key", "Meter", "Snapshot"]

T = TypeVar("T")

Key = tuple[int, bool | None]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One read of the counters, and how many operations the plugin had run before it."""

    counters: _operations.Counters
    ops: int


def _diff(start: _operations.Counters, end: _operations.Counters) -> dict[Key, StatementCounters]:
    """The statements whose counters moved between the two reads, as their differences,
    per ``(queryid, toplevel)`` (summed over roles)."""
    moved: dict[Key, list[float]] = {}
    for key, now in end.items():
        before = start.get(key)
        if before == now:
            continue
        values = list(now)
        if before is not None and before[0] <= now[0]:
            values = [a - b for a, b in zip(now, before, strict=True)]
        # else: new, or evicted and back since: everything it counts is since the start
        total = moved.get(key[1:])
        if total is None:
            moved[key[1:]] = values
        else:
            moved[key[1:]] = [a + b for a, b in zip(total, values, strict=True)]
    return {
        key: StatementCounters(
            queryid=key[0],
            toplevel=key[1],
            calls=int(v[0]),
            rows=int(v[1]),
            shared_blks_hit=int(v[2]),
            shared_blks_read=int(v[3]),
            total_exec_time_ms=float(v[4]),
            total_plan_time_ms=float(v[5]),
            query=None,
        )
        for key, v in moved.items()
        if v[0] or v[1] or v[2] or v[3]
    }


class Meter:
    """Reads on one autocommit psycopg connection (see :mod:`._connect`)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._ops = 0  # operations run on the connection so far
        self._overhead: dict[Key, int] = {}  # calls one operation adds to shared entries
        self._own: set[int] = set()  # queryids of pgstatkit's own (marked) statements
        self._texts: dict[int, str | None] = {}

    def run(self, op: Operation[T]) -> T:
        """Run one of pgstatkit's operations (counted: its guard's statements are
        subtracted from the deltas that span it)."""
        self._ops += 1
        return _connect.run(self.conn, op)

    def read(self) -> Snapshot:
        """The counters now (one statement, no texts).

        Raises:
            PgStatKitError: ``pg_stat_statements`` is missing, or another refusal.
        """
        ops = self._ops
        return Snapshot(self.run(_operations.statement_counters()), ops)

    def _lookup_texts(self, queryids: Iterable[int]) -> None:
        missing = sorted({q for q in queryids if q not in self._texts and q not in self._own})
        if not missing:
            return
        found = self.run(_operations.statement_texts(missing))
        for qid in missing:
            text = found.get(qid)
            if text is not None and MARKER in text:
                self._own.add(qid)
            else:
                self._texts[qid] = text

    def calibrate(self) -> None:
        """Learn what one of the plugin's own operations adds to entries it shares with
        other clients (its guard's ``BEGIN`` / ``ROLLBACK``): two reads back to back,
        twice, until both agree (a statement of another client would differ)."""
        unit: dict[Key, int] = {}
        for _attempt in range(3):
            first, second = self.read(), self.read()
            once = _diff(first.counters, second.counters)
            self._lookup_texts(q for q, _ in once)  # learns which are pgstatkit's own
            third, fourth = self.read(), self.read()
            twice = _diff(third.counters, fourth.counters)
            unit = {k: s.calls for k, s in once.items() if k[0] not in self._own}
            if unit == {k: s.calls for k, s in twice.items() if k[0] not in self._own}:
                break
        self._overhead = unit

    def delta(self, start: Snapshot) -> list[StatementCounters]:
        """The statements run since ``start`` (one more read, and a text lookup for the
        statements not seen before), without pgstatkit's own."""
        end = self.read()
        changed = _diff(start.counters, end.counters)
        operations = end.ops - start.ops
        for key, calls in self._overhead.items():
            entry = changed.get(key)
            if entry is None:
                continue
            left = entry.calls - calls * operations
            if left <= 0 and not entry.rows and not entry.shared_blks:
                del changed[key]
            else:
                changed[key] = dataclasses.replace(entry, calls=max(left, 0))
        self._lookup_texts(q for q, _ in changed)
        return [
            dataclasses.replace(s, query=self._texts.get(s.queryid))
            for (qid, _), s in changed.items()
            if qid not in self._own
        ]

    def deallocations(self) -> int | None:
        """``pg_stat_statements_info.dealloc`` (evictions since its reset; None before
        1.9)."""
        return self.run(_operations.statement_deallocations())

    def close(self) -> None:
        self.conn.close()

"""Baselines of the pytest plugin: what each test's statements cost, saved for review and
compared on later runs.

A baseline is a JSON file meant to be committed and reviewed like code: per test (node
id), per statement *fingerprint*, the calls, and the rows, shared blocks and time per
call. Blocks are deterministic on a test database, unlike time: a missing index shows up
as more blocks per call even on small data. Calls, rows and blocks per call fail a
comparison beyond the tolerance; time is only reported.

Fingerprints: with pglast installed (``pip install pglast``), a statement's fingerprint
is pglast's (libpg_query) of its normalized text, the same across servers, versions and
databases. Without it, the queryid is used: stable for the same server version and the
same tables (it includes their OIDs), so such a baseline only compares against the same
server with the same schema; the file says which it used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pgstatkit._display import cut, one_line, safe
from pgstatkit.models import StatementCounters

__all__ = ["FORMAT", "Recorder", "Reference", "fingerprint_kind", "load"]

FORMAT = "pgstatkit-pytest-baseline"
_TEXT_WIDTH = 100


def fingerprint_kind() -> str:
    """``"pglast"`` when pglast can be imported, else ``"queryid"``."""
    try:
        import pglast  # noqa: F401
    except ImportError:
        return "queryid"
    return "pglast"


def _fingerprint(kind: str, statement: StatementCounters) -> str:
    if kind == "pglast" and statement.query is not None:
        import pglast

        try:
            return str(pglast.fingerprint(statement.query))
        except Exception:  # noqa: S110 - a text libpg_query cannot parse
            pass
    return f"queryid:{statement.queryid}"


@dataclass(slots=True)
class _Cost:
    query: str | None
    queryid: int
    calls: int = 0
    rows: int = 0
    shared_blks: int = 0
    time_ms: float = 0.0

    def add(self, s: StatementCounters) -> None:
        self.calls += s.calls
        self.rows += s.rows
        self.shared_blks += s.shared_blks
        self.time_ms += s.total_exec_time_ms + s.total_plan_time_ms

    def per_call(self, value: float) -> float:
        return round(value / self.calls, 3) if self.calls else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "queryid": str(self.queryid),
            "calls": self.calls,
            "rows_per_call": self.per_call(self.rows),
            "shared_blks_per_call": self.per_call(self.shared_blks),
            "mean_time_ms": self.per_call(self.time_ms),
        }


def _costs(kind: str, statements: Iterable[StatementCounters]) -> dict[str, _Cost]:
    """Per fingerprint; top-level statements only (nested ones are in their caller's)."""
    costs: dict[str, _Cost] = {}
    for s in statements:
        if s.toplevel is False:
            continue
        fp = _fingerprint(kind, s)
        cost = costs.get(fp)
        if cost is None:
            cost = costs[fp] = _Cost(s.query, s.queryid)
        cost.add(s)
    return costs


@dataclass(slots=True)
class Recorder:
    """The tests of this run, for ``--pgstatkit-save-baseline``."""

    kind: str = field(default_factory=fingerprint_kind)
    tests: dict[str, dict[str, _Cost]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tests)

    def add(self, nodeid: str, statements: Iterable[StatementCounters]) -> None:
        self.tests[nodeid] = _costs(self.kind, statements)

    def write(self, path: Path) -> None:
        note = (
            "fingerprints by pglast: comparable across servers and databases"
            if self.kind == "pglast"
            else "fingerprints are queryids (pglast not installed): compare only against "
            "the same server version and schema (a queryid includes table OIDs)"
        )
        data = {
            "format": FORMAT,
            "version": 1,
            "fingerprint": self.kind,
            "note": note,
            "tests": {
                nodeid: {fp: cost.to_json() for fp, cost in sorted(costs.items())}
                for nodeid, costs in sorted(self.tests.items())
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n",
            encoding="utf-8",
        )


def _worse(now: float, base: float, tolerance: float) -> bool:
    """More than the tolerance (a fraction) above the baseline, and by at least 1."""
    return now > base * (1 + tolerance) and now - base >= 1


def _change(now: float, base: float) -> str:
    if base == 0:
        return "new cost"
    return f"{(now - base) / base:+.0%}"


@dataclass(frozen=True, slots=True)
class Reference:
    """A baseline read back, for ``--pgstatkit-compare``."""

    kind: str
    tests: dict[str, dict[str, dict[str, Any]]]

    def compare(
        self,
        nodeid: str,
        statements: Iterable[StatementCounters],
        *,
        tolerance: float,
        fail_new: bool,
    ) -> list[str]:
        """One line per statement of the test that got more expensive (empty when the
        test is not in the baseline)."""
        base_test = self.tests.get(nodeid)
        if base_test is None:
            return []
        problems = []
        for fp, cost in sorted(_costs(self.kind, statements).items()):
            text = safe(cut(one_line(cost.query), _TEXT_WIDTH))
            base = base_test.get(fp)
            if base is None:
                if fail_new:
                    problems.append(f"baseline: new statement ({cost.calls} calls): {text}")
                continue
            changes = []
            for what, now, before in (
                ("calls", float(cost.calls), float(base["calls"])),
                ("rows per call", cost.per_call(cost.rows), float(base["rows_per_call"])),
                (
                    "shared blocks per call",
                    cost.per_call(cost.shared_blks),
                    float(base["shared_blks_per_call"]),
                ),
            ):
                if _worse(now, before, tolerance):
                    changes.append(f"{what} {before:g} -> {now:g} ({_change(now, before)})")
            if changes:
                time_now, time_before = cost.per_call(cost.time_ms), float(base["mean_time_ms"])
                problems.append(
                    "baseline: more expensive: "
                    + ", ".join(changes)
                    + f" (tolerance {tolerance:.0%}; mean time {time_before:g} -> "
                    f"{time_now:g} ms, reported only): {text}"
                )
        return problems


def load(path: Path) -> Reference:
    """Read a baseline written by :class:`Recorder`.

    Raises:
        pytest.UsageError: not a baseline, or written with fingerprints this
            environment cannot make (pglast missing).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise pytest.UsageError(f"--pgstatkit-compare: cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != 1:
        raise pytest.UsageError(
            f"--pgstatkit-compare: {path} is not a pgstatkit baseline (format {FORMAT}, "
            "version 1; write one with --pgstatkit-save-baseline)"
        )
    kind = data.get("fingerprint")
    if kind not in ("pglast", "queryid"):
        raise pytest.UsageError(f"--pgstatkit-compare: {path}: unknown fingerprint {kind!r}")
    if kind == "pglast" and fingerprint_kind() != "pglast":
        raise pytest.UsageError(
            f"--pgstatkit-compare: {path} was written with pglast fingerprints; install "
            "pglast (pip install pglast) to compare against it"
        )
    tests = data.get("tests")
    if not isinstance(tests, dict):
        raise pytest.UsageError(f"--pgstatkit-compare: {path}: no 'tests' object")
    return Reference(kind, tests)

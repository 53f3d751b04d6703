"""The working half of the pytest plugin, registered once it is configured.

Per test (its call phase: the test function, not its fixtures), two reads of the
cumulative counters of ``pg_stat_statements`` (``pg_stat_statements(false)``: no texts)
give the statements the test ran and what they cost; texts are looked up only for
statements not seen before. Nothing is ever reset.

pgstatkit's own statements are left out: its reads carry the marker of
:mod:`pgstatkit._own` (their queryids are remembered and dropped), and the transaction
control of its guard (``BEGIN`` / ``ROLLBACK``, shared with every client) is measured
once at the start and subtracted (:mod:`pgstatkit.pytest_plugin._meter`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import warnings
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pgstatkit._display import cut, one_line, safe
from pgstatkit.errors import PgStatKitError
from pgstatkit.models import StatementCounters
from pgstatkit.pytest_plugin import _baseline, _connect
from pgstatkit.pytest_plugin._meter import Meter, Snapshot

__all__ = ["BUDGET_KEYS", "Budget", "NPlusOneWarning", "TestQueries", "Tracker"]

BUDGET_KEYS = ("max_calls", "max_statements", "max_shared_blks", "max_rows")

_RECORD = pytest.StashKey["_TestRecord"]()
_TEXT_WIDTH = 100


class NPlusOneWarning(UserWarning):
    """A statement ran at least ``pgstatkit_nplusone_threshold`` times in one test."""


@dataclass(frozen=True, slots=True)
class Budget:
    """The limits of one test; ``None``: no limit."""

    max_calls: int | None = None
    max_statements: int | None = None
    max_shared_blks: int | None = None
    max_rows: int | None = None

    def merged(self, overrides: Mapping[str, int | None]) -> Budget:
        return dataclasses.replace(self, **overrides)

    def exceeded(self, statements: Iterable[StatementCounters]) -> list[str]:
        """One line per limit the statements go over (top-level ones; nested statements
        are already part of their caller's counters)."""
        top = [s for s in statements if s.toplevel is not False]
        used = {
            "max_calls": ("calls", sum(s.calls for s in top)),
            "max_statements": ("statements", len({s.queryid for s in top})),
            "max_shared_blks": ("shared blocks", sum(s.shared_blks for s in top)),
            "max_rows": ("rows", sum(s.rows for s in top)),
        }
        lines = []
        for key in BUDGET_KEYS:
            limit = getattr(self, key)
            what, value = used[key]
            if limit is not None and value > limit:
                lines.append(f"{what}: {value} > {key}={limit}")
        return lines


def budget_value(value: object, name: str, where: str) -> int | None:
    """A budget limit: an int >= 0, or None / "" for none.

    Raises:
        ValueError: anything else, naming where it came from.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}: {name} must be an integer >= 0, got {value!r}")
    return value


def _number(config: pytest.Config, name: str, *, minimum: float, integer: bool) -> float:
    raw = str(config.getini(name)).strip()
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        kind = "an integer" if integer else "a number"
        raise pytest.UsageError(f"ini {name}: must be {kind} >= {minimum:g}, got {raw!r}")
    return value


def statement_table(statements: Iterable[StatementCounters], *, indent: str = "  ") -> str:
    """The statements as a text table, most calls first; texts on one line, cut, and with
    control characters escaped (they come from the database)."""
    rows = sorted(statements, key=lambda s: (-s.calls, -s.shared_blks, s.queryid))
    head = f"{'calls':>7} {'rows':>7} {'blks hit':>9} {'blks read':>9} {'ms':>9}  statement"
    lines = [indent + head]
    for s in rows:
        text = safe(cut(one_line(s.query) if s.query is not None else "<text not kept>", 400))
        nested = "" if s.toplevel is not False else "(nested) "
        lines.append(
            f"{indent}{s.calls:>7} {s.rows:>7} {s.shared_blks_hit:>9} {s.shared_blks_read:>9} "
            f"{s.total_exec_time_ms + s.total_plan_time_ms:>9.2f}  "
            f"{cut(nested + text, _TEXT_WIDTH)}"
        )
    return "\n".join(lines)


@dataclass(slots=True)
class _TestRecord:
    start: Snapshot
    statements: list[StatementCounters] | None = None


@dataclass(slots=True)
class _Total:
    """One statement over the whole session."""

    queryid: int
    query: str | None
    calls: int = 0
    rows: int = 0
    shared_blks_hit: int = 0
    shared_blks_read: int = 0
    total_time_ms: float = 0.0
    tests: int = 0


class TestQueries:
    """What the ``pgstatkit_queries`` fixture gives a test: its statements so far."""

    __test__ = False  # not a test class, whatever pytest's naming rules say

    def __init__(self, tracker: Tracker, item: pytest.Item) -> None:
        self._tracker = tracker
        self._item = item

    def statements(self) -> list[StatementCounters]:
        """The statements the test has run on the database since it began (one read).

        Empty before the test body starts (in a fixture) or when tracking is off.
        """
        record = self._item.stash.get(_RECORD, None)
        if record is None or not self._tracker.active:
            return []
        return self._tracker.delta_since(record.start)

    @property
    def calls(self) -> int:
        """Top-level statement executions so far."""
        return sum(s.calls for s in self.statements() if s.toplevel is not False)

    def assert_budget(
        self,
        *,
        max_calls: int | None = None,
        max_statements: int | None = None,
        max_shared_blks: int | None = None,
        max_rows: int | None = None,
    ) -> list[StatementCounters]:
        """Fail (``AssertionError``, with the table of statements) when the test so far
        went over any of the limits; returns the statements otherwise."""
        limits = {
            "max_calls": max_calls,
            "max_statements": max_statements,
            "max_shared_blks": max_shared_blks,
            "max_rows": max_rows,
        }
        budget = Budget(**{k: budget_value(v, k, "assert_budget") for k, v in limits.items()})
        statements = self.statements()
        over = budget.exceeded(statements)
        if over:
            raise AssertionError(
                "pgstatkit: query budget exceeded: "
                + "; ".join(over)
                + "\n"
                + statement_table(statements)
            )
        return statements


class Tracker:
    """The configured plugin: one connection, the reads, the checks, the reports."""

    def __init__(self, config: pytest.Config, kind: str, value: str) -> None:
        self.config = config
        self._kind = kind
        self._value = value
        self.active = False
        self._started = False
        self._meter: Meter | None = None
        self._dealloc: int | None = None
        self._totals: dict[int, _Total] = {}
        self._notes: list[str] = []
        self._nplusone: list[tuple[str, int, str]] = []
        self._measured = 0
        self._refuse_xdist()
        self._settings()
        self._baseline = _baseline.Recorder() if self._save_path else None
        self._reference = _baseline.load(self._compare_path) if self._compare_path else None

    # ------------------------------------------------------------------ settings

    def _refuse_xdist(self) -> None:
        workers = self.config.getoption("numprocesses", None)
        if workers or hasattr(self.config, "workerinput"):
            raise pytest.UsageError(
                "pgstatkit: query tracking measures one database per test run, and "
                "pytest-xdist workers would share it, mixing up which test ran which "
                "statement; run it without xdist (-p no:xdist, or -n 0), or leave the "
                "plugin unconfigured for parallel runs (see docs/pytest-plugin.md)"
            )

    def _settings(self) -> None:
        config = self.config
        try:
            self.default_budget = Budget(
                **{
                    key: budget_value(
                        config.getini(f"pgstatkit_{key}"), key, f"ini pgstatkit_{key}"
                    )
                    for key in BUDGET_KEYS
                }
            )
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        mode = config.getoption("pgstatkit_nplusone") or str(config.getini("pgstatkit_nplusone"))
        if mode not in ("off", "warn", "fail"):
            raise pytest.UsageError(f"ini pgstatkit_nplusone: off, warn or fail, got {mode!r}")
        self.nplusone_mode = mode
        self.nplusone_threshold = int(
            _number(config, "pgstatkit_nplusone_threshold", minimum=2, integer=True)
        )
        self.tolerance = _number(config, "pgstatkit_tolerance", minimum=0, integer=False)
        self.fail_new = bool(config.getini("pgstatkit_fail_on_new_statements"))
        self.summary_top = int(_number(config, "pgstatkit_summary_top", minimum=1, integer=True))
        summary = config.getoption("pgstatkit_summary_json") or config.getini(
            "pgstatkit_summary_json"
        )
        self._summary_path = Path(str(summary)) if summary else None
        save = config.getoption("pgstatkit_save_baseline")
        compare = config.getoption("pgstatkit_compare")
        self._save_path = Path(save) if save else None
        self._compare_path = Path(compare) if compare else None
        if self._compare_path is not None and not self._compare_path.is_file():
            raise pytest.UsageError(
                f"--pgstatkit-compare: no baseline file {self._compare_path} "
                "(write one with --pgstatkit-save-baseline)"
            )

    def delta_since(self, start: Snapshot) -> list[StatementCounters]:
        """The statements run since ``start``, without pgstatkit's own, with texts."""
        assert self._meter is not None
        return self._meter.delta(start)

    # ------------------------------------------------------------------ start

    def _note(self, text: str) -> None:
        self._notes.append(text)

    def _dsn(self, request: pytest.FixtureRequest) -> str:
        if self._kind == "dsn":
            return self._value
        value = request.getfixturevalue(self._value)
        if not isinstance(value, str) or not value:
            raise pytest.UsageError(
                f"ini pgstatkit_dsn_fixture: the fixture {self._value!r} must return a DSN "
                f"string, got {type(value).__name__}"
            )
        return value

    def _start(self, request: pytest.FixtureRequest) -> None:
        self._started = True
        dsn = self._dsn(request)
        try:
            conn = _connect.connect(dsn)
        except ImportError as exc:
            self._note(f"query tracking is off: {exc}")
            return
        except Exception as exc:
            if not isinstance(exc, _connect.server_error_class()):
                raise
            reason = safe(one_line(str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
            self._note(f"query tracking is off: cannot connect: {reason}")
            return
        self._meter = Meter(conn)
        try:
            self._meter.calibrate()
            self._dealloc = self._meter.deallocations()
        except PgStatKitError as exc:
            self._note(f"query tracking is off: {safe(one_line(str(exc)))}")
            self._close()
            return
        self.active = True

    def _close(self) -> None:
        if self._meter is not None:
            try:
                self._meter.close()
            finally:
                self._meter = None

    # ------------------------------------------------------------------ hooks

    @pytest.fixture(autouse=True)
    def _pgstatkit_connection(self, request: pytest.FixtureRequest) -> None:
        """Connect (and calibrate) before the first test; a fixture so that a DSN can
        come from another fixture."""
        if not self._started:
            self._start(request)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        if not self.active:
            return (yield)
        try:
            record = _TestRecord(self._require_meter().read())
        except Exception as exc:
            self._stop(exc)
            return (yield)
        item.stash[_RECORD] = record
        try:
            result = yield
        except BaseException:
            self._finish(item, record, check=False)
            raise
        self._finish(item, record, check=True)
        return result

    def _require_meter(self) -> Meter:
        if self._meter is None:
            raise RuntimeError("no connection")
        return self._meter

    def _stop(self, exc: Exception) -> None:
        """A read failed (the connection was lost, say): measure nothing more, say why
        once (a baseline or summary of part of the run is not written)."""
        if not isinstance(exc, PgStatKitError | RuntimeError | _connect.server_error_class()):
            raise exc
        self.active = False
        reason = safe(one_line(str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
        self._note(f"query tracking stopped after {self._measured} tests: {reason}")
        with contextlib.suppress(Exception):
            self._close()

    def _finish(self, item: pytest.Item, record: _TestRecord, *, check: bool) -> None:
        try:
            statements = self.delta_since(record.start)
        except Exception as exc:
            self._stop(exc)
            return
        record.statements = statements
        self._measured += 1
        self._add_totals(statements)
        if self._baseline is not None:
            self._baseline.add(item.nodeid, statements)
        if not check:
            return
        problems: list[str] = []
        budget = self._budget_of(item)
        over = budget.exceeded(statements)
        if over:
            problems.append("query budget exceeded: " + "; ".join(over))
        problems += self._check_nplusone(item, statements)
        if self._reference is not None:
            problems += self._reference.compare(
                item.nodeid, statements, tolerance=self.tolerance, fail_new=self.fail_new
            )
        if problems:
            message = "\n".join(f"pgstatkit: {p}" for p in problems)
            pytest.fail(f"{message}\n{statement_table(statements)}", pytrace=False)

    def _budget_of(self, item: pytest.Item) -> Budget:
        budget = self.default_budget
        for marker in reversed(list(item.iter_markers("query_budget"))):  # closest last
            if marker.args:
                pytest.fail(
                    f"{item.nodeid}: query_budget takes keyword arguments only "
                    f"({', '.join(BUDGET_KEYS)})",
                    pytrace=False,
                )
            unknown = sorted(set(marker.kwargs) - set(BUDGET_KEYS))
            if unknown:
                pytest.fail(
                    f"{item.nodeid}: query_budget: unknown {', '.join(unknown)} "
                    f"(known: {', '.join(BUDGET_KEYS)})",
                    pytrace=False,
                )
            try:
                limits = {
                    k: budget_value(v, k, f"{item.nodeid}: query_budget")
                    for k, v in marker.kwargs.items()
                }
            except ValueError as exc:
                pytest.fail(str(exc), pytrace=False)
            budget = budget.merged(limits)
        return budget

    def _check_nplusone(self, item: pytest.Item, statements: list[StatementCounters]) -> list[str]:
        if self.nplusone_mode == "off":
            return []
        found = []
        for s in sorted(statements, key=lambda s: -s.calls):
            if s.calls < self.nplusone_threshold:
                continue
            text = safe(cut(one_line(s.query), _TEXT_WIDTH))
            self._nplusone.append((item.nodeid, s.calls, text))
            found.append(
                f"N+1: the same statement ran {s.calls} times "
                f"(threshold {self.nplusone_threshold}): {text}"
            )
        if self.nplusone_mode == "warn":
            path, lineno, _ = item.reportinfo()
            for line in found:  # reported at the test, not here
                warnings.warn_explicit(
                    NPlusOneWarning(f"pgstatkit: {line}"),
                    NPlusOneWarning,
                    filename=str(path),
                    lineno=(lineno or 0) + 1,
                )
            return []
        return found

    def _add_totals(self, statements: list[StatementCounters]) -> None:
        for qid in {s.queryid for s in statements}:
            if qid in self._totals:
                self._totals[qid].tests += 1
        for s in statements:
            total = self._totals.get(s.queryid)
            if total is None:
                total = self._totals[s.queryid] = _Total(s.queryid, s.query, tests=1)
            total.calls += s.calls
            total.rows += s.rows
            total.shared_blks_hit += s.shared_blks_hit
            total.shared_blks_read += s.shared_blks_read
            total.total_time_ms += s.total_exec_time_ms + s.total_plan_time_ms

    # ------------------------------------------------------------------ the end

    def summary(self) -> dict[str, Any]:
        """The session's summary, JSON-ready."""

        def entry(t: _Total) -> dict[str, Any]:
            return {
                "queryid": str(t.queryid),
                "query": t.query,
                "calls": t.calls,
                "rows": t.rows,
                "shared_blks_hit": t.shared_blks_hit,
                "shared_blks_read": t.shared_blks_read,
                "total_time_ms": round(t.total_time_ms, 3),
                "tests": t.tests,
            }

        totals = list(self._totals.values())
        by_time = sorted(totals, key=lambda t: (-t.total_time_ms, t.queryid))
        by_blks = sorted(
            totals, key=lambda t: (-(t.shared_blks_hit + t.shared_blks_read), t.queryid)
        )
        top = self.summary_top
        return {
            "format": "pgstatkit-pytest-summary",
            "version": 1,
            "tests_measured": self._measured,
            "statements": len(totals),
            "top_by_total_time": [entry(t) for t in by_time[:top]],
            "top_by_shared_blks": [
                entry(t) for t in by_blks[:top] if t.shared_blks_hit + t.shared_blks_read
            ],
            "nplusone": [
                {"test": test, "calls": calls, "query": text}
                for test, calls, text in self._nplusone
            ],
            "notes": list(self._notes),
        }

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.active and self._dealloc is not None:
            try:
                evicted = (self._require_meter().deallocations() or 0) - self._dealloc
            except Exception as exc:
                self._stop(exc)
            else:
                if evicted > 0:
                    self._note(
                        f"pg_stat_statements evicted {evicted} entries during the run: "
                        "statements of some tests may be missing from their counts; raise "
                        "pg_stat_statements.max"
                    )
        self._close()
        if self._baseline is not None and self._save_path is not None and self.active:
            self._baseline.write(self._save_path)
            self._note(f"baseline of {len(self._baseline)} tests written to {self._save_path}")
        if self._summary_path is not None and self.active:
            self._summary_path.parent.mkdir(parents=True, exist_ok=True)
            self._summary_path.write_text(
                json.dumps(self.summary(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            self._note(f"summary written to {self._summary_path}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write = terminalreporter.write_line
        if not self.active and not self._notes:
            return
        terminalreporter.write_sep("-", "pgstatkit")
        if self.active:
            data = self.summary()
            write(f"{data['tests_measured']} tests measured, {data['statements']} statements")
            for title, rows in (
                ("top by total time", data["top_by_total_time"]),
                ("top by shared blocks", data["top_by_shared_blks"]),
            ):
                if not rows:
                    continue
                write(f"{title}:")
                write(f"{'calls':>9} {'ms':>10} {'blks':>9} {'tests':>5}  statement")
                for r in rows:
                    blks = r["shared_blks_hit"] + r["shared_blks_read"]
                    text = safe(cut(one_line(r["query"]), _TEXT_WIDTH))
                    write(
                        f"{r['calls']:>9} {r['total_time_ms']:>10.2f} {blks:>9} "
                        f"{r['tests']:>5}  {text}"
                    )
            if self._nplusone:
                write("N+1 suspects:")
                for test, calls, text in self._nplusone:
                    write(f"  {test}: {calls} x {text}")
        for note in self._notes:
            write(f"pgstatkit: {note}")

    def queries_for(self, request: pytest.FixtureRequest) -> TestQueries:
        return TestQueries(self, request.node)

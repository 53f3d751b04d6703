"""The sans-I/O core: error translation, the context, and operations driven by hand.

Nothing here talks to a server: operations are generators of ``Query`` objects, so
the tests feed them canned ``Result`` objects, and the runners get a fake session.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pytest

from pgstatkit import _operations, _sql
from pgstatkit._own import MARKER, OWN_TABLES, mark
from pgstatkit._parse import ParseError
from pgstatkit._protocol import (
    NO_ROWS,
    PINNED_SEARCH_PATH,
    Cleanup,
    Context,
    Operation,
    Query,
    Result,
    ServerError,
    Steps,
    TxState,
    parse_probe,
    parse_setup,
    probe_query,
    restore_query,
    setup_query,
    translate_error,
)
from pgstatkit._run import run_async, run_sync
from pgstatkit.errors import (
    ExtensionNotInstalledError,
    ExtensionNotLoadedError,
    ExtensionNotSetUpError,
    ExtensionTooOldError,
    InsufficientPrivilegeError,
    StatementTimeoutError,
    TransactionStateError,
)
from pgstatkit.models import QueryPlan, QueryStat

T = TypeVar("T")

CTX = Context(pgss_version=(1, 11), pgss_schema="public")
PLAN_JSON = json.dumps(
    [
        {
            "Plan": {
                "Node Type": "Index Scan",
                "Index Name": "t_pkey",
                "Relation Name": "t",
                "Startup Cost": 0.15,
                "Total Cost": 8.17,
                "Plan Rows": 1,
                "Plan Width": 36,
            }
        }
    ]
)
PLAN_RESULT = Result(("QUERY PLAN",), [(PLAN_JSON,)])
EMPTY = Result((), [])

# ---- translate_error --------------------------------------------------------------------
# (the whole table: tests/unit/test_errors_table.py)


def test_statement_timeout() -> None:
    error = translate_error("57014", "slow_queries")
    assert isinstance(error, StatementTimeoutError)
    assert "slow_queries" in str(error)
    assert "timeout_ms" in str(error)


def test_failed_transaction() -> None:
    error = translate_error("25P02", "index_usage")
    assert isinstance(error, TransactionStateError)
    assert "roll it back" in str(error)


def test_privilege_for_reset() -> None:
    error = translate_error("42501", "reset_query_statistics")
    assert isinstance(error, InsufficientPrivilegeError)
    text = str(error)
    assert text.startswith("reset_query_statistics: permission denied (SQLSTATE 42501)")
    assert "GRANT EXECUTE ON FUNCTION pg_stat_statements_reset" in text
    assert "pg_read_all_stats" not in text


def test_privilege_otherwise() -> None:
    error = translate_error("42501", "slow_queries")
    assert isinstance(error, InsufficientPrivilegeError)
    assert "GRANT pg_read_all_stats TO" in str(error)
    assert "pg_stat_statements_reset" not in str(error)


@pytest.mark.parametrize(
    "sqlstate", [None, "08006", "42P01", "55000", "42601", "40001", "53200", "XX000", "", "5"]
)
def test_other_errors_pass_through(sqlstate: str | None) -> None:
    assert translate_error(sqlstate, "database_statistics") is None


# ---- Context ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ctx",
    [
        Context(None, None),
        Context((1, 11), None),
        Context(None, "public"),
    ],
)
def test_extension_not_installed(ctx: Context) -> None:
    with pytest.raises(ExtensionNotInstalledError, match=r"install\(") as info:
        ctx.require_pg_stat_statements()
    assert "CREATE EXTENSION pg_stat_statements" in str(info.value)
    assert not isinstance(info.value, ExtensionNotLoadedError)


def test_extension_not_loaded() -> None:
    ctx = Context((1, 11), "public", pgss_loaded=False)
    with pytest.raises(ExtensionNotLoadedError) as info:
        ctx.require_pg_stat_statements()
    text = str(info.value)
    assert "shared_preload_libraries" in text and "restart" in text
    assert "ALTER SYSTEM SET shared_preload_libraries" in text
    assert not isinstance(info.value, ExtensionNotInstalledError)


@pytest.mark.parametrize(
    "ctx",
    [
        Context(None, None, pgss_loaded=False),
        Context((1, 11), None, pgss_loaded=False),
    ],
)
def test_neither_loaded_nor_created_names_both_fixes(ctx: Context) -> None:
    with pytest.raises(ExtensionNotSetUpError) as info:
        ctx.require_pg_stat_statements()
    assert isinstance(info.value, ExtensionNotLoadedError)
    assert isinstance(info.value, ExtensionNotInstalledError)
    text = str(info.value)
    assert text.index("shared_preload_libraries") < text.index("CREATE EXTENSION")
    assert "restart" in text and "install(conn)" in text


@pytest.mark.parametrize("version", [(1, 7), (1, 6), (1, 0)])
def test_extension_too_old(version: tuple[int, int]) -> None:
    ctx = Context(version, "public")
    with pytest.raises(ExtensionTooOldError, match="ALTER EXTENSION pg_stat_statements UPDATE"):
        ctx.require_pg_stat_statements()
    with pytest.raises(ExtensionTooOldError, match=f"{version[0]}.{version[1]} is installed"):
        ctx.require_pg_stat_statements()


@pytest.mark.parametrize("version", [(1, 8), (1, 10), (1, 12)])
def test_extension_ok(version: tuple[int, int]) -> None:
    assert Context(version, "ext").require_pg_stat_statements() == (version, "ext")


# ---- setup / restore --------------------------------------------------------------------

SETUP_COLUMNS = (
    "prev_statement_timeout",
    "prev_lock_timeout",
    "prev_search_path",
    "setting_names",
    "prev_settings",
    "statement_timeout",
    "lock_timeout",
    "read_only",
    "search_path",
)
SETUP_RESULT = Result(
    SETUP_COLUMNS,
    [("0", "0", '"$user", public', None, None, "5000ms", "5000ms", "on", PINNED_SEARCH_PATH)],
)


def probe_result(
    version: str | None = "1.11", schema: str | None = "public", loaded: bool | None = None
) -> Result:
    return Result(("pgss_version", "pgss_schema", "pgss_loaded"), [(version, schema, loaded)])


def test_setup_query_parameters() -> None:
    query = setup_query(_operations.slow_queries(timeout_ms=250))
    # the lock timeout is the statement timeout unless the operation names its own
    assert query.params == ("250ms", "on", PINNED_SEARCH_PATH, "250ms", None, None)
    assert "set_config('statement_timeout', $1, true)" in query.sql
    assert "set_config('lock_timeout', $4, true)" in query.sql
    plan = setup_query(_operations.query_plan("SELECT 1", analyze=True))
    assert plan.params == ("5000ms", None, None, "5000ms", None, None)
    own = dataclasses.replace(
        _operations.slow_queries(timeout_ms=250),
        lock_timeout_ms=20,
        settings=(("jit", "off"), ("work_mem", "64MB")),
    )
    assert setup_query(own).params == (
        "250ms",
        "on",
        PINNED_SEARCH_PATH,
        "20ms",
        ["jit", "work_mem"],
        ["off", "64MB"],
    )


def test_setup_reads_no_catalog() -> None:
    """The timeouts are set by a statement that reads no table: a catalog read in it would
    run before they take effect and could wait for a lock without end."""
    sql = setup_query(_operations.slow_queries()).sql
    assert "pg_extension" not in sql and "pg_namespace" not in sql
    assert "pg_extension" in probe_query().sql


def test_parse_setup() -> None:
    assert parse_setup(SETUP_RESULT) == ("0", "0", '"$user", public', None, None)
    with_settings = Result(
        SETUP_COLUMNS,
        [("0", "0", "p", ["jit"], ["on"], "5000ms", "5000ms", "on", PINNED_SEARCH_PATH)],
    )
    assert parse_setup(with_settings) == ("0", "0", "p", ["jit"], ["on"])


def test_parse_probe() -> None:
    assert parse_probe(probe_result("1.10", "monitoring")) == Context((1, 10), "monitoring")
    context = parse_probe(probe_result(None, None))
    assert context.pgss_version is None
    assert context.pgss_schema is None
    assert context.pgss_loaded is None
    assert parse_probe(probe_result(None, None, loaded=False)).pgss_loaded is False
    assert parse_probe(probe_result(None, None, loaded=True)).pgss_loaded is True


def test_restore_query() -> None:
    query = restore_query(("30s", "1s", "app, public", ["jit"], ["on"]))
    assert query.params == ("30s", "1s", "app, public", ["jit"], ["on"])
    assert "set_config('lock_timeout', $2, true)" in query.sql
    assert "set_config('search_path', $3, true)" in query.sql


# ---- driving an operation's steps by hand -----------------------------------------------

_PLAN_NAME = re.compile(r"pgstatkit_plan_[0-9a-f]{16}")


def _normalized(sql: str) -> str:
    return _PLAN_NAME.sub("pgstatkit_plan_NAME", sql)


def drive(
    op: Operation[T],
    ctx: Context,
    answers: Mapping[str, Result | Exception],
    default: Result | None = None,
    cleanups: list[Cleanup] | None = None,
) -> tuple[list[Query], T | BaseException]:
    """Feed ``op``'s steps from ``answers`` (normalized SQL -> Result or exception to throw).

    Cleanups the steps register go to ``cleanups`` (the runner would run them last).
    """
    seen: list[Query] = []
    steps = op.steps(ctx)
    try:
        query = next(steps)
        while True:
            if isinstance(query, Cleanup):
                if cleanups is not None:
                    cleanups.append(query)
                query = steps.send(NO_ROWS)
                continue
            seen.append(query)
            answer = answers.get(_normalized(query.sql), default)
            if answer is None:
                raise AssertionError(f"unexpected query: {query.sql}")
            query = steps.throw(answer) if isinstance(answer, Exception) else steps.send(answer)
    except StopIteration as stop:
        return seen, stop.value
    except Exception as exc:  # the exception the steps let out
        return seen, exc


GENERIC_SQL = "SELECT * FROM t WHERE id = $1"
GENERIC_STEPS = [
    f"PREPARE pgstatkit_plan_NAME AS {GENERIC_SQL}",
    "SELECT pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true)",
    "EXPLAIN (FORMAT JSON) EXECUTE pgstatkit_plan_NAME(NULL)",
    "DEALLOCATE pgstatkit_plan_NAME",
]


def test_generic_plan_steps() -> None:
    op = _operations.query_plan(GENERIC_SQL + " ;")
    assert op.read_only
    assert not op.commit
    assert not op.pin_search_path
    answers: dict[str, Result | Exception] = dict.fromkeys(GENERIC_STEPS, EMPTY)
    answers[GENERIC_STEPS[2]] = PLAN_RESULT
    cleanups: list[Cleanup] = []
    seen, value = drive(op, CTX, answers, cleanups=cleanups)
    assert [_normalized(q.sql) for q in seen] == GENERIC_STEPS
    assert len(cleanups) == 1
    assert list(cleanups[0].steps()) == []  # DEALLOCATE ran: nothing left to clean up
    assert all(q.params == () for q in seen)
    names = {m.group(0) for q in seen for m in _PLAN_NAME.finditer(q.sql)}
    assert len(names) == 1  # the same statement name throughout
    assert isinstance(value, QueryPlan)
    assert value.generic
    assert not value.analyzed
    assert value.query == GENERIC_SQL
    assert value.node_type == "Index Scan"


def test_generic_plan_names_are_unique() -> None:
    names = set()
    for _ in range(5):
        op = _operations.query_plan(GENERIC_SQL)
        steps = op.steps(CTX)
        next(steps)
        names.add(steps.send(EMPTY).sql.split()[1])
        steps.close()
    assert len(names) == 5


def test_generic_plan_placeholders_become_nulls() -> None:
    op = _operations.query_plan("SELECT $3::int, $1::text")
    seen, _ = drive(op, CTX, {}, default=PLAN_RESULT)
    assert (
        _normalized(seen[2].sql)
        == "EXPLAIN (FORMAT JSON) EXECUTE pgstatkit_plan_NAME(NULL, NULL, NULL)"
    )


class DriverError(Exception):
    sqlstate = "57014"


PREPARED_CHECK = _sql.load("session.sql", "prepared_statement")


def _cleanup_queries(cleanup: Cleanup, found: bool) -> list[str]:
    """The queries of a generic plan's cleanup, the statement found (or not) by it."""
    steps = cleanup.steps()
    seen = []
    try:
        query = next(steps)
        while True:
            seen.append(_normalized(query.sql))
            rows = [("pgstatkit_plan_x",)] if found else []
            query = steps.send(Result(("name",), rows))
    except StopIteration:
        return seen


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_generic_plan_failure_leaves_the_deallocate_to_the_cleanup(failing: int) -> None:
    op = _operations.query_plan(GENERIC_SQL)
    failure = DriverError("canceling statement due to statement timeout")
    answers: dict[str, Result | Exception] = dict.fromkeys(GENERIC_STEPS, EMPTY)
    answers[GENERIC_STEPS[failing]] = failure
    cleanups: list[Cleanup] = []
    seen, value = drive(op, CTX, answers, cleanups=cleanups)
    assert [_normalized(q.sql) for q in seen] == GENERIC_STEPS[: failing + 1]
    assert value is failure
    (cleanup,) = cleanups
    assert _cleanup_queries(cleanup, found=True) == [
        PREPARED_CHECK,
        "DEALLOCATE pgstatkit_plan_NAME",
    ]
    assert _cleanup_queries(cleanup, found=False) == [PREPARED_CHECK]


@pytest.mark.parametrize("took_one", [True, False])
def test_analyze_registers_the_advisory_lock_cleanup(took_one: bool) -> None:
    op = _operations.query_plan("SELECT pg_advisory_lock(1)", analyze=True)
    held = Result(("lock",), [("0:1:1:ExclusiveLock",)])
    new = Result(("lock",), [("0:2:1:ExclusiveLock",)] if took_one else [])
    sql = "EXPLAIN (FORMAT JSON, ANALYZE, BUFFERS) SELECT pg_advisory_lock(1)"
    answers: dict[str, Result | Exception] = {
        sql: PLAN_RESULT,
        _sql.load("session.sql", "advisory_locks"): held,
        _sql.load("session.sql", "new_advisory_locks"): new,
    }
    cleanups: list[Cleanup] = []
    seen, value = drive(op, CTX, answers, cleanups=cleanups)
    assert [q.sql for q in seen] == [*list(answers)[1:2], sql, *list(answers)[2:]]
    assert seen[2].params == (["0:1:1:ExclusiveLock"],)
    assert isinstance(value, QueryPlan)
    (cleanup,) = cleanups
    steps = cleanup.steps()
    if not took_one:  # seen before the rollback: nothing to release
        assert list(steps) == []
        return
    release = next(steps)
    assert release.params == (["0:1:1:ExclusiveLock"],)
    assert "pg_advisory_unlock" in release.sql
    assert steps.send(Result(("released",), [(True,)])) == release  # once more: taken twice?
    with pytest.raises(StopIteration):
        steps.send(Result(("released",), []))


def test_analyze_that_fails_leaves_the_lock_cleanup_armed() -> None:
    op = _operations.query_plan("SELECT pg_advisory_lock(1)", analyze=True)
    failure = DriverError("canceled")
    sql = "EXPLAIN (FORMAT JSON, ANALYZE, BUFFERS) SELECT pg_advisory_lock(1)"
    answers: dict[str, Result | Exception] = {
        sql: failure,
        _sql.load("session.sql", "advisory_locks"): EMPTY,
    }
    cleanups: list[Cleanup] = []
    _, value = drive(op, CTX, answers, cleanups=cleanups)
    assert value is failure
    (cleanup,) = cleanups
    assert "pg_advisory_unlock" in next(cleanup.steps()).sql


@pytest.mark.parametrize(
    ("kwargs", "expected_sql", "expected_params"),
    [
        ({}, "EXPLAIN (FORMAT JSON) SELECT * FROM t WHERE id = $1", (42,)),
        (
            {"analyze": True},
            "EXPLAIN (FORMAT JSON, ANALYZE, BUFFERS) SELECT * FROM t WHERE id = $1",
            (42,),
        ),
    ],
)
def test_plan_with_params_is_one_explain(
    kwargs: dict[str, Any], expected_sql: str, expected_params: tuple[object, ...]
) -> None:
    op = _operations.query_plan(GENERIC_SQL, params=[42], **kwargs)
    locks = Query(_sql.load("session.sql", "advisory_locks"))
    new = Query(_sql.load("session.sql", "new_advisory_locks"), ([],))
    answers: dict[str, Result | Exception] = {
        expected_sql: PLAN_RESULT,
        locks.sql: EMPTY,
        new.sql: EMPTY,
    }
    seen, value = drive(op, CTX, answers)
    # EXPLAIN ANALYZE reads the session's advisory locks around it (see the cleanup test)
    explain = Query(expected_sql, expected_params)
    assert seen == ([locks, explain, new] if kwargs else [explain])
    assert isinstance(value, QueryPlan)
    assert not value.generic
    assert value.analyzed is bool(kwargs)
    assert op.read_only is not bool(kwargs)


def test_plan_without_placeholders_is_one_explain() -> None:
    op = _operations.query_plan("  /* why */ SELECT 1;  -- done\n")
    seen, value = drive(op, CTX, {"EXPLAIN (FORMAT JSON) /* why */ SELECT 1": PLAN_RESULT})
    assert seen == [Query("EXPLAIN (FORMAT JSON) /* why */ SELECT 1", ())]
    assert isinstance(value, QueryPlan)


def test_plan_explain_failure_propagates() -> None:
    op = _operations.query_plan("SELECT 1")
    failure = DriverError("x")
    seen, value = drive(op, CTX, {"EXPLAIN (FORMAT JSON) SELECT 1": failure})
    assert len(seen) == 1
    assert value is failure


def test_plan_bad_document() -> None:
    op = _operations.query_plan("SELECT 1")
    _, value = drive(op, CTX, {}, default=Result(("QUERY PLAN",), [("[]",)]))
    assert isinstance(value, ParseError)


@pytest.mark.parametrize(
    ("version", "block_sql"),
    [((1, 8), "FROM (SELECT"), ((1, 11), "AS stats_reset")],
)
def test_reset_all(version: tuple[int, int], block_sql: str) -> None:
    when = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    op = _operations.reset_query_statistics()
    ctx = Context(version, 'odd"schema')
    seen, value = drive(op, ctx, {}, default=Result(("stats_reset",), [(when,)]))
    assert len(seen) == 1
    assert seen[0].params == ()
    assert '"odd""schema".pg_stat_statements_reset()' in seen[0].sql
    assert block_sql in seen[0].sql
    assert value == when


def test_reset_one_query() -> None:
    op = _operations.reset_query_statistics(queryid=-1234567890123)
    seen, value = drive(op, CTX, {}, default=Result(("stats_reset",), [(None,)]))
    assert seen[0].params == (-1234567890123,)
    assert "pg_stat_statements_reset(0, 0, $1::int8)" in seen[0].sql
    assert value is None


def test_reset_needs_the_extension() -> None:
    op = _operations.reset_query_statistics()
    seen, value = drive(op, Context(None, None), {})
    assert seen == []
    assert isinstance(value, ExtensionNotInstalledError)


def _stat_row(**overrides: object) -> tuple[object, ...]:
    values: dict[str, object] = {}
    for name in QueryStat._FIELD_NAMES:
        values[name] = 0.0 if name.endswith(("_ms", "_ratio", "_time")) else 0
    values.update(query="SELECT 1", queryid=7, toplevel=True, database="db", username="me")
    values.update(stats_since=None, minmax_stats_since=None, percent_of_total_time=None)
    values.update(overrides)
    return tuple(values[name] for name in QueryStat._FIELD_NAMES)


@pytest.mark.parametrize(
    ("builder", "block", "params"),
    [
        (lambda: _operations.slow_queries(min_duration_ms=5, limit=3), "slow_queries", (5.0, 3)),
        (lambda: _operations.top_queries_by_total_time(limit=9), "top_queries", (9,)),
        (
            lambda: _operations.queries_with_low_cache_hit(max_cache_hit_ratio=0.5, limit=2),
            "cache_hit_ratio <= $1",
            (0.5, 2),
        ),
    ],
)
def test_statement_operations(
    builder: Callable[[], Operation[list[QueryStat]]], block: str, params: tuple[object, ...]
) -> None:
    op = builder()
    result = Result(QueryStat._FIELD_NAMES, [_stat_row(calls=3)])
    seen, value = drive(op, Context((1, 10), "ext"), {}, default=result)
    assert len(seen) == 1
    assert seen[0].params == params
    assert 'FROM "ext".pg_stat_statements AS p' in seen[0].sql
    assert "{{" not in seen[0].sql
    assert isinstance(value, list)
    assert value[0].calls == 3


def test_catalog_operations() -> None:
    op = _operations.table_statistics(limit=7, order_by="dead_tuples")
    seen, value = drive(op, CTX, {}, default=Result(("x",), []))
    assert seen[0].params == (7, False, list(OWN_TABLES))
    assert 'ORDER BY t.n_dead_tup DESC, schema, "table"' in seen[0].sql
    assert value == []
    op = _operations.index_usage(limit=4, include_pgstatkit=True)
    seen, value = drive(op, CTX, {}, default=Result(("x",), []))
    assert seen[0].params == (4, True, list(OWN_TABLES))
    assert value == []


# ---- the runners, on a fake session -----------------------------------------------------


class FakeSession:
    """A session whose ``fetch`` answers from a dict; records what ran."""

    def __init__(
        self,
        answers: Mapping[str, Result | Exception],
        state: TxState = TxState.IDLE,
        probe: Result | None = None,
    ) -> None:
        self.answers = dict(answers)
        self.state = state
        self.probe = probe or probe_result()
        self.log: list[str] = []
        self.guards: list[bool] = []
        self.ends: list[BaseException | None] = []

    def tx_state(self) -> TxState:
        return self.state

    def is_closed(self) -> bool:
        return False

    def _fetch(self, query: Query) -> Result:
        # the runner marks every statement it sends as pgstatkit's own (pgstatkit._own)
        assert query.sql == mark(query.sql), query.sql
        sql = _normalized(query.sql.replace(f" {MARKER} ", " ", 1))
        self.log.append(sql)
        if "prev_statement_timeout" in sql:
            return SETUP_RESULT
        if "pgss_loaded" in sql:
            return self.probe
        answer = self.answers[sql]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def server_error(self, exc: Exception) -> ServerError:
        # the adapter's job: describe the driver's exception (here: its .sqlstate)
        code = getattr(exc, "sqlstate", None)
        return ServerError(code if isinstance(code, str) else None, str(exc), original=exc)


class FakeSyncSession(FakeSession):
    def begin(self, *, commit: bool) -> None:
        self.guards.append(commit)

    def end(self, error: BaseException | None) -> None:
        self.ends.append(error)

    def fetch(self, query: Query) -> Result:
        return self._fetch(query)


class FakeAsyncSession(FakeSession):
    async def begin(self, *, commit: bool) -> None:
        self.guards.append(commit)

    async def end(self, error: BaseException | None) -> None:
        self.ends.append(error)

    async def fetch(self, query: Query) -> Result:
        return self._fetch(query)


def _generic_answers(explain: Result | Exception) -> dict[str, Result | Exception]:
    answers: dict[str, Result | Exception] = dict.fromkeys(GENERIC_STEPS, EMPTY)
    answers[GENERIC_STEPS[2]] = explain
    answers[PREPARED_CHECK] = Result(("name",), [("pgstatkit_plan_x",)])
    return answers


def test_run_sync_generic_plan() -> None:
    session = FakeSyncSession(_generic_answers(PLAN_RESULT))
    plan = run_sync(session, _operations.query_plan(GENERIC_SQL))
    assert plan.generic
    assert session.log[2:] == GENERIC_STEPS
    assert session.guards == [False]
    assert session.ends == [None]


async def test_run_async_translates_timeout_after_cleanup() -> None:
    failure = DriverError("canceling statement due to statement timeout")
    session = FakeAsyncSession(_generic_answers(failure))
    with pytest.raises(StatementTimeoutError, match="query_plan") as info:
        await run_async(session, _operations.query_plan(GENERIC_SQL))
    assert info.value.__cause__ is failure
    assert session.ends == [failure, None]  # the guard, then the cleanup's own guard
    assert session.guards == [False, False]
    assert session.log[-2:] == [PREPARED_CHECK, "DEALLOCATE pgstatkit_plan_NAME"]


def test_run_sync_untranslated_error_passes_through() -> None:
    failure = ConnectionError("lost")
    session = FakeSyncSession({"EXPLAIN (FORMAT JSON) SELECT 1": failure})
    with pytest.raises(ConnectionError) as info:
        run_sync(session, _operations.query_plan("SELECT 1"))
    assert info.value is failure


def test_run_sync_refuses_failed_transaction() -> None:
    session = FakeSyncSession({}, state=TxState.FAILED)
    with pytest.raises(TransactionStateError):
        run_sync(session, _operations.index_usage())
    assert session.log == []
    assert session.guards == []


def test_run_sync_missing_extension() -> None:
    session = FakeSyncSession({}, probe=probe_result(None, None))
    with pytest.raises(ExtensionNotInstalledError):
        run_sync(session, _operations.slow_queries())
    assert len(session.log) == 2  # only the setup and probe statements ran


async def test_run_async_commit_restores_settings_in_transaction() -> None:
    when = dt.datetime(2025, 5, 1, tzinfo=dt.timezone.utc)
    reset_sql = 'SELECT "public".pg_stat_statements_reset() AS stats_reset'
    restore_sql = restore_query(("x", "y", "z", None, None)).sql
    session = FakeAsyncSession(
        {reset_sql: Result(("stats_reset",), [(when,)]), restore_sql: EMPTY},
        state=TxState.IN_TRANSACTION,
    )
    assert await run_async(session, _operations.reset_query_statistics()) == when
    assert session.guards == [True]
    assert session.log[-1] == restore_sql


def test_run_sync_commit_outside_transaction_does_not_restore() -> None:
    reset_sql = 'SELECT "public".pg_stat_statements_reset() AS stats_reset'
    session = FakeSyncSession({reset_sql: Result(("stats_reset",), [(None,)])})
    assert run_sync(session, _operations.reset_query_statistics()) is None
    assert session.log[-1] == reset_sql


# ---- what the steps see of a driver's error, and what leaves the call --------------------


def _catching(sqlstate: str, seen: list[BaseException]) -> Operation[str]:
    """One query; a failure with ``sqlstate`` is handled (a second query), others let out."""

    def steps(ctx: Context) -> Steps[str]:
        try:
            yield Query("EXPLAIN (FORMAT JSON) SELECT 1")
        except ServerError as exc:
            seen.append(exc)
            if exc.sqlstate != sqlstate:
                raise
            yield Query("SELECT 2")
            return "handled"
        return "ran"

    return Operation("probe", steps, 1000)


def test_steps_see_a_server_error_and_can_handle_it() -> None:
    failure = DriverError("canceling statement due to statement timeout")
    session = FakeSyncSession({"EXPLAIN (FORMAT JSON) SELECT 1": failure, "SELECT 2": EMPTY})
    seen: list[BaseException] = []
    assert run_sync(session, _catching("57014", seen)) == "handled"
    (error,) = seen
    assert isinstance(error, ServerError)
    assert error.sqlstate == "57014"
    assert error.original is failure
    assert session.ends == [None]


@pytest.mark.parametrize("sqlstate", ["57014", "42P01"])
async def test_a_server_error_the_steps_let_out_leaves_as_the_drivers(sqlstate: str) -> None:
    failure = DriverError("x")
    failure.sqlstate = sqlstate
    context = ValueError("what the driver was handling")
    failure.__context__ = context
    session = FakeAsyncSession({"EXPLAIN (FORMAT JSON) SELECT 1": failure})
    seen: list[BaseException] = []
    with pytest.raises(Exception) as info:
        await run_async(session, _catching("23505", seen))
    assert isinstance(seen[0], ServerError)
    if sqlstate == "57014":  # recognised: the pgstatkit error, the driver's as its cause
        assert isinstance(info.value, StatementTimeoutError)
        assert info.value.__cause__ is failure
    else:  # not recognised: the driver's own exception, unchanged
        assert info.value is failure
        assert failure.__context__ is context
        assert not isinstance(failure.__cause__, ServerError)
    assert session.ends == [failure]

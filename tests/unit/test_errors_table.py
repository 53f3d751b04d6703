"""The translation of driver errors: SQLSTATE and operation in, pgstatkit error out.

No message is ever an input (``translate_error`` has no parameter for one), so these
tests are the whole contract: each SQLSTATE class, in each kind of operation.
"""

from __future__ import annotations

import asyncpg.exceptions
import psycopg
import pytest
import sqlalchemy.exc
from hypothesis import given
from hypothesis import strategies as st

from pgstatkit._errors import CALLER_CLASSES, translate_error
from pgstatkit.adapters._base import is_client_param_error, sqlstate_of
from pgstatkit.errors import (
    ExtensionNotLoadedError,
    InsufficientPrivilegeError,
    InvalidArgumentError,
    LockTimeoutError,
    PgStatKitError,
    StatementConflictError,
    StatementPrivilegeError,
    StatementRejectedError,
    StatementTimeoutError,
    TransactionStateError,
)

OPERATIONS = [
    "slow_queries",
    "top_queries_by_total_time",
    "queries_with_low_cache_hit",
    "reset_query_statistics",
    "database_statistics",
    "table_statistics",
    "index_usage",
    "check_setup",
    "install",
    "uninstall",
    "query_plan",
]
NOT_EXPLAIN = [op for op in OPERATIONS if op != "query_plan"]
SQLSTATE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SQLSTATES = st.text(SQLSTATE_CHARS, min_size=5, max_size=5)
# classes that are the server's or the operator's business, never the caller's
SERVER_CLASSES = ["08", "25", "26", "28", "2B", "3D", "53", "57", "58", "72", "F0", "HV", "XX"]


@pytest.mark.parametrize(
    ("sqlstate", "operation", "expected"),
    [
        ("57014", "slow_queries", StatementTimeoutError),
        ("57014", "query_plan", StatementTimeoutError),
        ("55P03", "install", LockTimeoutError),
        ("55P03", "query_plan", LockTimeoutError),
        ("25P02", "index_usage", TransactionStateError),
        ("42501", "reset_query_statistics", InsufficientPrivilegeError),
        ("42501", "query_plan", StatementPrivilegeError),
        ("55000", "slow_queries", ExtensionNotLoadedError),
        ("55000", "query_plan", StatementRejectedError),
        ("40001", "query_plan", StatementConflictError),
        ("40P01", "query_plan", StatementConflictError),
        ("23505", "query_plan", StatementRejectedError),
        ("21000", "query_plan", StatementRejectedError),
        ("P0001", "query_plan", StatementRejectedError),
    ],
)
def test_table(sqlstate: str, operation: str, expected: type[PgStatKitError]) -> None:
    error = translate_error(sqlstate, operation)
    assert type(error) is expected
    if expected not in (ExtensionNotLoadedError, TransactionStateError):
        assert sqlstate in str(error)


@given(SQLSTATES, st.sampled_from(OPERATIONS))
def test_every_answer_is_none_or_a_pgstatkit_error(sqlstate: str, operation: str) -> None:
    error = translate_error(sqlstate, operation)
    assert error is None or isinstance(error, PgStatKitError)
    if isinstance(error, StatementRejectedError):
        assert operation == "query_plan"
        assert error.sqlstate == sqlstate
        assert sqlstate in str(error)


@given(st.sampled_from(sorted(CALLER_CLASSES)), st.text(SQLSTATE_CHARS, min_size=3, max_size=3))
def test_caller_classes_in_explain_are_the_callers(cls: str, rest: str) -> None:
    sqlstate = cls + rest
    error = translate_error(sqlstate, "query_plan")
    assert isinstance(error, StatementRejectedError | StatementTimeoutError), sqlstate
    assert isinstance(translate_error(sqlstate, "query_plan"), type(error))


@given(st.sampled_from(SERVER_CLASSES), st.text(SQLSTATE_CHARS, min_size=3, max_size=3))
def test_server_classes_are_never_the_callers(cls: str, rest: str) -> None:
    sqlstate = cls + rest
    for operation in OPERATIONS:
        assert not isinstance(translate_error(sqlstate, operation), StatementRejectedError)


@given(st.sampled_from(sorted(CALLER_CLASSES)), st.text(SQLSTATE_CHARS, min_size=3, max_size=3))
def test_other_operations_do_not_blame_a_statement(cls: str, rest: str) -> None:
    for operation in NOT_EXPLAIN:
        assert not isinstance(translate_error(cls + rest, operation), StatementRejectedError)


def test_conflicts_and_privilege_keep_their_bases() -> None:
    conflict = translate_error("40001", "query_plan")
    assert isinstance(conflict, StatementRejectedError)
    privilege = translate_error("42501", "query_plan")
    assert isinstance(privilege, StatementRejectedError)
    assert isinstance(privilege, InsufficientPrivilegeError)
    assert "SELECT on its tables" in str(privilege)
    timeout = translate_error("55P03", "slow_queries")
    assert isinstance(timeout, StatementTimeoutError)


@pytest.mark.parametrize(
    ("operation", "words"),
    [
        ("install", ("superuser", "trusted")),
        ("uninstall", ("owner",)),
        ("reset_query_statistics", ("GRANT EXECUTE",)),
        ("slow_queries", ("pg_read_all_stats",)),
    ],
)
def test_privilege_hint_by_operation(operation: str, words: tuple[str, ...]) -> None:
    error = translate_error("42501", operation)
    assert isinstance(error, InsufficientPrivilegeError)
    assert all(word in str(error) for word in words), str(error)


def test_client_param_errors_are_invalid_params_of_explain_only() -> None:
    error = translate_error(None, "query_plan", client_param_error=True)
    assert isinstance(error, InvalidArgumentError)
    assert "params" in str(error)
    # asyncpg gives its own encoding errors SQLSTATE 22000: still the params' fault
    assert isinstance(translate_error("22000", "query_plan", client_param_error=True), ValueError)
    for operation in NOT_EXPLAIN:
        assert translate_error(None, operation, client_param_error=True) is None


# ---- reading the SQLSTATE and the kind of a driver exception -----------------------------


def test_sqlstate_of_reads_wrapped_exceptions() -> None:
    server = psycopg.errors.lookup("42703")("column x does not exist")
    assert sqlstate_of(server) == "42703"
    wrapped = sqlalchemy.exc.DBAPIError("SELECT x", None, server)
    assert sqlstate_of(wrapped) == "42703"
    chained = RuntimeError("wrapper")
    chained.__cause__ = server
    assert sqlstate_of(chained) == "42703"
    assert sqlstate_of(ValueError("23505")) is None
    assert sqlstate_of(psycopg.OperationalError("no SQLSTATE")) is None


def test_client_param_errors_by_type() -> None:
    assert is_client_param_error(psycopg.ProgrammingError("cannot adapt type 'dict'"))
    assert is_client_param_error(psycopg.DataError("text cannot contain NUL"))
    assert not is_client_param_error(psycopg.errors.lookup("22P02")("invalid input syntax"))
    assert not is_client_param_error(psycopg.OperationalError("connection lost"))
    assert is_client_param_error(asyncpg.exceptions.DataError("invalid input for $1"))
    from_server = asyncpg.exceptions.PostgresError.new({"S": "ERROR", "C": "22000", "M": "x"})
    assert type(from_server) is asyncpg.exceptions.DataError
    assert not is_client_param_error(from_server)
    assert not is_client_param_error(ValueError("invalid input"))

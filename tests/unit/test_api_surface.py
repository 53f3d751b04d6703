"""The public API: the sync twin mirrors the async module; errors are exported."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pgstatkit
import pgstatkit.errors
import pgstatkit.stats as async_stats
import pgstatkit.sync.stats as sync_stats
from pgstatkit.adapters import ASYNC_SOURCES, SYNC_SOURCES
from pgstatkit.errors import InvalidArgumentError, PgStatKitError, UnsafeQueryError

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(
    name for name in async_stats.__all__ if inspect.isfunction(getattr(async_stats, name))
)


def test_same_public_names() -> None:
    assert async_stats.__all__ == sync_stats.__all__
    assert set(FUNCTIONS) == {
        "check_setup",
        "database_statistics",
        "health",
        "install",
        "uninstall",
        "index_usage",
        "queries_with_low_cache_hit",
        "query_plan",
        "reset_query_statistics",
        "slow_queries",
        "table_statistics",
        "top_queries_by_total_time",
    }
    for name in async_stats.__all__:
        assert hasattr(sync_stats, name)
    assert sync_stats.TableOrder == async_stats.TableOrder


def test_public_functions_are_exported() -> None:
    public = {
        name
        for name, value in vars(async_stats).items()
        if inspect.isfunction(value)
        and not name.startswith("_")
        and value.__module__ == async_stats.__name__
    }
    assert public == set(FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_signatures_match(name: str) -> None:
    a = inspect.signature(getattr(async_stats, name))
    s = inspect.signature(getattr(sync_stats, name))
    assert list(a.parameters) == list(s.parameters)
    for pa, ps in zip(a.parameters.values(), s.parameters.values(), strict=True):
        assert pa.name == ps.name
        assert pa.kind == ps.kind
        assert pa.default == ps.default
        assert type(pa.default) is type(ps.default)
        assert pa.annotation == ps.annotation
    assert a.return_annotation == s.return_annotation
    first, *rest = a.parameters.values()
    assert first.name == "conn"
    assert first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    for param in rest:
        if param.name != "query":
            assert param.kind is inspect.Parameter.KEYWORD_ONLY, param.name


@pytest.mark.parametrize("name", FUNCTIONS)
def test_docstrings_match(name: str) -> None:
    a = getattr(async_stats, name)
    s = getattr(sync_stats, name)
    assert a.__doc__
    assert a.__doc__ == s.__doc__


def test_module_docstrings_differ_as_expected() -> None:
    assert async_stats.__doc__ != sync_stats.__doc__
    assert "from pgstatkit.sync import stats" in (sync_stats.__doc__ or "")
    assert "from pgstatkit import stats" in (async_stats.__doc__ or "")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_async_and_sync_kinds(name: str) -> None:
    assert inspect.iscoroutinefunction(getattr(async_stats, name))
    assert not inspect.iscoroutinefunction(getattr(sync_stats, name))


def test_sync_module_is_generated() -> None:
    # tools/async_to_sync.py writes it (tests/unit/test_async_to_sync.py checks it is
    # current): it says so, and no async code is left in it
    text = (ROOT / "src" / "pgstatkit" / "sync" / "stats.py").read_text(encoding="utf-8")
    assert text.startswith("# Generated from src/pgstatkit/stats.py by tools/async_to_sync.py")
    assert "tools/async_to_sync.py``: do not edit" in (sync_stats.__doc__ or "")
    tree = ast.parse(text)
    assert not any(
        isinstance(n, ast.AsyncFunctionDef | ast.Await | ast.AsyncWith) for n in ast.walk(tree)
    )


def test_errors_are_exported() -> None:
    for name in pgstatkit.errors.__all__:
        cls = getattr(pgstatkit, name)
        assert cls is getattr(pgstatkit.errors, name)
        assert name in pgstatkit.__all__
        assert issubclass(cls, PgStatKitError)
        assert issubclass(cls, Exception)
    assert issubclass(InvalidArgumentError, ValueError)
    assert pgstatkit.stats is async_stats
    assert pgstatkit.__version__


def test_every_error_class_is_listed() -> None:
    classes = {
        name
        for name, value in vars(pgstatkit.errors).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    assert classes == set(pgstatkit.errors.__all__)


# ---- what the functions do with bad input, without a server -----------------------------

UNSUPPORTED: list[object] = [object(), "postgresql://localhost/db", None, 42, b"dsn"]

CALLS: dict[str, tuple[tuple[object, ...], dict[str, Any]]] = {
    "slow_queries": ((), {}),
    "top_queries_by_total_time": ((), {}),
    "queries_with_low_cache_hit": ((), {}),
    "database_statistics": ((), {}),
    "table_statistics": ((), {}),
    "index_usage": ((), {}),
    "query_plan": (("SELECT 1",), {}),
    "reset_query_statistics": ((), {}),
    "install": ((), {}),
    "uninstall": ((), {}),
    "check_setup": ((), {}),
    "health": ((), {}),
}
BAD_ARGS: dict[str, dict[str, Any]] = {
    "slow_queries": {"limit": 0},
    "top_queries_by_total_time": {"all_databases": "yes"},
    "queries_with_low_cache_hit": {"max_cache_hit_ratio": 90},
    "database_statistics": {"timeout_ms": 0},
    "table_statistics": {"order_by": "size"},
    "index_usage": {"limit": 10.0},
    "query_plan": {"analyze": 1},
    "reset_query_statistics": {"queryid": 0},
    "install": {"schema": "pg_mine"},
    "uninstall": {"schema": ""},
    "check_setup": {"timeout_ms": -1},
    "health": {"checks": ["nope"]},
}


def test_calls_cover_every_function() -> None:
    assert set(CALLS) == set(FUNCTIONS) == set(BAD_ARGS)


@pytest.mark.parametrize("source", UNSUPPORTED, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("name", FUNCTIONS)
async def test_async_rejects_unsupported_connection(name: str, source: object) -> None:
    args, kwargs = CALLS[name]
    with pytest.raises(TypeError) as info:
        await getattr(async_stats, name)(source, *args, **kwargs)
    message = str(info.value)
    assert ASYNC_SOURCES in message
    assert type(source).__qualname__ in message


@pytest.mark.parametrize("source", UNSUPPORTED, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_sync_rejects_unsupported_connection(name: str, source: object) -> None:
    args, kwargs = CALLS[name]
    with pytest.raises(TypeError) as info:
        getattr(sync_stats, name)(source, *args, **kwargs)
    message = str(info.value)
    assert SYNC_SOURCES in message
    assert type(source).__qualname__ in message


def test_supported_types_are_named() -> None:
    for driver in ("asyncpg", "psycopg", "SQLAlchemy"):
        assert driver in ASYNC_SOURCES
    for driver in ("psycopg", "SQLAlchemy"):
        assert driver in SYNC_SOURCES
    assert "asyncpg" not in SYNC_SOURCES


# Validation happens when the operation is built, before the adapter is chosen: a bad
# argument is reported as such even with an unsupported connection.


@pytest.mark.parametrize("name", FUNCTIONS)
async def test_async_validates_before_checking_connection(name: str) -> None:
    args, kwargs = CALLS[name]
    with pytest.raises(InvalidArgumentError):
        await getattr(async_stats, name)(object(), *args, **{**kwargs, **BAD_ARGS[name]})


@pytest.mark.parametrize("name", FUNCTIONS)
def test_sync_validates_before_checking_connection(name: str) -> None:
    args, kwargs = CALLS[name]
    with pytest.raises(InvalidArgumentError):
        getattr(sync_stats, name)(object(), *args, **{**kwargs, **BAD_ARGS[name]})


@pytest.mark.parametrize(
    "call",
    [
        lambda: sync_stats.query_plan(object(), "SELECT 1; DROP TABLE t"),
        lambda: sync_stats.query_plan(None, "VACUUM"),
    ],
)
def test_sync_unsafe_query_before_checking_connection(call: Callable[[], object]) -> None:
    with pytest.raises(UnsafeQueryError):
        call()


async def test_async_unsafe_query_before_checking_connection() -> None:
    with pytest.raises(UnsafeQueryError):
        await async_stats.query_plan(object(), "SELECT 1; DROP TABLE t")


async def test_async_blocking_sqlalchemy_engine_gets_a_hint() -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    # create_engine does not connect until the engine is used.
    engine = sqlalchemy.create_engine("postgresql+psycopg://user@127.0.0.1:1/db")
    try:
        with pytest.raises(TypeError, match=r"pgstatkit\.sync\.stats"):
            await async_stats.index_usage(engine)
    finally:
        engine.dispose()


def test_sync_async_sqlalchemy_engine_gets_a_hint() -> None:
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("asyncpg")
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine("postgresql+asyncpg://user@127.0.0.1:1/db")
    with pytest.raises(TypeError, match="await"):
        sync_stats.index_usage(engine)
    engine.sync_engine.dispose()

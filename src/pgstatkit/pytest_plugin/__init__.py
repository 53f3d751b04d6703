"""pytest plugin: query budgets, N+1 detection and baselines from ``pg_stat_statements``.

Registered through the ``pytest11`` entry point (``pgstatkit``), so every pytest run in an
environment where pgstatkit is installed loads this module. Until it is configured it is
inert: it declares its options, ini settings, the ``query_budget`` marker and the
``pgstatkit_queries`` fixture, and nothing else -- no driver import, no connection, no
hook doing work, no output. It is configured by any of:

- ``--pgstatkit-dsn DSN`` on the command line;
- the ``PGSTATKIT_PYTEST_DSN`` environment variable (not ``PGSTATKIT_TEST_DSN``: that
  one belongs to pgstatkit's own test harness, which adds that server to its matrix);
- the ``pgstatkit_dsn`` ini setting;
- the ``pgstatkit_dsn_fixture`` ini setting: the name of a fixture returning a DSN
  (a session-scoped one that starts a throwaway server, say).

Then :mod:`pgstatkit.pytest_plugin._tracker` does the work; see docs/pytest-plugin.md.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

__all__ = ["DSN_ENV", "TRACKER_NAME", "pgstatkit_queries"]

DSN_ENV = "PGSTATKIT_PYTEST_DSN"
"""The environment variable that configures the plugin (a libpq URI or key=value string)."""

TRACKER_NAME = "pgstatkit-tracker"
"""The name the working half registers under, once configured."""

_BUDGET_HELP = "(empty: no limit; a test's query_budget marker overrides it)"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pgstatkit", "pgstatkit: query budgets from pg_stat_statements")
    group.addoption(
        "--pgstatkit-dsn",
        metavar="DSN",
        help=f"database whose pg_stat_statements each test is measured on (or ${DSN_ENV})",
    )
    group.addoption(
        "--pgstatkit-save-baseline",
        metavar="PATH",
        help="write each test's statements (calls, rows, blocks per call) as JSON to PATH",
    )
    group.addoption(
        "--pgstatkit-compare",
        metavar="PATH",
        help="fail tests whose statements got more expensive than in the baseline PATH",
    )
    group.addoption(
        "--pgstatkit-summary-json",
        metavar="PATH",
        help="write the session's top statements as JSON to PATH (a CI artifact)",
    )
    group.addoption(
        "--pgstatkit-nplusone",
        choices=("off", "warn", "fail"),
        help="what a statement repeated pgstatkit_nplusone_threshold times in a test does",
    )
    parser.addini("pgstatkit_dsn", "pgstatkit: database to measure (as --pgstatkit-dsn)")
    parser.addini("pgstatkit_dsn_fixture", "pgstatkit: name of a fixture returning the DSN")
    for name, what in (
        ("max_calls", "statement executions per test"),
        ("max_statements", "distinct statements per test"),
        ("max_shared_blks", "shared blocks (hit + read) per test"),
        ("max_rows", "rows returned or affected per test"),
    ):
        parser.addini(f"pgstatkit_{name}", f"pgstatkit: default budget, {what} {_BUDGET_HELP}")
    parser.addini("pgstatkit_nplusone", "pgstatkit: off, warn (default) or fail", default="warn")
    parser.addini(
        "pgstatkit_nplusone_threshold",
        "pgstatkit: calls of one statement in one test that count as N+1 (default 10)",
        default="10",
    )
    parser.addini(
        "pgstatkit_tolerance",
        "pgstatkit: allowed growth over the baseline, a fraction (default 0.1 = 10%)",
        default="0.1",
    )
    parser.addini(
        "pgstatkit_fail_on_new_statements",
        "pgstatkit: with --pgstatkit-compare, fail a test that runs a statement the baseline lacks",
        type="bool",
        default=False,
    )
    parser.addini("pgstatkit_summary_json", "pgstatkit: as --pgstatkit-summary-json")
    parser.addini(
        "pgstatkit_summary_top", "pgstatkit: statements in each summary list", default="10"
    )


def _dsn_source(config: pytest.Config) -> tuple[str, str] | None:
    """("dsn", value) or ("fixture", name), or None when the plugin is not configured."""
    dsn = config.getoption("pgstatkit_dsn") or os.environ.get(DSN_ENV, "").strip()
    dsn = dsn or str(config.getini("pgstatkit_dsn")).strip()
    if dsn:
        return "dsn", dsn
    fixture = str(config.getini("pgstatkit_dsn_fixture")).strip()
    return ("fixture", fixture) if fixture else None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "query_budget(max_calls=None, max_statements=None, max_shared_blks=None, "
        "max_rows=None): pgstatkit fails the test when it runs more on the database",
    )
    source = _dsn_source(config)
    if source is None:
        return
    from pgstatkit.pytest_plugin._tracker import Tracker

    config.pluginmanager.register(Tracker(config, *source), TRACKER_NAME)


@pytest.fixture
def pgstatkit_queries(request: pytest.FixtureRequest) -> Any:
    """The statements the running test has sent so far (:class:`~pgstatkit.pytest_plugin.
    _tracker.TestQueries`); skips the test when the plugin is not configured or off."""
    tracker = request.config.pluginmanager.get_plugin(TRACKER_NAME)
    if tracker is None:
        pytest.skip(f"pgstatkit query tracking is not configured (--pgstatkit-dsn or ${DSN_ENV})")
    return tracker.queries_for(request)

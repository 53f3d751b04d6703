"""A real Prometheus server scrapes the router's metrics, and reads them as we mean them.

The router runs under a real ``uvicorn`` on a loopback port; Debian's ``prometheus``
scrapes it every second (bearer token, as in docs/prometheus.md). Its HTTP API then
says: the target is up, every pgstatkit counter family is typed ``counter`` (a
hand-written exposition with ``# TYPE x counter`` above ``x_total`` samples made
Prometheus' parser see them all as ``unknown``), and every family has samples.
``promtool check metrics`` accepts the body. Skipped without ``prometheus``/``promtool``
(``apt-get install prometheus``); a failure under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from fastapi import FastAPI
from http_support import PREFIX, TOKEN

from harness import servers
from harness.servers import TestServer
from pgstatkit.alerting import ALERTS, render_alert_rules
from pgstatkit.fastapi import bearer_token, create_router
from pgstatkit.models import DatabaseStatistics
from pgstatkit.prometheus import Snapshot, metric_families

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


def _binary(path: str, name: str) -> str:
    found = path if Path(path).is_file() else shutil.which(name)
    if found is None:
        message = f"{name} not found: apt-get install prometheus"
        if servers.strict():
            pytest.fail(message)
        pytest.skip(message)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, token: str | None = None) -> bytes:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def _api(base: str, path: str) -> Any:
    """An answer of Prometheus' HTTP API (``/api/v1/...``)."""
    answer = json.loads(_get(f"{base}/api/v1/{path}"))
    assert answer["status"] == "success", answer
    return answer["data"]


@contextlib.contextmanager
def serve(dsn: str) -> Iterator[int]:
    """The router under uvicorn, on a free loopback port, in a thread."""
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        try:
            yield
        finally:
            await state["pool"].close()

    app = FastAPI(lifespan=lifespan)
    router = create_router(lambda: state["pool"], auth=bearer_token(TOKEN), metrics_top_n=10)
    app.include_router(router, prefix=PREFIX)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def prometheus(
    target_port: int,
    tmp_path: Path,
    *,
    credentials_file: Path | None = None,
    rule_file: Path | None = None,
) -> Iterator[str]:
    """A Prometheus server scraping the router every second; yields its base URL.

    The bearer token is inline (``credentials``) or, with ``credentials_file``, read
    from that file (as docs/prometheus.md recommends); ``rule_file`` is loaded as a
    rules file, evaluated every second.
    """
    binary = _binary(PROMETHEUS, "prometheus")
    config = tmp_path / "prometheus.yml"
    credentials = (
        f"      credentials: {TOKEN}\n"
        if credentials_file is None
        else f"      credentials_file: {credentials_file}\n"
    )
    rules = "" if rule_file is None else f"rule_files:\n  - {rule_file}\n"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        f"{rules}"
        "scrape_configs:\n"
        "  - job_name: pgstatkit\n"
        f"    metrics_path: {PREFIX}/performance/metrics\n"
        "    authorization:\n"
        f"{credentials}"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    port = _free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_for_scrapes(base: str, count: int = 3, timeout_s: float = 60.0) -> dict[str, Any]:
    """The pgstatkit target once it was scraped ``count`` times (up, with samples)."""
    deadline = time.monotonic() + timeout_s
    target: dict[str, Any] = {}
    scrapes = 0
    last_scrape = None
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            targets = _api(base, "targets")["activeTargets"]
            target = next((t for t in targets if t["labels"]["job"] == "pgstatkit"), {})
            if target.get("health") == "up" and target.get("lastScrape") != last_scrape:
                last_scrape, scrapes = target["lastScrape"], scrapes + 1
                if scrapes >= count:
                    return target
        time.sleep(0.3)
    raise AssertionError(f"Prometheus did not scrape the router: {target}")


def _query(base: str, promql: str) -> list[dict[str, Any]]:
    return list(_api(base, "query?" + urllib.parse.urlencode({"query": promql}))["result"])


def _families() -> dict[str, str]:
    """Every family pgstatkit exports, by sample name, with its type."""
    values = {f.name: 1 for f in dataclasses.fields(DatabaseStatistics)}
    database = DatabaseStatistics(**{**values, "database": "db", "stats_reset": None})
    found = {}
    for family in metric_families(Snapshot(database, [])):
        name = family.name + ("_total" if family.type == "counter" else "")
        found[name] = family.type
    return found


def test_a_real_prometheus_reads_every_counter_as_a_counter(
    pg_server: TestServer, tmp_path: Path
) -> None:
    promtool = _binary(PROMTOOL, "promtool")
    pg_server.psql("SELECT 1 + 1 AS warmup")
    with serve(pg_server.dsn) as port, prometheus(port, tmp_path) as base:
        body = _get(f"http://127.0.0.1:{port}{PREFIX}/performance/metrics", TOKEN)
        check = subprocess.run(
            [promtool, "check", "metrics"], input=body, capture_output=True, check=False
        )
        assert check.returncode == 0, check.stdout + check.stderr
        target = _wait_for_scrapes(base)
        assert target["lastError"] == ""
        metadata = _api(base, "metadata")
        families = _families()
        statement_counters = [n for n in families if n.startswith("pgstatkit_statement_")]
        assert len(statement_counters) == 7
        for name, kind in families.items():
            # the metadata of the series' own name (what a query or a UI looks up)
            found = metadata.get(name)
            assert found, f"{name}: no metadata"
            assert {m["type"] for m in found} == {kind}, (name, found)
            assert all(m["help"] for m in found), (name, found)
            series = _query(base, name)
            assert series, f"{name}: no samples"
            if kind == "counter":
                assert all(float(s["value"][1]) >= 0 for s in series)
        unknown = {n: m for n, m in metadata.items() if n.startswith("pgstatkit_")}
        assert all(m[0]["type"] != "unknown" for m in unknown.values()), unknown
        assert _query(base, "pgstatkit_up")[0]["value"][1] == "1"
        # one series per label set of a statement
        calls = _query(base, "pgstatkit_statement_calls_total")
        keys = [tuple(s["metric"][k] for k in ("queryid", "database", "user")) for s in calls]
        assert len(keys) == len(set(keys)) <= 10


def test_a_real_prometheus_scrapes_with_a_token_file_and_loads_the_alert_rules(
    pg_server: TestServer, tmp_path: Path
) -> None:
    """The documented setup: the bearer token in a credentials file, pgstatkit's rendered
    alert rules loaded; the metrics are queried back from Prometheus' HTTP API and every
    rule evaluates without error (health ``ok``)."""
    token_file = tmp_path / "pgstatkit-token"
    token_file.write_text(TOKEN + "\n")  # Prometheus strips the trailing newline
    token_file.chmod(0o600)
    rule_file = tmp_path / "pgstatkit-rules.yml"
    rule_file.write_text(render_alert_rules(job="pgstatkit", mean_window="10s", mean_for="0s"))
    pg_server.psql("SELECT 2 + 2 AS token_file_probe")
    with (
        serve(pg_server.dsn) as port,
        prometheus(port, tmp_path, credentials_file=token_file, rule_file=rule_file) as base,
    ):
        target = _wait_for_scrapes(base, count=2)
        assert target["lastError"] == "", target
        assert _query(base, 'pgstatkit_up{job="pgstatkit"}')[0]["value"][1] == "1"
        evictions = _query(base, "pgstatkit_pg_stat_statements_deallocations_total")
        assert len(evictions) == 1 and float(evictions[0]["value"][1]) >= 0
        calls = _query(base, "sum(pgstatkit_statement_calls_total)")
        assert float(calls[0]["value"][1]) > 0
        deadline = time.monotonic() + 30
        while True:
            groups = _api(base, "rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            if rules and all(
                r.get("lastEvaluation", "").startswith("2")
                and not r["lastEvaluation"].startswith("0001")
                for r in rules
            ):
                break
            assert time.monotonic() < deadline, rules
            time.sleep(0.3)
        assert {r["name"] for r in rules} == set(ALERTS)
        assert all(r["health"] == "ok" for r in rules), [
            (r["name"], r.get("lastError")) for r in rules
        ]
        # the database answers: nothing fires about it
        assert not [r for r in rules if r["name"] in ALERTS[:3] and r["state"] != "inactive"]

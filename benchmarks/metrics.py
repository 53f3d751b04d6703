"""Metrics scrapes side by side: pgstatkit's endpoint and postgres_exporter (issue 20).

Each subject is a service of its own, scraped over HTTP as Prometheus does, round-robin
in one loop (the order rotating every repetition):

``pgstatkit top_n=20`` / ``top_n=100``
    ``benchmarks/metrics_server.py``: the admin router's ``GET /performance/metrics``
    under uvicorn with an asyncpg pool (a process of its own).
``postgres_exporter``
    Debian's ``prometheus-postgres-exporter`` with a query file equivalent to
    upstream's ``stat_statements`` collector (its SQL, top 100 by total execution time
    over the 10th percentile), default metrics on; ``... statements only``: the same
    with ``--disable-default-metrics --disable-settings-metrics``.
``floor``
    ``SELECT * FROM pg_stat_statements(showtext := false)`` over asyncpg: what the
    server must do at least to read the statistics.

Each subject connects as a role of its own (member of ``pg_read_all_stats``), so the
server time per scrape is read from the server's own accounting: the growth of
``total_exec_time + total_plan_time`` of that role's ``pg_stat_statements`` entries over
the timed scrapes, divided by their number. Memory: the subject process's resident set
(``VmRSS``) after the scrapes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

__all__ = ["EXPORTER", "ScrapeResult", "measure"]

HERE = Path(__file__).resolve().parent
EXPORTER = shutil.which("prometheus-postgres-exporter") or shutil.which("postgres_exporter")

# upstream's collector/pg_stat_statements.go (v0.15+), as a query file for the
# --extend.query-path of Debian's 0.11 (which has no stat_statements collector)
_STATEMENTS_SQL = """SELECT
  pg_get_userbyid(userid) as user,
  pg_database.datname,
  pg_stat_statements.queryid,
  pg_stat_statements.calls as calls_total,
  pg_stat_statements.total_exec_time / 1000.0 as seconds_total,
  pg_stat_statements.rows as rows_total,
  pg_stat_statements.{read} / 1000.0 as block_read_seconds_total,
  pg_stat_statements.{write} / 1000.0 as block_write_seconds_total
  FROM pg_stat_statements
  JOIN pg_database ON pg_database.oid = pg_stat_statements.dbid
  WHERE total_exec_time > (
    SELECT percentile_cont(0.1) WITHIN GROUP (ORDER BY total_exec_time)
    FROM pg_stat_statements)
  ORDER BY seconds_total DESC
  LIMIT 100"""

_QUERY_FILE = """pg_stat_statements:
  query: |
{sql}
  metrics:
    - user: {{usage: "LABEL", description: "user"}}
    - datname: {{usage: "LABEL", description: "database"}}
    - queryid: {{usage: "LABEL", description: "queryid"}}
    - calls_total: {{usage: "COUNTER", description: "Number of times executed"}}
    - seconds_total: {{usage: "COUNTER", description: "Total time spent, in seconds"}}
    - rows_total: {{usage: "COUNTER", description: "Rows retrieved or affected"}}
    - block_read_seconds_total: {{usage: "COUNTER", description: "Block read time"}}
    - block_write_seconds_total: {{usage: "COUNTER", description: "Block write time"}}
"""

FLOOR_SQL = "SELECT * FROM pg_stat_statements(showtext := false)"


def query_file(major: int) -> str:
    """The exporter's query file for a server of ``major``."""
    read, write = (
        ("shared_blk_read_time", "shared_blk_write_time")
        if major >= 17
        else ("blk_read_time", "blk_write_time")
    )
    sql = _STATEMENTS_SQL.format(read=read, write=write)
    return _QUERY_FILE.format(sql="\n".join("    " + line for line in sql.splitlines()))


@dataclass
class ScrapeResult:
    """One subject at one fill level."""

    label: str
    entries: int
    times: list[float] = field(default_factory=list)
    server_ms: float = 0.0
    bytes: int = 0
    series: int = 0
    rss_kib: int | None = None
    status: str = "ok"

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000 if self.times else float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            return int(next(line.split()[1] for line in f if line.startswith("VmRSS:")))
    except (OSError, StopIteration, ValueError):
        return None


def _series(text: str) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


class _Http:
    """A service scraped over HTTP (a subprocess)."""

    def __init__(self, label: str, role: str, argv: list[str], env: dict[str, str], url: str):
        self.label, self.role, self.url = label, role, url
        self.proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.client = httpx.Client(timeout=60)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                self.close()
                raise RuntimeError(f"{label} did not come up: {err[-2000:]}")
            time.sleep(0.2)

    def scrape(self) -> tuple[int, str]:
        r = self.client.get(self.url)
        return r.status_code, r.text

    def rss_kib(self) -> int | None:
        return _rss_kib(self.proc.pid)

    def close(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


ROLES = (
    "bench_pgstatkit20",
    "bench_pgstatkit100",
    "bench_exporter",
    "bench_exporter_s",
    "bench_floor",
)


def create_roles(cluster: Any) -> None:
    for role in ROLES:
        cluster.psql(
            f"DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; "
            f"END $$; GRANT pg_read_all_stats TO {role};"
        )


def _server_ms(cluster: Any, db: str) -> dict[str, float]:
    out = cluster.psql(
        "SELECT r.rolname, sum(s.total_exec_time + s.total_plan_time) "
        "FROM pg_stat_statements(false) AS s JOIN pg_roles AS r ON r.oid = s.userid "
        "WHERE r.rolname LIKE 'bench\\_%' GROUP BY 1;",
        dbname=db,
    )
    found: dict[str, float] = {}
    for line in out.splitlines():
        name, total = line.split("|")
        found[name] = float(total)
    return found


def measure(
    cluster: Any, db: str, major: int, *, entries: int, reps: int, warmup: int, log: Any
) -> list[ScrapeResult]:
    """Every subject at the current fill level of ``db``."""
    create_roles(cluster)
    services: list[_Http] = []
    tmp = tempfile.mkdtemp(prefix="pgstatkit-bench-")
    try:
        for top_n in (20, 100):
            port = _free_port()
            services.append(
                _Http(
                    f"pgstatkit `/performance/metrics`, top_n={top_n}",
                    f"bench_pgstatkit{top_n}",
                    [
                        sys.executable,
                        str(HERE / "metrics_server.py"),
                        cluster.dsn(db, user=f"bench_pgstatkit{top_n}"),
                        str(port),
                        str(top_n),
                    ],
                    dict(os.environ),
                    f"http://127.0.0.1:{port}/performance/metrics",
                )
            )
        if EXPORTER is None:
            log("  prometheus-postgres-exporter not found: its rows are left out")
        else:
            path = Path(tmp) / "queries.yaml"
            path.write_text(query_file(major), encoding="utf-8")
            for role, label, extra in (
                ("bench_exporter", "postgres_exporter, statements query file, top 100", []),
                (
                    "bench_exporter_s",
                    "postgres_exporter, statement metrics only",
                    ["--disable-default-metrics", "--disable-settings-metrics"],
                ),
            ):
                port = _free_port()
                env = dict(os.environ)
                env["DATA_SOURCE_NAME"] = cluster.dsn(db, user=role) + "?sslmode=disable"
                services.append(
                    _Http(
                        label,
                        role,
                        [
                            EXPORTER,
                            f"--web.listen-address=127.0.0.1:{port}",
                            f"--extend.query-path={path}",
                            "--log.level=error",
                            *extra,
                        ],
                        env,
                        f"http://127.0.0.1:{port}/metrics",
                    )
                )
        return asyncio.run(_loop(cluster, db, services, entries, reps, warmup))
    finally:
        for service in services:
            service.close()
        shutil.rmtree(tmp, ignore_errors=True)


async def _loop(
    cluster: Any, db: str, services: list[_Http], entries: int, reps: int, warmup: int
) -> list[ScrapeResult]:
    floor = await asyncpg.connect(cluster.dsn(db, user="bench_floor"))
    try:
        results = {s.label: ScrapeResult(s.label, entries) for s in services}
        floor_result = ScrapeResult(
            "floor: `SELECT * FROM pg_stat_statements(showtext := false)`", entries
        )
        names: list[_Http | None] = [*services, None]
        before: dict[str, float] = {}
        for rep in range(warmup + reps):
            if rep == warmup:
                before = await asyncio.to_thread(_server_ms, cluster, db)
            shift = rep % len(names)
            for subject in names[shift:] + names[:shift]:
                start = time.perf_counter()
                if subject is None:
                    rows = await floor.fetch(FLOOR_SQL)
                    elapsed = time.perf_counter() - start
                    if rep >= warmup:
                        floor_result.times.append(elapsed)
                        floor_result.series = len(rows)
                    continue
                status, text = await asyncio.to_thread(subject.scrape)
                elapsed = time.perf_counter() - start
                result = results[subject.label]
                if status != 200:
                    result.status = f"HTTP {status}"
                if rep >= warmup:
                    result.times.append(elapsed)
                    result.bytes = len(text.encode())
                    result.series = _series(text)
        after = await asyncio.to_thread(_server_ms, cluster, db)
        for service in services:
            result = results[service.label]
            result.server_ms = (after.get(service.role, 0) - before.get(service.role, 0)) / reps
            result.rss_kib = service.rss_kib()
        floor_result.server_ms = (after.get("bench_floor", 0) - before.get("bench_floor", 0)) / reps
        return [*results.values(), floor_result]
    finally:
        await floor.close()

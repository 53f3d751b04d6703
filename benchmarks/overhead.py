"""The cost of pg_stat_statements itself on a pgbench workload.

Four clusters of the same installation run side by side, identical except for:

``not loaded``        ``shared_preload_libraries`` empty
``track=top``         pg_stat_statements loaded, ``track=top``, ``track_planning=off``
``track=all``         ``track=all``, ``track_planning=off``
``track_planning=on`` ``track=top``, ``track_planning=on``

All have ``pg_stat_statements.max=10000`` (where loaded), ``track_io_timing=off`` and
the harness's other settings (fsync off...). Each is initialized with
``pgbench -i -s SCALE``; then for each run, for each configuration, for each script
(``-S`` select-only, and the default TPC-B-like script) pgbench runs with ``-c 4 -j 2
-T SECONDS`` -- runs interleaved across configurations, so drift hits all alike. The
result is the median tps over the runs and its ratio to ``not loaded``.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

from pgstatkit.testing import Cluster, Installation

__all__ = ["CONFIGS", "Overhead", "measure"]

_COMMON = {"track_io_timing": "off", "shared_buffers": "128MB"}
_PGSS = {"pg_stat_statements.max": "10000"}

CONFIGS: dict[str, tuple[bool, dict[str, str]]] = {
    "not loaded": (False, {}),
    "track=top": (
        True,
        {**_PGSS, "pg_stat_statements.track": "top", "pg_stat_statements.track_planning": "off"},
    ),
    "track=all": (
        True,
        {**_PGSS, "pg_stat_statements.track": "all", "pg_stat_statements.track_planning": "off"},
    ),
    "track_planning=on": (
        True,
        {**_PGSS, "pg_stat_statements.track": "top", "pg_stat_statements.track_planning": "on"},
    ),
}
SCRIPTS = {"select-only (-S)": ["-S"], "TPC-B-like (default)": []}

_TPS_RE = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)


@dataclass
class Overhead:
    """pgbench results of one installation."""

    server: str
    scale: int
    clients: int
    threads: int
    seconds: int
    runs: int
    tps: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    shmem: dict[str, str] = field(default_factory=dict)

    def median(self, script: str, config: str) -> float:
        return statistics.median(self.tps[script, config])

    def ratio(self, script: str, config: str) -> float:
        return self.median(script, config) / self.median(script, "not loaded")


def _pgbench(cluster: Cluster, *args: str, timeout_s: float) -> str:
    argv = [
        os.fspath(cluster.bindir / "pgbench"),
        "-h",
        cluster.host,
        "-p",
        str(cluster.port),
        "-U",
        "postgres",
        *args,
        "bench",
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench {' '.join(args)} failed: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def _shared_memory(cluster: Cluster) -> dict[str, str]:
    rows = cluster.psql(
        "SELECT name, size FROM pg_catalog.pg_shmem_allocations "
        "WHERE name LIKE 'pg_stat_statements%' ORDER BY name;"
    )
    out = dict(line.split("|") for line in rows.splitlines())
    out["shared_memory_size"] = cluster.psql("SHOW shared_memory_size;")
    return out


def measure(
    installation: Installation,
    *,
    scale: int,
    seconds: int,
    runs: int,
    clients: int = 4,
    threads: int = 2,
    log: Callable[[str], object] = print,
) -> Overhead:
    """pgbench tps under every configuration of :data:`CONFIGS`."""
    result = Overhead(f"PostgreSQL {installation.version}", scale, clients, threads, seconds, runs)
    with ExitStack() as stack:
        clusters: dict[str, Cluster] = {}
        for name, (preload, settings) in CONFIGS.items():
            cluster = Cluster(
                installation,
                preload_pg_stat_statements=preload,
                settings={**_COMMON, **settings},
            )
            stack.enter_context(cluster)
            cluster.psql("CREATE DATABASE bench;")
            _pgbench(cluster, "-i", "-q", "-s", str(scale), timeout_s=600)
            clusters[name] = cluster
            result.shmem[name] = _shared_memory(cluster)
        for run in range(runs):
            for name, cluster in clusters.items():
                for script, flags in SCRIPTS.items():
                    out = _pgbench(
                        cluster,
                        *flags,
                        "-c",
                        str(clients),
                        "-j",
                        str(threads),
                        "-T",
                        str(seconds),
                        timeout_s=seconds * 5 + 60,
                    )
                    match = _TPS_RE.search(out)
                    if match is None:
                        raise RuntimeError(f"no tps in pgbench output:\n{out}")
                    tps = float(match.group(1))
                    result.tps.setdefault((script, name), []).append(tps)
                    log(f"  pgbench {run + 1}/{runs} {name:18s} {script:22s} {tps:10.1f} tps")
    return result

"""pgstatkit benchmarks: ``nox -s bench`` or ``python benchmarks/run.py [--quick]``.

Starts its own throwaway clusters (never a server already on the machine), fills
pg_stat_statements with 1k, 5k and 10k distinct statements, times every statistics
function against the raw drivers, measures what pg_stat_statements costs a pgbench
workload, and writes the results to docs/benchmarks.md (or ``--output``).
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

import health
import latency
import metrics
import overhead
import plugin_overhead
import report
import workload

from pgstatkit.testing import Installation, embedded_installation, find_installations

ROOT = Path(__file__).resolve().parent.parent
DB = "bench"
MARGIN = 100  # entries left for the benchmark's own statements, so none is evicted


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


KEPT_BLOCKS = (
    ("<!-- advisor-benchmark -->", "<!-- /advisor-benchmark -->"),  # advisor_bench.py
    ("<!-- history-bench:begin -->", "<!-- history-bench:end -->"),  # history.py
)
"""Sections of the page that other scripts write: run.py keeps them as they are."""


def keep_blocks(old: str, text: str) -> str:
    """``text`` with the sections of ``old`` (the page before) that other scripts wrote
    (:data:`KEPT_BLOCKS`), in the page's order, before the Findings."""
    if "## Findings" not in text:
        return text
    found = sorted(
        (old.index(start), old[old.index(start) : old.index(end) + len(end)])
        for start, end in KEPT_BLOCKS
        if start in old and end in old
    )
    for _, block in found:
        text = text.replace("## Findings", block + "\n\n## Findings", 1)
    return text


def installations(which: str) -> list[Installation]:
    found = {i.major: i for i in reversed(find_installations()) if i.has_pg_stat_statements}
    embedded = embedded_installation()
    if embedded is not None and embedded.major not in found:
        found[embedded.major] = embedded
    if which == "all":
        chosen = [found[m] for m in sorted(found)]
    elif which == "newest":
        chosen = [found[max(found)]] if found else []
    else:
        chosen = [found[int(which)]] if int(which) in found else []
    if not chosen:
        sys.exit(f"no PostgreSQL installation with pg_stat_statements for --server {which}")
    return chosen


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    mem = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
        with open("/proc/meminfo", encoding="utf-8") as f:
            kib = int(next(line.split()[1] for line in f if line.startswith("MemTotal")))
            mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "machine": f"{cpu}, {os.cpu_count()} CPUs{mem}",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "drivers": f"asyncpg {version('asyncpg')}, psycopg {version('psycopg')}",
        "pgstatkit": version("pgstatkit"),
    }


def bench_server(
    installation: Installation,
    *,
    levels: tuple[int, ...],
    reps: int,
    pgbench: tuple[int, int, int] | None,
    warmup: int,
    plugin_only: bool = False,
    sections: tuple[str, ...] = report.SECTIONS,
    metrics_reps: int = 30,
) -> report.ServerResult:
    """Everything measured on one server (metrics: at the first and last fill level, only
    the last in quick mode, which runs 5 repetitions)."""
    from pgstatkit.testing import Cluster

    result = report.ServerResult(f"PostgreSQL {installation.version} ({installation.source})")
    log(f"== {result.name}")
    with Cluster(installation) as cluster:
        cluster.psql(f"CREATE DATABASE {DB};")
        workload.create_schema(cluster, DB)
        cluster.psql("SELECT pg_stat_statements_reset();", dbname=DB)
        filled = 0
        for level in levels:
            target = min(level, workload.MAX_STATEMENTS + MARGIN) - MARGIN
            start = time.perf_counter()
            workload.fill(cluster, DB, filled, target)
            filled = target
            entries, text_bytes, file_bytes = cluster.psql(
                "SELECT count(*), sum(length(query)), "
                "(SELECT size FROM pg_stat_file('pg_stat_tmp/pgss_query_texts.stat')) "
                "FROM pg_stat_statements;",
                dbname=DB,
            ).split("|")
            log(
                f"  filled {filled} statements ({time.perf_counter() - start:.1f} s): "
                f"{entries} entries, {int(text_bytes) / 1e6:.1f} MB of text"
            )
            start = time.perf_counter()
            result.plugin.append(
                plugin_overhead.measure(
                    cluster.dsn(DB), entries=int(entries), reps=reps, warmup=warmup
                )
            )
            log(f"  pytest plugin at {entries} entries: {time.perf_counter() - start:.1f} s")
            if plugin_only:
                continue
            top = level == levels[-1]
            result.levels.append(
                {"entries": entries, "text_bytes": text_bytes, "file_bytes": file_bytes}
            )
            if "latency" in sections:
                calls = latency.CALLS if top else tuple(c for c in latency.CALLS if c.pgss)
                start = time.perf_counter()
                result.measurements += latency.run_level(
                    cluster.dsn(DB),
                    entries=int(entries),
                    reps=reps,
                    warmup=warmup,
                    memory=top,
                    calls=calls,
                )
                log(f"  latency at {entries} entries: {time.perf_counter() - start:.1f} s")
            if "metrics" in sections and (top or (level == levels[0] and metrics_reps > 5)):
                start = time.perf_counter()
                result.metrics += metrics.measure(
                    cluster,
                    DB,
                    installation.major,
                    entries=int(entries),
                    reps=metrics_reps,
                    warmup=3,
                    log=log,
                )
                log(f"  metrics at {entries} entries: {time.perf_counter() - start:.1f} s")
    if pgbench is not None and "pgbench" in sections:
        scale, seconds, runs = pgbench
        start = time.perf_counter()
        result.overhead = overhead.measure(
            installation, scale=scale, seconds=seconds, runs=runs, log=log
        )
        log(f"  pgbench: {time.perf_counter() - start:.1f} s")
    return result


def splice_plugin(page: str, section: list[str]) -> str:
    """``page`` with its pytest plugin section (between :data:`report.PLUGIN_MARKERS`)
    replaced by ``section``, or inserted before the Findings when it has none: the other
    sections, and the Findings computed from the tables, stay as they are."""
    text = "\n".join(section).rstrip() + "\n"
    begin, end = report.PLUGIN_MARKERS
    start = page.find(begin)
    if start != -1 and page.find(end, start) != -1:
        stop = page.index(end, start) + len(end) + 1
        return page[:start] + text + page[stop:]
    at = page.index("## Findings")
    return page[:at] + text + "\n" + page[at:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, under 2 minutes")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "docs" / "benchmarks.md", help="markdown file"
    )
    parser.add_argument(
        "--server",
        choices=["15", "18", "all", "newest"],
        default=None,
        help="server major(s) to run on (default: all; --quick: newest)",
    )
    parser.add_argument("--no-pgbench", action="store_true", help="skip the pgbench part")
    parser.add_argument(
        "--plugin-only",
        action="store_true",
        help="only the pytest plugin's overhead, spliced into the existing --output page",
    )
    parser.add_argument(
        "--only",
        default=",".join(report.SECTIONS),
        help="comma-separated sections to run (latency, pgbench, metrics); the others are "
        "kept from the output file as it is",
    )
    parser.add_argument("--no-health", action="store_true", help="skip the health checks part")
    parser.add_argument(
        "--health-only",
        action="store_true",
        help="only the health checks part: rewrite its section of the existing page",
    )
    args = parser.parse_args(argv)
    sections = tuple(s for s in report.SECTIONS if s in args.only.split(","))
    unknown = set(args.only.split(",")) - set(report.SECTIONS)
    if unknown or not sections:
        parser.error(f"--only takes {', '.join(report.SECTIONS)}; got {args.only!r}")

    began = time.perf_counter()
    if args.quick:
        levels: tuple[int, ...] = (1000, 10000)
        reps, warmup = 3, 1
        pgbench: tuple[int, int, int] | None = (1, 2, 1)
    else:
        levels = (1000, 5000, 10000)
        reps, warmup = 11, 2
        pgbench = (10, 8, 3)
    if args.no_pgbench or args.plugin_only:
        pgbench = None
    if "latency" not in sections:
        levels = (levels[0], levels[-1])
    previous = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    chosen = installations(args.server or ("newest" if args.quick else "all"))
    health_reps = 3 if args.quick else 7
    health_lines: list[str] = []
    if not args.no_health and not args.plugin_only:
        results = []
        for inst in chosen:
            log(f"== health checks: PostgreSQL {inst.version}")
            tables = 200 if args.quick else health.TABLES
            results.append(health.measure(inst, reps=health_reps, tables=tables, log=log))
        health_lines = health.section(results, health_reps)
    if args.health_only:
        page = args.output.read_text(encoding="utf-8")
        args.output.write_text(health.splice(page, health_lines), encoding="utf-8")
        log(f"wrote the health section of {args.output} in {time.perf_counter() - began:.0f} s")
        return 0
    servers = [
        bench_server(
            inst,
            levels=levels,
            reps=reps,
            pgbench=pgbench,
            warmup=warmup,
            plugin_only=args.plugin_only,
            sections=sections,
            metrics_reps=5 if args.quick else 30,
        )
        for inst in chosen
    ]
    if args.plugin_only:
        page = args.output.read_text(encoding="utf-8")
        args.output.write_text(splice_plugin(page, report.plugin_section(servers)), "utf-8")
        log(f"spliced the pytest plugin section into {args.output}")
        return 0
    command = "nox -s bench" + (" -- --quick" if args.quick else "")
    if args.server:
        command += (" -- " if not args.quick else " ") + f"--server {args.server}"
    if sections != report.SECTIONS:
        command += (" -- " if " -- " not in command else " ") + f"--only {','.join(sections)}"
    text = report.render(
        servers=servers,
        machine=machine(),
        command=command,
        quick=args.quick,
        reps=reps,
        elapsed_s=time.perf_counter() - began,
        health=health_lines,
        sections=sections,
        previous=previous,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    old = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
    text = keep_blocks(old, text)
    args.output.write_text(text, encoding="utf-8")
    log(f"wrote {args.output} in {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

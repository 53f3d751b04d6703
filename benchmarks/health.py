"""The health checks on a large catalog: 2,000 tables and 6,000 indexes.

Each table has a primary key, an index on ``a`` and one on ``(a, b)`` (so every table
has a covered index), a foreign key to the first table without an index on its column,
10 rows and fresh statistics (``ANALYZE``). ``stats.health(conn)`` is timed through
asyncpg (median of the repetitions, after one warm-up), once with the defaults and once
with ``bloat_min_bytes = 0`` (every relation estimated), and each check on its own, to
show where the time goes. Goal: the whole call under 2 s.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

from pgstatkit.testing import Cluster, Installation

TABLES = 2000
GOAL_S = 2.0
DB = "bench_health"

SCHEMA = """
CREATE TABLE hb_1 (id int PRIMARY KEY, a int, b int, parent int);
CREATE INDEX ON hb_1 (a);
CREATE INDEX ON hb_1 (a, b);
DO $$
BEGIN
  FOR i IN 2..{tables} LOOP
    EXECUTE format('CREATE TABLE hb_%s (id int PRIMARY KEY, a int, b int,'
                   ' parent int REFERENCES hb_1 (id))', i);
    EXECUTE format('CREATE INDEX ON hb_%s (a)', i);
    EXECUTE format('CREATE INDEX ON hb_%s (a, b)', i);
    IF i % 100 = 0 THEN COMMIT; END IF;
  END LOOP;
END $$;
INSERT INTO hb_1 SELECT g, g, g, NULL FROM generate_series(1, 10) AS g;
DO $$
BEGIN
  FOR i IN 2..{tables} LOOP
    EXECUTE format('INSERT INTO hb_%s SELECT g, g, g, g FROM generate_series(1, 10) AS g', i);
    IF i % 200 = 0 THEN COMMIT; END IF;
  END LOOP;
END $$;
ANALYZE;
"""


@dataclass
class HealthResult:
    """The timings on one server, in seconds."""

    server: str
    built: int = 0
    tables: int = 0
    indexes: int = 0
    whole: list[float] = field(default_factory=list)
    whole_all_bloat: list[float] = field(default_factory=list)
    per_check: dict[str, float] = field(default_factory=dict)
    problems: int = 0


async def _time(dsn: str, reps: int, result: HealthResult) -> None:
    import asyncpg

    from pgstatkit import _health, stats

    conn = await asyncpg.connect(dsn)
    try:
        report = await stats.health(conn, timeout_ms=60_000)  # warm-up
        result.problems = len(report.problems)
        for _ in range(reps):
            start = time.perf_counter()
            await stats.health(conn, timeout_ms=60_000)
            result.whole.append(time.perf_counter() - start)
            start = time.perf_counter()
            await stats.health(conn, thresholds={"bloat_min_bytes": 0}, timeout_ms=60_000)
            result.whole_all_bloat.append(time.perf_counter() - start)
        for name in _health.CHECKS:
            runs = []
            for _ in range(max(1, reps // 2)):
                start = time.perf_counter()
                await stats.health(conn, checks=[name], timeout_ms=60_000)
                runs.append(time.perf_counter() - start)
            result.per_check[name] = statistics.median(runs)
    finally:
        await conn.close()


def measure(
    installation: Installation, *, reps: int, tables: int = TABLES, log: object = print
) -> HealthResult:
    """Build the catalog (``tables`` tables, three indexes each) on a throwaway cluster of
    ``installation`` and time health()."""
    result = HealthResult(f"PostgreSQL {installation.version} ({installation.source})")
    with Cluster(installation) as cluster:
        cluster.psql(f"CREATE DATABASE {DB};")
        cluster.psql("CREATE EXTENSION pg_stat_statements;", dbname=DB)
        start = time.perf_counter()
        cluster.psql(SCHEMA.format(tables=tables), dbname=DB)
        counts = cluster.psql(
            "SELECT count(*) FILTER (WHERE relkind = 'r'), count(*) FILTER (WHERE relkind = 'i')"
            " FROM pg_class WHERE relname LIKE 'hb\\_%';",
            dbname=DB,
        ).split("|")
        result.tables, result.indexes = int(counts[0]), int(counts[1])
        if callable(log):
            log(
                f"  health: {result.tables} tables, {result.indexes} indexes built in "
                f"{time.perf_counter() - start:.0f} s"
            )
        asyncio.run(_time(cluster.dsn(DB), reps, result))
    return result


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def section(results: list[HealthResult], reps: int) -> list[str]:
    """The markdown section ``## Health checks`` (its tables, then the verdict)."""
    out = [
        BEGIN,
        "## Health checks",
        "",
        f"`stats.health(conn)` on a database of {results[0].tables:,} tables and "
        f"{results[0].indexes:,} indexes (`benchmarks/health.py`): each table has a "
        "primary key, an index on `a` covered by one on `(a, b)`, a foreign key without "
        "an index, 10 rows and fresh statistics. asyncpg, median of "
        f"{reps} calls after a warm-up (each check alone: median of {max(1, reps // 2)}). "
        f"Goal: the whole call under {GOAL_S:.0f} s.",
        "",
    ]
    for r in results:
        whole = statistics.median(r.whole)
        all_bloat = statistics.median(r.whole_all_bloat)
        verdict = "meets the goal" if whole < GOAL_S else "**is over the goal**"
        out += [
            f"### {r.server}: health() at {r.tables:,} tables, {r.indexes:,} indexes",
            "",
            "| call | median ms | min ms | max ms |",
            "|---|--:|--:|--:|",
            f"| `health(conn)` (defaults; {r.problems} problems found) | {_ms(whole)} | "
            f"{_ms(min(r.whole))} | {_ms(max(r.whole))} |",
            "| `health(conn, thresholds={'bloat_min_bytes': 0})` (every relation "
            f"estimated) | {_ms(all_bloat)} | {_ms(min(r.whole_all_bloat))} | "
            f"{_ms(max(r.whole_all_bloat))} |",
            "",
            "| check alone | median ms |",
            "|---|--:|",
            *[
                f"| `{name}` | {_ms(t)} |"
                for name, t in sorted(r.per_check.items(), key=lambda kv: -kv[1])
            ],
            "",
            f"The whole call with the defaults {verdict} ({_ms(whole)} ms); estimating "
            f"every relation (`bloat_min_bytes = 0`, not the default) takes "
            f"{_ms(all_bloat)} ms.",
            "",
        ]
    return [*out[:-1], END]


BEGIN, END = "<!-- health-bench:begin -->", "<!-- health-bench:end -->"


def splice(page: str, lines: list[str]) -> str:
    """``page`` with its health section (between :data:`BEGIN` and :data:`END`)
    replaced by ``lines``; inserted before ``## Findings`` when it has none."""
    text = "\n".join(lines).rstrip() + "\n"
    start, end = page.find(BEGIN), page.find(END)
    if start >= 0 and end > start:
        return page[:start] + text + "\n" + page[end + len(END) :].lstrip("\n")
    at = page.find("## Findings")
    at = len(page) if at < 0 else at
    return page[:at] + text + "\n" + page[at:]

"""Render the benchmark results as docs/benchmarks.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import findings
from latency import Measurement
from metrics import ScrapeResult
from overhead import CONFIGS, SCRIPTS, Overhead
from plugin_overhead import VARIANTS, PluginOverhead

__all__ = [
    "GOAL",
    "HEADERS",
    "PLUGIN_HEADING",
    "PLUGIN_MARKERS",
    "SECTIONS",
    "ServerResult",
    "plugin_section",
    "render",
]

GOAL = findings.GOAL

PGBENCH_NOTE = (
    "Read the runs column before the ratios: where the runs of one configuration spread "
    "wider than the gap between configurations (client and server share 2 CPUs with "
    "other work here), the ratio is noise, not overhead."
)

HEADERS = {
    "latency": (
        "| call | driver | rows | pgstatkit ms | same-SQL floor ms | ratio | "
        "bare SELECT ms | ratio vs bare | goal |"
    ),
    "growth": (
        "| entries | query texts | text file | call | pgstatkit ms | bare SELECT ms | "
        "showtext=false ms | text file share |"
    ),
    "memory": "| call | driver | rows | pgstatkit peak KiB | same-SQL floor peak KiB | ratio |",
    "pgbench": "| script | configuration | tps (median) | runs | ratio vs not loaded |",
    "plugin": "| entries | "
    + " | ".join(f"{v} ms" for v in VARIANTS.values())
    + " | load average |",
    "loops": "| call | pgstatkit | same-SQL floor | extra |",
    "cpu": (
        "| call | driver | rows | pgstatkit CPU ms | same-SQL floor CPU ms | extra ms | "
        "extra us per row |"
    ),
    "metrics": (
        "| subject | scrape ms | server ms per scrape | server vs floor | bytes | series | "
        "process RSS MiB |"
    ),
}

PLUGIN_HEADING = "## pytest plugin: overhead per test"
PLUGIN_MARKERS = ("<!-- pytest-plugin-benchmark -->", "<!-- /pytest-plugin-benchmark -->")
"""Around the section, so that ``run.py --plugin-only`` replaces only it."""

WHERE_THE_TIME_GOES = (
    "**Where the time of a call goes.** pgstatkit sends the floor's statements, so its "
    "round trips are the floor's five (`BEGIN`, setup, probe, the `SELECT`, `ROLLBACK`); "
    "what it adds is work in the client (*client CPU per call*). A profile "
    "(`time.process_time`, pgstatkit and the floor interleaved, PostgreSQL 18.6, load "
    "average about 3 on the 2 CPUs, 2026-11-29):",
    "",
    "- *10,000 rows* (`top_queries_by_total_time(limit=10000)`, 9,906 rows, asyncpg): the "
    "floor's client CPU is 40-43 ms (asyncpg decoding the rows); pgstatkit's is "
    "10.5-11.2 ms more, of which 10.2-10.3 ms (1.03 us per row) is building the models "
    "and freeing each driver row right after (`pgstatkit/_parse.py`), the rest 0.3-0.9 "
    "ms; the code before (one `__init__` call per row, the driver's rows freed after "
    "all models were built) was 25.7 ms more (2.4 us per row). Merely copying each "
    "row's 56 values into a tuple costs 1.3-1.5 us per row: a model costs no more than "
    "touching each value once, which any conversion must (the values are spread over "
    "some 20 MB, beyond the CPU's caches). Against the floor's wall time (about "
    "180-200 ms here) that is 1.05-1.06x. The latency run's own *client CPU per call* "
    "can show up to twice that: other jobs on the 2 CPUs slow the client's work down "
    "as well, unevenly (identical rows cost 8-30 ms more on one run of PostgreSQL 15).",
    "- *a few rows* (`database_statistics()`, 1 row, 600 runs of each, four times): asyncpg "
    "takes 16 event-loop iterations to the floor's 10; the 6 more are the tasks of the two "
    "shields around `BEGIN` and the rollback, which keep a cancellation from leaving the "
    "connection inside pgstatkit's transaction (75-90 us of CPU); the runner's own "
    "bookkeeping (parsing the setup and the probe, the marker, the model, the cleanups' "
    "check) is 125-145 us, spread over some twenty functions (60-75 us of user time in a "
    "process that runs only pgstatkit's calls). psycopg takes 25 iterations, as each "
    "statement also runs in a task of its own: psycopg does not finish a cancelled "
    "statement by itself, so the first cancellation must reach it while later ones wait "
    "(160-170 us). pgstatkit / floor was 1.12-1.16x on asyncpg and 1.11-1.15x on "
    "psycopg (floor 1.7-3.0 ms); without the shields (not safe: for the profile only) "
    "1.06-1.10x and 1.07-1.08x: on a call of 2-3 ms, what is above 1.10x is the price "
    "of the cancellation guarantees.",
)
"""Static text of the method (a profile); numbers of the run are in the tables."""

SECTIONS = ("latency", "pgbench", "metrics")
"""What ``benchmarks/run.py --only`` can choose; the others are kept from the page."""

METRICS_GOAL = findings.METRICS_GOAL


@dataclass
class ServerResult:
    """Everything measured on one server."""

    name: str
    levels: list[dict[str, object]] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    overhead: Overhead | None = None
    plugin: list[PluginOverhead] = field(default_factory=list)
    metrics: list[ScrapeResult] = field(default_factory=list)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def _spread(m: Measurement, variant: str) -> str:
    s = m.variants[variant]
    return f"{_ms(s.median)} ({_ms(s.quantile(0.1))}-{_ms(s.quantile(0.9))})"


def _size(n: object) -> str:
    value = float(str(n))
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)  # pragma: no cover


def _latency(server: ServerResult) -> list[str]:
    top = max(int(str(level["entries"])) for level in server.levels)
    lines = [
        f"### {server.name}: latency at {top:,} entries",
        "",
        "Median over the repetitions, p10-p90 in parentheses; ratio = pgstatkit median / "
        "floor median.",
        "",
        HEADERS["latency"],
        "|---|---|--:|--:|--:|--:|--:|--:|:-:|",
    ]
    for m in server.measurements:
        if m.entries != top:
            continue
        ratio = m.ratio("same_sql")
        lines.append(
            f"| `{m.call.label}` | {m.driver} | {m.rows:,} | {_spread(m, 'pgstatkit')} | "
            f"{_spread(m, 'same_sql')} | {ratio:.2f}x | {_ms(m.variants['bare'].median)} | "
            f"{m.ratio('bare'):.2f}x | {'ok' if ratio <= GOAL else '**over**'} |"
        )
    return lines


def _growth(server: ServerResult) -> list[str]:
    lines = [
        f"### {server.name}: growth with the number of entries (asyncpg)",
        "",
        "text file share = 1 - showtext=false / bare SELECT: the part of the server's time "
        "spent reading `pgss_query_texts.stat` and building the `query` values.",
        "",
        HEADERS["growth"],
        "|--:|--:|--:|---|--:|--:|--:|--:|",
    ]
    info = {int(str(level["entries"])): level for level in server.levels}
    for m in server.measurements:
        if m.driver != "asyncpg" or "no_text" not in m.variants:
            continue
        if not m.call.label.startswith("top_queries_by_total_time"):
            continue
        level = info[m.entries]
        bare = m.variants["bare"].median
        no_text = m.variants["no_text"].median
        lines.append(
            f"| {m.entries:,} | {_size(level['text_bytes'])} | {_size(level['file_bytes'])} | "
            f"`{m.call.label}` | {_ms(m.variants['pgstatkit'].median)} | {_ms(bare)} | "
            f"{_ms(no_text)} | {100 * (1 - no_text / bare):.0f}% |"
        )
    return lines


def _memory(server: ServerResult) -> list[str]:
    lines = [
        f"### {server.name}: peak client memory",
        "",
        HEADERS["memory"],
        "|---|---|--:|--:|--:|--:|",
    ]
    for m in server.measurements:
        if not m.peak_kib:
            continue
        pk, floor = m.peak_kib["pgstatkit"], m.peak_kib["same_sql"]
        lines.append(
            f"| `{m.call.label}` | {m.driver} | {m.rows:,} | {pk:,.0f} | {floor:,.0f} | "
            f"{pk / floor:.2f}x |"
        )
    return lines


def _loops(server: ServerResult) -> list[str]:
    rows = [m for m in server.measurements if m.loop_iterations]
    if not rows:
        return []
    lines = [
        f"### {server.name}: event-loop iterations per call (asyncpg)",
        "",
        "Counted over 20 runs of each variant (`BaseEventLoop._run_once` calls); each "
        "costs an `epoll` call and the loop's bookkeeping, whatever the work.",
        "",
        HEADERS["loops"],
        "|---|--:|--:|--:|",
    ]
    for m in rows:
        ours, floor = m.loop_iterations["pgstatkit"], m.loop_iterations["same_sql"]
        lines.append(f"| `{m.call.label}` | {ours:.1f} | {floor:.1f} | {ours - floor:+.1f} |")
    return [*lines, ""]


def _cpu(server: ServerResult) -> list[str]:
    if not server.measurements:
        return []
    top = max(m.entries for m in server.measurements)
    rows = [m for m in server.measurements if m.entries == top]
    lines = [
        f"### {server.name}: client CPU per call",
        "",
        "Median CPU time of the benchmark's process per run (`time.process_time`, the "
        "same runs as the latency table): the client's own work, which other jobs on the "
        "machine slow down but do not add to. *extra* is what pgstatkit does beyond the "
        "driver returning the same rows; per row where the call returned rows.",
        "",
        HEADERS["cpu"],
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for m in rows:
        ours = m.variants["pgstatkit"].cpu_median
        floor = m.variants["same_sql"].cpu_median
        per_row = f"{(ours - floor) / m.rows * 1e6:.2f}" if m.rows else "-"
        lines.append(
            f"| `{m.call.label}` | {m.driver} | {m.rows:,} | {_ms(ours)} | {_ms(floor)} | "
            f"{(ours - floor) * 1000:+.2f} | {per_row} |"
        )
    return [*lines, ""]


def _pgbench(o: Overhead) -> list[str]:
    lines = [
        f"### {o.server}: pgbench (scale {o.scale}, {o.clients} clients, {o.threads} "
        f"threads, {o.seconds} s per run, {o.runs} run{'s' if o.runs > 1 else ''} each)",
        "",
        HEADERS["pgbench"],
        "|---|---|--:|---|--:|",
    ]
    for script in SCRIPTS:
        for config in CONFIGS:
            runs = ", ".join(f"{t:,.0f}" for t in o.tps[script, config])
            lines.append(
                f"| {script} | {config} | {o.median(script, config):,.0f} | {runs} | "
                f"{o.ratio(script, config):.3f} |"
            )
    base = o.shmem["not loaded"]["shared_memory_size"]
    loaded = o.shmem["track=top"]
    named = ", ".join(f"`{k}` {_size(v)}" for k, v in loaded.items() if k != "shared_memory_size")
    lines += [
        "",
        f"Shared memory at `pg_stat_statements.max = 10000`: `shared_memory_size` "
        f"{loaded['shared_memory_size']} with the module loaded, {base} without; "
        f"`pg_shmem_allocations`: {named or 'no named allocation'}.",
        "",
        PGBENCH_NOTE,
    ]
    return lines


def plugin_section(servers: Sequence[ServerResult]) -> list[str]:
    """The pytest plugin's section (benchmarks/plugin_overhead.py): a table per server."""
    measured = [s for s in servers if s.plugin]
    if not measured:
        return []
    out = [
        PLUGIN_MARKERS[0],
        PLUGIN_HEADING,
        "",
        "What `pgstatkit.pytest_plugin` adds to each test (`benchmarks/plugin_overhead.py`; "
        "this section alone: `python benchmarks/run.py --plugin-only`, which rewrites only "
        "it), "
        "with its own reads on its own psycopg connection, on the filled database: *per "
        "test* is the read before a test plus the read after it and the difference, around "
        "a statement seen before; *per test, new statement* adds the text lookup of a "
        "statement never seen before (once per statement and run); *one read* is one "
        "`pg_stat_statements(showtext := false)` read through pgstatkit's guard; *read "
        "with texts* is a bare `SELECT * FROM pg_stat_statements`, which reads the "
        "query-text file, for comparison. Median (10th-90th percentile), variants "
        "interleaved; the test's own statement is not timed. *load average*: the machine's "
        "1-minute load when the level was done (other work shares the CPUs; compare it "
        "with the CPU count above before reading the times).",
        "",
    ]
    for server in measured:
        out += [f"### {server.name}: pytest plugin overhead per test", "", HEADERS["plugin"]]
        out.append("|--:|" + "--:|" * (len(VARIANTS) + 1))
        for level in server.plugin:
            cells = [
                f"{_ms(level.samples[k].median)} ({_ms(level.samples[k].quantile(0.1))}-"
                f"{_ms(level.samples[k].quantile(0.9))})"
                for k in VARIANTS
            ]
            out.append(f"| {level.entries:,} | " + " | ".join(cells) + f" | {level.load_avg:.1f} |")
        out.append("")
    return [*out[:-1], PLUGIN_MARKERS[1], ""]


def _metrics(server: ServerResult) -> list[str]:
    lines: list[str] = []
    for entries in sorted({r.entries for r in server.metrics}):
        rows = [r for r in server.metrics if r.entries == entries]
        floor = next(r for r in rows if r.label.startswith("floor"))
        lines += [
            f"### {server.name}: metrics scrapes at {entries:,} entries",
            "",
            "Median scrape over HTTP (p10-p90); server time per scrape from the subject "
            "role's `pg_stat_statements` entries; the floor is one "
            "`pg_stat_statements(showtext := false)` read (its client time in the scrape "
            "column, its row count in the series column).",
            "",
            HEADERS["metrics"],
            "|---|--:|--:|--:|--:|--:|--:|",
        ]
        for r in rows:
            times = sorted(r.times)
            spread = (
                f"{r.median_ms:.2f} ({times[len(times) // 10] * 1000:.2f}-"
                f"{times[-1 - len(times) // 10] * 1000:.2f})"
            )
            vs = f"{r.server_ms / floor.server_ms:.2f}x" if floor.server_ms > 0 else "-"
            rss = f"{r.rss_kib / 1024:.1f}" if r.rss_kib is not None else "-"
            status = "" if r.status == "ok" else f" ({r.status})"
            lines.append(
                f"| {r.label}{status} | {spread} | {r.server_ms:.2f} | {vs} | "
                f"{r.bytes:,} | {r.series:,} | {rss} |"
            )
        lines.append("")
        lines += _metrics_goals(rows, floor)
        lines.append("")
    return lines


def _metrics_goals(rows: list[ScrapeResult], floor: ScrapeResult) -> list[str]:
    """What the table says about issue 20's goals, computed from its rows."""
    ours = [r for r in rows if r.label.startswith("pgstatkit")]
    theirs = [r for r in rows if r.label.startswith("postgres_exporter")]
    out = []
    for r in ours:
        ratio = r.server_ms / floor.server_ms if floor.server_ms > 0 else float("nan")
        verdict = "within" if ratio <= METRICS_GOAL else "**over**"
        out.append(
            f"- {r.label}: server time {ratio:.2f}x the floor, {verdict} the "
            f"{METRICS_GOAL}x goal"
            + (
                "; scrape "
                + ", ".join(
                    f"{r.median_ms / t.median_ms:.2f}x {t.label}'s" for t in theirs if t.times
                )
                if theirs
                else ""
            )
            + "."
        )
    return out


def _block(text: str, heading: str) -> list[str]:
    """The lines of ``text`` from the line ``heading`` to the next heading (exclusive)."""
    lines = text.split("## Findings")[0].splitlines()
    if heading not in lines:
        return []
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return lines[start:end]


def _kept(previous: str, server: str, kind: str) -> list[str]:
    """The blocks of ``previous`` (an earlier page) for ``server``'s section ``kind``."""
    prefix = f"### {server}: "
    starts = {
        "latency": ("latency at", "growth", "peak client memory", "client CPU", "event-loop"),
        "pgbench": ("pgbench",),
        "metrics": ("metrics scrapes",),
    }[kind]
    server_short = server.split(" (")[0]
    out: list[str] = []
    for line in previous.split("## Findings")[0].splitlines():
        for candidate in (prefix, f"### {server_short}: "):
            if line.startswith(candidate) and line[len(candidate) :].startswith(starts):
                out += _block(previous, line)
                break
    return out


def render(
    *,
    servers: Sequence[ServerResult],
    machine: dict[str, str],
    command: str,
    quick: bool,
    reps: int,
    elapsed_s: float,
    health: Sequence[str] = (),
    sections: tuple[str, ...] = SECTIONS,
    previous: str | None = None,
) -> str:
    """The whole markdown document (``health``: the lines of the health checks'
    section, ``benchmarks/health.py``). The ``sections`` not measured this time are
    copied from ``previous`` (the page as it was), so one part can be rerun alone."""
    out = [
        "# Benchmarks",
        "",
        "Generated by `benchmarks/run.py`; do not edit by hand. Reproduce with:",
        "",
        "```bash",
        command,
        "```",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine.items()],
        f"| servers | {', '.join(s.name for s in servers)} |",
        f"| mode | {'quick (smoke run, numbers are rough)' if quick else 'full'}, "
        f"{reps} timed repetitions per variant, finished in {elapsed_s:.0f} s |",
        "",
        "## Method",
        "",
        "**Statements.** Each throwaway cluster (`pgstatkit.testing.Cluster`: "
        "`pg_stat_statements.max = 10000`, `track = all`, `track_planning = on`, "
        "`track_io_timing = on`) gets 200 small tables and is filled with structurally "
        "distinct statements (`benchmarks/workload.py`): 40% point lookups (43-170 "
        "characters), 40% two-table joins (about 300-900), 20% reporting queries of "
        "about 4 KB (a CTE, 60 conditional aggregates, three tables). The entry count is "
        "read back from `pg_stat_statements`; nothing is evicted at the top level.",
        "",
        "**Latency.** For each call and driver (asyncpg `Connection`, psycopg "
        "`AsyncConnection` in autocommit), these variants run round-robin in one loop, "
        "the order rotating every repetition, so machine drift cancels:",
        "",
        "- *pgstatkit*: the public call, `await pgstatkit.stats.<fn>(conn, ...)`, "
        "returning models.",
        "- *same-SQL floor*: the exact statements pgstatkit sends, with the same "
        "parameters, through the same driver, returning plain rows: `BEGIN`, the guard's "
        "setup and probe statements (`sql/queries/session.sql`), the operation's `SELECT`, "
        "`ROLLBACK` (psycopg: its own `transaction(force_rollback=True)`, as pgstatkit's "
        "adapter). The statements are taken from pgstatkit's operation objects. "
        "pgstatkit / floor is pgstatkit's Python overhead; the goal is at most "
        f"{GOAL:.2f}x.",
        "- *bare SELECT*: only the operation's `SELECT`, in autocommit. The difference "
        "to the same-SQL floor is the price of the safety guard (timeouts, read-only "
        "transaction, rollback: four more round trips, `BEGIN`, the setup, the probe and "
        "`ROLLBACK`).",
        "- *showtext=false*: the bare `SELECT` reading "
        "`pg_stat_statements(showtext := false)` instead of the view, to show how much "
        "of the server's work is reading the query-text file.",
        "",
        "Every variant returns its rows (pgstatkit: models; the others: the driver's "
        "rows), freed after its timing stopped, never inside the next variant's. With the "
        "wall clock, the CPU time of the benchmark's process is taken for each run "
        "(*client CPU per call*).",
        "",
        *WHERE_THE_TIME_GOES,
        "",
        "**Memory.** Peak Python-heap allocation (`tracemalloc`) of one call with its "
        "result still referenced; memory the drivers allocate outside the Python "
        "allocator (libpq buffers) is not counted.",
        "",
        "**pg_stat_statements overhead.** Four clusters of the same installation, "
        "identical except for: module not loaded; `track = top`; `track = all`; "
        "`track = top` with `track_planning = on` (all with `track_io_timing = off`, "
        "`shared_buffers = 128MB`, `max = 10000`). `pgbench -i -s SCALE`, then "
        "`pgbench -S` (select-only) and the default TPC-B-like script with `-c 4 -j 2 "
        "-T SECONDS`, runs interleaved across the configurations; the median tps and its "
        "ratio to *not loaded* are reported, not asserted. Client and server share the "
        "machine, so on few cores a ratio within a few percent of 1 is noise.",
        "",
        "**Metrics scrapes.** At about 1,000 and 10,000 entries, each subject runs as a "
        "process of its own and is scraped over HTTP, round-robin (`benchmarks/metrics.py`): "
        "pgstatkit's `GET /performance/metrics` (the admin router under uvicorn, an "
        "asyncpg pool) with `top_n` 20 (its default) and 100; Debian's "
        "`prometheus-postgres-exporter` with a query file equivalent to upstream's "
        "`stat_statements` collector (top 100 by total execution time, above the 10th "
        "percentile), with its default metrics and with statement metrics only; and the "
        "floor, `SELECT * FROM pg_stat_statements(showtext := false)`. Each connects as a "
        "role of its own, so the server time per scrape is the growth of that role's "
        "`total_exec_time + total_plan_time` in `pg_stat_statements`; memory is the "
        "process's resident set after the scrapes. Goals (issue 20): pgstatkit's server "
        f"time per scrape at most {METRICS_GOAL}x the floor's, its scrape at most "
        "postgres_exporter's.",
        "",
        "## Results",
        "",
    ]
    kept = previous or ""
    for server in servers:
        if "latency" in sections:
            out += [*_latency(server), ""]
            over = [
                m
                for m in server.measurements
                if m.entries == max(x.entries for x in server.measurements)
                and m.ratio("same_sql") > GOAL
            ]
            if over:
                out += [
                    "Over the goal: "
                    + "; ".join(f"`{m.call.label}` on {m.driver}" for m in over)
                    + ". See *Findings* below.",
                    "",
                ]
            out += [*_growth(server), ""]
            out += [*_memory(server), ""]
            out += _cpu(server)
            out += _loops(server)
        else:
            out += _kept(kept, server.name, "latency")
        if server.overhead is not None:
            out += [*_pgbench(server.overhead), ""]
        elif "pgbench" not in sections:
            out += _kept(kept, server.name, "pgbench")
        if server.metrics:
            out += _metrics(server)
        elif "metrics" not in sections:
            out += _kept(kept, server.name, "metrics")
    out += plugin_section(servers)
    out += list(health)
    body = "\n".join(out).rstrip() + "\n"
    return body + "\n" + findings.render(body)

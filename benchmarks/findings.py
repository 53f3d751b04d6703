"""The *Findings* of docs/benchmarks.md, computed from the page's own tables.

:func:`render` reads the result tables of a rendered report (everything above
``## Findings``) and writes what they show, with their numbers: which calls meet the
goal, how the overhead depends on the number of rows, the server's share, the price of
the safety guard, memory, and what pg_stat_statements costs pgbench. ``report.render``
appends it, and ``tests/test_benchmarks_findings.py`` recomputes it from the committed
page, so the prose cannot drift from the tables (nor describe code that changed: it only
states what was measured).

Pure Python, no driver imports: the test reads it without the benchmark's dependencies.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["GOAL", "METRICS_GOAL", "Page", "parse", "render"]

GOAL = 1.10
METRICS_GOAL = 1.5
"""pgstatkit's server time per metrics scrape, at most this times the floor's."""
LARGE_ROWS = 1000  # a "large" result: the 10,000-row calls
HEADING = re.compile(
    r"^### (.+?): (latency at [\d,]+ entries|growth .*|peak client memory|pgbench .*"
    r"|event-loop iterations .*|client CPU per call|metrics scrapes at [\d,]+ entries)$"
)


@dataclass
class Server:
    """The tables of one server, as rows of cells (strings, as printed)."""

    latency: list[list[str]] = field(default_factory=list)
    growth: list[list[str]] = field(default_factory=list)
    memory: list[list[str]] = field(default_factory=list)
    pgbench: list[list[str]] = field(default_factory=list)
    loops: list[list[str]] = field(default_factory=list)
    cpu: list[list[str]] = field(default_factory=list)
    metrics: dict[str, list[list[str]]] = field(default_factory=dict)


Page = dict[str, Server]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse(text: str) -> Page:
    """The result tables of a report, by server (the name before the heading's colon,
    without the "(system)"/"(embedded)" source)."""
    page: Page = {}
    current: list[list[str]] | None = None
    for line in text.split("## Findings")[0].splitlines():
        heading = HEADING.match(line)
        if heading:
            name = re.sub(r" \((system|embedded)\)$", "", heading.group(1))
            server = page.setdefault(name, Server())
            kind = heading.group(2).split()[0]
            if kind == "metrics":
                current = server.metrics.setdefault(heading.group(2).split()[3], [])
                continue
            current = {"latency": server.latency, "growth": server.growth,
                       "peak": server.memory, "pgbench": server.pgbench,
                       "event-loop": server.loops, "client": server.cpu}[kind]  # fmt: skip
        elif line.startswith("#"):
            current = None
        elif current is not None and line.startswith("|") and not line.startswith("|-"):
            cells = _cells(line)
            if not cells[0].startswith(("call", "entries", "script", "subject")):  # header
                current.append(cells)
    return page


def _num(cell: str) -> float:
    """``1,234.5`` / ``1.10x`` / ``59.41 (58.61-61.48)`` / ``48%`` as a number."""
    return float(cell.split(" ")[0].rstrip("x%").replace(",", ""))


def _span(values: Iterable[float], fmt: str) -> str:
    found = sorted(values)
    if not found:
        return "n/a"
    low, high = format(found[0], fmt), format(found[-1], fmt)
    return low if low == high else f"{low} to {high}"


def _goal(name: str, server: Server) -> str:
    over = [r for r in server.latency if "over" in r[8]]
    met = len(server.latency) - len(over)
    text = f"**{name}**: {met} of {len(server.latency)} calls meet the {GOAL:.2f}x goal"
    if not over:
        return text + "."
    named = "; ".join(f"{r[0]} on {r[1]} ({_num(r[5]):.2f}x)" for r in over)
    return text + f"; over it: {named}."


def _by_size(server: Server) -> str:
    large = [r for r in server.latency if _num(r[2]) >= LARGE_ROWS]
    small = [r for r in server.latency if _num(r[2]) < LARGE_ROWS]
    extra = [_num(r[3]) - _num(r[4]) for r in small]
    large_ratio = _span((_num(r[5]) for r in large), ".2f")
    small_ratio = _span((_num(r[5]) for r in small), ".2f")
    return (
        f"Calls returning {LARGE_ROWS:,} rows or more run {large_ratio}x the same-SQL floor; "
        f"calls returning fewer run {small_ratio}x, {_span(extra, '.2f')} ms above it."
    )


def _server_share(server: Server) -> str:
    pgss = [r for r in server.latency if r[0].startswith(("`top_", "`slow_", "`queries_"))]
    top = max((_num(r[0]) for r in server.growth), default=0)
    shares = [_num(r[7]) for r in server.growth if _num(r[0]) == top]
    guard = [_num(r[4]) - _num(r[6]) for r in server.latency]
    return (
        f"A pg_stat_statements call costs the server {_span((_num(r[6]) for r in pgss), '.1f')} ms "
        f"(bare SELECT) at {top:,.0f} entries; reading the query-text "
        f"file is {_span(shares, '.0f')}% of that (*showtext=false*). The safety guard "
        f"(same-SQL floor minus bare SELECT) costs a median {statistics.median(guard):.2f} ms "
        f"({_span(guard, '.2f')} ms)."
        if guard and pgss
        else "No pg_stat_statements call was measured."
    )


def _memory(server: Server) -> str:
    large = [_num(r[5]) for r in server.memory if _num(r[2]) >= LARGE_ROWS]
    every = [_num(r[5]) for r in server.memory]
    return (
        f"Peak client memory is {_span(large, '.2f')}x the floor's for {LARGE_ROWS:,} rows "
        f"or more ({_span(every, '.2f')}x over every call)."
    )


def _pgbench(server: Server) -> str:
    if not server.pgbench:
        return ""
    parts = []
    for script in dict.fromkeys(r[0] for r in server.pgbench):
        rows = [r for r in server.pgbench if r[0] == script]
        base = next(r for r in rows if r[1] == "not loaded")
        runs = [_num(x) for x in base[3].split(", ")]
        spread = (max(runs) - min(runs)) / _num(base[2]) if len(runs) > 1 else 0.0
        ratios = [_num(r[4]) for r in rows if r[1] != "not loaded"]
        parts.append(
            f"{script}: {_span(ratios, '.3f')} of the tps without the module (the runs "
            f"without it alone spread {spread:.0%} of their median)"
        )
    return "pgbench with pg_stat_statements loaded: " + "; ".join(parts) + "."


def _loops(server: Server) -> str:
    if not server.loops:
        return ""
    large = {r[0] for r in server.latency if _num(r[2]) >= LARGE_ROWS}
    few = [r for r in server.loops if r[0] not in large]
    many = [r for r in server.loops if r[0] in large]
    text = (
        f"On asyncpg a call returning fewer than {LARGE_ROWS:,} rows takes "
        f"{_span((_num(r[3]) for r in few), '.0f')} event-loop iterations more than the "
        f"same-SQL floor's {_span((_num(r[2]) for r in few), '.0f')} (the cancellation "
        "shields' tasks around BEGIN and the rollback)"
    )
    if many:
        text += (
            f"; with {LARGE_ROWS:,} rows or more the count follows how the rows arrive "
            f"({_span((_num(r[3]) for r in many), '.0f')} more than the floor's "
            f"{_span((_num(r[2]) for r in many), '.0f')})"
        )
    return text + "."


def _cpu(server: Server) -> str:
    if not server.cpu:
        return ""
    small = [_num(r[5]) for r in server.cpu if _num(r[2]) < LARGE_ROWS]
    large = [r for r in server.cpu if _num(r[2]) >= LARGE_ROWS]
    text = (
        "pgstatkit's own client work (its process's CPU time above the same-SQL floor's): "
        f"{_span(small, '.2f')} ms per call returning fewer than {LARGE_ROWS:,} rows"
    )
    if large:
        text += (
            f"; {_span((_num(r[5]) for r in large), '.2f')} ms for {LARGE_ROWS:,} rows or "
            f"more, {_span((_num(r[6]) for r in large), '.2f')} us per row (the floor's own "
            f"CPU there: {_span((_num(r[4]) for r in large), '.2f')} ms)"
        )
    return text + "."


def _metrics(server: Server) -> list[str]:
    out = []
    for entries, rows in server.metrics.items():
        floor = next((r for r in rows if r[0].startswith("floor")), None)
        theirs = {r[0]: _num(r[1]) for r in rows if r[0].startswith("postgres_exporter")}
        for r in rows:
            if not r[0].startswith("pgstatkit") or floor is None:
                continue
            ratio = _num(r[2]) / _num(floor[2]) if _num(floor[2]) else float("nan")
            verdict = "within" if ratio <= METRICS_GOAL else "over"
            versus = "; ".join(
                f"{_num(r[1]) / ms:.2f}x {label}'s" for label, ms in theirs.items() if ms
            )
            out.append(
                f"Metrics at {entries} entries, {r[0]}: server time per scrape "
                f"{_num(r[2]):.2f} ms, {ratio:.2f}x the showtext=false floor ({verdict} the "
                f"{METRICS_GOAL}x goal); scrape {_num(r[1]):.2f} ms"
                + (f", {versus}" if versus else "")
                + "."
            )
    return out


def render(text: str) -> str:
    """The ``## Findings`` section for the report ``text`` (its tables)."""
    page = parse(text)
    out = ["## Findings", "", "Computed from the tables above by `benchmarks/findings.py`.", ""]
    for name, server in page.items():
        if not server.latency:
            continue
        lines = [
            _by_size(server),
            _cpu(server),
            _loops(server),
            _server_share(server),
            _memory(server),
            _pgbench(server),
            *_metrics(server),
        ]
        out += ["- " + _goal(name, server), *[f"    - {line}" for line in lines if line], ""]
    return "\n".join(out).rstrip() + "\n"

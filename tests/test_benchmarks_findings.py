# ruff: noqa: E501 - the tables are a report's lines
"""The *Findings* of docs/benchmarks.md are what its tables show (benchmarks/findings.py).

The section is computed from the page's own tables when ``benchmarks/run.py`` writes
the page; this test recomputes it from the committed page, so a hand edit of the
prose, or tables changed without it, fails here. No server, no benchmark run.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import findings  # noqa: E402 - benchmarks/ is not a package

PAGE = ROOT / "docs" / "benchmarks.md"

TINY = """\
### PostgreSQL 99.1 (system): latency at 10,000 entries

| call | driver | rows | pgstatkit ms | same-SQL floor ms | ratio | bare SELECT ms | ratio vs bare | goal |
|---|---|--:|--:|--:|--:|--:|--:|:-:|
| `top_queries_by_total_time(limit=10000)` | asyncpg | 10,000 | 130.00 (1-2) | 100.00 (1-2) | 1.30x | 90.00 | 1.44x | **over** |
| `database_statistics()` | asyncpg | 1 | 1.20 (1-2) | 1.00 (1-2) | 1.20x | 0.90 | 1.33x | **over** |
| `index_usage(limit=50)` | psycopg | 50 | 5.00 (1-2) | 5.00 (1-2) | 1.00x | 4.50 | 1.11x | ok |

### PostgreSQL 99.1 (system): growth with the number of entries (asyncpg)

| entries | query texts | text file | call | pgstatkit ms | bare SELECT ms | showtext=false ms | text file share |
|--:|--:|--:|---|--:|--:|--:|--:|
| 10,000 | 10.4 MiB | 10.4 MiB | `top_queries_by_total_time(limit=10000)` | 130.00 | 90.00 | 45.00 | 50% |
"""


def test_the_committed_findings_are_the_tables():
    text = PAGE.read_text(encoding="utf-8")
    assert "## Findings" in text
    body = text[: text.index("## Findings")].rstrip() + "\n"
    assert text == body + "\n" + findings.render(body), (
        "docs/benchmarks.md: the Findings are not what its tables show; rewrite them with "
        "benchmarks/findings.py (nox -s bench does)"
    )
    servers = findings.parse(text)
    assert len(servers) >= 2 and all(s.latency and s.memory for s in servers.values())


def test_findings_state_the_tables_numbers():
    text = findings.render(TINY)
    assert "1 of 3 calls meet the 1.10x goal" in text
    assert "`top_queries_by_total_time(limit=10000)` on asyncpg (1.30x)" in text
    assert "1,000 rows or more run 1.30x" in text
    assert "calls returning fewer run 1.00 to 1.20x, 0.00 to 0.20 ms above it" in text
    assert "reading the query-text file is 50% of that" in text
    assert "90.0 ms (bare SELECT) at 10,000 entries" in text


def test_the_findings_change_with_the_tables():
    faster = TINY.replace(
        "| 130.00 (1-2) | 100.00 (1-2) | 1.30x |", "| 105.00 (1-2) | 100.00 (1-2) | 1.05x |"
    )
    faster = faster.replace("| 1.44x | **over** |", "| 1.17x | ok |", 1)
    text = findings.render(faster)
    assert "2 of 3 calls meet the 1.10x goal" in text and "1.30x" not in text


CPU_AND_LOOPS = """
### PostgreSQL 99.1 (system): client CPU per call

| call | driver | rows | pgstatkit CPU ms | same-SQL floor CPU ms | extra ms | extra us per row |
|---|---|--:|--:|--:|--:|--:|
| `top_queries_by_total_time(limit=10000)` | asyncpg | 10,000 | 60.00 | 50.00 | +10.00 | 1.00 |
| `database_statistics()` | asyncpg | 1 | 0.40 | 0.25 | +0.15 | 150.00 |
| `index_usage(limit=50)` | psycopg | 50 | 1.50 | 1.00 | +0.50 | 10.00 |

### PostgreSQL 99.1 (system): event-loop iterations per call (asyncpg)

| call | pgstatkit | same-SQL floor | extra |
|---|--:|--:|--:|
| `top_queries_by_total_time(limit=10000)` | 150.0 | 160.0 | -10.0 |
| `database_statistics()` | 16.0 | 10.0 | +6.0 |
"""


def test_findings_state_the_client_cpu_and_the_loop_iterations():
    text = findings.render(TINY + CPU_AND_LOOPS)
    assert "0.15 to 0.50 ms per call returning fewer than 1,000 rows" in text
    assert "10.00 ms for 1,000 rows or more, 1.00 us per row" in text
    assert "fewer than 1,000 rows takes 6 event-loop iterations more" in text
    assert "the count follows how the rows arrive (-10 more than the floor's 160)" in text


def test_a_partial_rerun_keeps_the_sections_other_scripts_wrote() -> None:
    """`benchmarks/run.py --only latency` rewrites its own sections and keeps the index
    advisor's and the history's (written by advisor_bench.py and history.py) as they
    were, in order, before the Findings."""
    import run  # benchmarks/ is on sys.path above

    old = PAGE.read_text(encoding="utf-8")
    fresh = "# Benchmarks\n\nnew tables\n\n## Findings\n\n- new\n"
    kept = run.keep_blocks(old, fresh)
    for start, end in run.KEPT_BLOCKS:
        assert start in old, start
        block = old[old.index(start) : old.index(end) + len(end)]
        assert block in kept
    in_old = sorted(run.KEPT_BLOCKS, key=lambda b: old.index(b[0]))
    in_kept = sorted(run.KEPT_BLOCKS, key=lambda b: kept.index(b[0]))
    assert in_old == in_kept
    assert kept.index("## Findings") > max(kept.index(start) for start, _ in run.KEPT_BLOCKS)

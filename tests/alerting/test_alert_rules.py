"""pgstatkit's Prometheus alert rules: ``promtool check rules`` accepts every rendering,
``promtool test rules`` runs ``alert_rules_test.yml`` (series that fire and series that
must not, for every alert), the rules use only metrics pgstatkit exports, and bad
arguments are refused before anything is rendered.

Skipped without ``promtool`` (``apt-get install prometheus``); a failure under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from harness import servers
from pgstatkit import alerting
from pgstatkit.cli import main
from pgstatkit.errors import InvalidArgumentError
from pgstatkit.models import DatabaseStatistics
from pgstatkit.prometheus import Snapshot, metric_families

HERE = Path(__file__).resolve().parent

RENDER_ARGS: dict[str, object] = {
    "job": "pg-main",
    "labels": {"team": "dba"},
    "cache_window": "5m",
    "cache_for": "5m",
    "cache_min_blocks_per_second": 10,
    "mean_window": "5m",
    "mean_baseline": "1h",
    "mean_for": "5m",
    "dealloc_window": "10m",
    "health_for": "2m",
}
"""The thresholds ``alert_rules_test.yml`` expects (short windows keep the series short)."""

HEALTH_METRIC = "pgstatkit_health_findings"
"""The health gauge the critical-health rule reads (one series per check and severity)."""


def _promtool() -> str:
    found = "/usr/bin/promtool" if Path("/usr/bin/promtool").is_file() else None
    found = found or shutil.which("promtool")
    if found is None:
        message = "promtool not found: apt-get install prometheus"
        if servers.strict():
            pytest.fail(message)
        pytest.skip(message)
    return found


def _run(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        RENDER_ARGS,
        {
            "job": "a.b:c/d_e-f",
            "labels": {"team": 'quotes " and # and : and \\ and ünïcode', "env": ""},
            "down_for": timedelta(minutes=1),
            "unavailable_for": 90,
            "cache_hit_ratio_min": 1,
            "mean_time_factor": 1.5,
            "mean_baseline": "1w2d",
            "dealloc_min": 3,
        },
    ],
    ids=["defaults", "test-thresholds", "odd-values"],
)
def test_promtool_checks_the_rendered_rules(kwargs: dict[str, object], tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(alerting.render_alert_rules(**kwargs))  # type: ignore[arg-type]
    out = _run(_promtool(), "check", "rules", str(rules))
    assert f"SUCCESS: {len(alerting.ALERTS)} rules found" in out


def test_promtool_unit_tests_fire_and_stay_quiet(tmp_path: Path) -> None:
    promtool = _promtool()
    (tmp_path / "rules.yml").write_text(alerting.render_alert_rules(**RENDER_ARGS))  # type: ignore[arg-type]
    tests = (HERE / "alert_rules_test.yml").read_text()
    (tmp_path / "alert_rules_test.yml").write_text(tests)
    out = _run(promtool, "test", "rules", "alert_rules_test.yml", cwd=tmp_path)
    assert "SUCCESS" in out
    # every alert is tested, firing and not firing
    for alert in alerting.ALERTS:
        assert tests.count(f"alertname: {alert}") >= 2, alert
    assert tests.count("exp_alerts: []") >= 5


def test_the_cli_prints_the_same_rules() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["alert-rules", "--job", "pg-main", "--label", "team=dba",
                     "--cache-window", "5m", "--cache-for", "5m",
                     "--cache-min-blocks-per-second", "10", "--mean-window", "5m",
                     "--mean-baseline", "1h", "--mean-for", "5m", "--dealloc-window", "10m",
                     "--health-for", "2m"])  # fmt: skip
    assert code == 0
    assert out.getvalue() == alerting.render_alert_rules(**RENDER_ARGS)  # type: ignore[arg-type]


def _exported() -> set[str]:
    """Every sample name pgstatkit's metrics can have."""
    values = {f.name: 1 for f in dataclasses.fields(DatabaseStatistics)}
    database = DatabaseStatistics(**{**values, "database": "db", "stats_reset": None})
    snapshot = Snapshot(database, [], deallocations=0)
    return {f.name + ("_total" if f.type == "counter" else "") for f in metric_families(snapshot)}


def test_the_rules_use_only_exported_metrics() -> None:
    used = set(re.findall(r"\b(pgstatkit_[a-z_]+)\{", alerting.template()))
    exported = _exported()
    # the health gauge comes with the health checks; until then its rule matches nothing
    missing = used - exported - {HEALTH_METRIC}
    assert not missing, missing
    assert {
        "pgstatkit_up",
        "pgstatkit_pg_stat_statements_available",
        "pgstatkit_pg_stat_statements_deallocations_total",
        "pgstatkit_database_blks_hit_total",
        "pgstatkit_statement_exec_time_seconds_total",
        "pgstatkit_statement_calls_total",
    } <= used
    names = re.findall(r"- alert: (\w+)", alerting.template())
    assert tuple(names) == alerting.ALERTS
    placeholders = set(re.findall(r"\[\[([a-z_]+)\]\]", alerting.template()))
    assert placeholders == (set(alerting.DEFAULTS) - {"job"}) | {"selector", "labels"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"job": 'x"} or vector(1) #'}, "job must be"),
        ({"job": ""}, "job must be"),
        ({"labels": {"severity": "page"}}, "set by each rule"),
        ({"labels": {"alertname": "x"}}, "set by each rule"),
        ({"labels": {"bad-name": "x"}}, "not a Prometheus label name"),
        ({"labels": {"__x": "x"}}, "not a Prometheus label name"),
        ({"labels": {"team": 3}}, "must be a string"),
        ({"labels": ["team"]}, "must be a mapping"),
        ({"down_for": "5 minutes"}, "Prometheus duration"),
        ({"down_for": "5"}, "Prometheus duration"),
        ({"down_for": "m"}, "Prometheus duration"),
        ({"down_for": -1}, "0 s to 366 days"),
        ({"mean_window": 0}, "1 s to 366 days"),
        ({"cache_window": "0m"}, "Prometheus duration"),
        ({"down_for": timedelta(seconds=1.5)}, "whole seconds"),
        ({"down_for": True}, "Prometheus duration"),
        ({"cache_hit_ratio_min": 90}, "at most 1"),
        ({"cache_hit_ratio_min": 0}, "more than 0"),
        ({"cache_hit_ratio_min": float("nan")}, "cache_hit_ratio_min"),
        ({"mean_time_factor": 1}, "more than 1"),
        ({"mean_time_factor": "2"}, "must be a number"),
        ({"mean_min_seconds": -1}, "at least 0"),
        ({"dealloc_min": float("inf")}, "dealloc_min"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        alerting.render_alert_rules(**kwargs)  # type: ignore[arg-type]


def test_cli_refuses_a_bad_threshold(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alert-rules", "--cache-hit-ratio-min", "95"]) == 2
    assert "cache_hit_ratio_min must be" in capsys.readouterr().err


def test_the_grafana_dashboard_queries_only_exported_metrics() -> None:
    dashboard = json.loads(alerting.grafana_dashboard())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    used = {m for e in exprs for m in re.findall(r"\b(pgstatkit_[a-z_]+)\b", e)}
    missing = used - _exported() - {HEALTH_METRIC}
    assert not missing, missing
    assert {"pgstatkit_statement_exec_time_seconds_total", "pgstatkit_up"} <= used
    # every panel reads the job and instance variables, the datasource is a variable
    assert all('job="$job"' in e and "$instance" in e for e in exprs)
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "job", "instance"}
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_promtool_parses_the_dashboard_queries(tmp_path: Path) -> None:
    """Each panel query, Grafana's variables filled in, as a recording rule."""
    promtool = _promtool()
    dashboard = json.loads(alerting.grafana_dashboard())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    fill = {"$__rate_interval": "5m", "$job": "pgstatkit", "$instance": ".*"}
    rules = []
    for n, expr in enumerate(exprs):
        for variable, value in fill.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, expr
        rules.append(
            f"      - record: pgstatkit:dashboard_query_{n}\n        expr: {json.dumps(expr)}\n"
        )
    path = tmp_path / "dashboard_queries.yml"
    path.write_text("groups:\n  - name: dashboard\n    rules:\n" + "".join(rules))
    out = _run(promtool, "check", "rules", str(path))
    assert f"SUCCESS: {len(exprs)} rules found" in out

"""The health checks without a server: argument validation (before any round trip), the
decisions that need no SQL, the result model's JSON, and docs/health.md listing every
check and threshold with its default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pgstatkit import _health, stats
from pgstatkit.cli.commands.health import EXIT_BY_SEVERITY
from pgstatkit.errors import InvalidArgumentError
from pgstatkit.models import HealthFinding, HealthReport, Measure
from pgstatkit.sync import stats as sync_stats

DOCS = Path(__file__).resolve().parents[2] / "docs" / "health.md"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"checks": ["nope"]}, "unknown check(s) 'nope'; the checks are unused_indexes"),
        ({"checks": []}, "no check"),
        ({"checks": 3}, "checks must be a list of check names"),
        ({"thresholds": {"nope": 1}}, "unknown name(s) 'nope'"),
        ({"thresholds": [1]}, "thresholds must be a dict"),
        ({"thresholds": {"sequence_warning_ratio": 85}}, "a fraction: 0.9 means 90%"),
        ({"thresholds": {"vacuum_min_rows": -1}}, "must be a finite number >= 0"),
        ({"thresholds": {"vacuum_min_rows": True}}, "must be a number (count)"),
        ({"thresholds": {"vacuum_factor": 0.5}}, "must be at least 1"),
        (
            {"thresholds": {"long_query_warning_ms": 600_000}},
            "long_query_warning_ms (600000) must be at most long_query_critical_ms (300000)",
        ),
        (
            {"thresholds": {"cache_hit_critical_ratio": 0.999}},
            "cache_hit_warning_ratio (0.99) must be at least cache_hit_critical_ratio",
        ),
        ({"timeout_ms": 0}, "timeout_ms must be from 1"),
    ],
)
async def test_bad_arguments_raise_before_any_round_trip(kwargs: dict, message: str) -> None:
    # the "connection" is not one: validation comes first, nothing is sent
    with pytest.raises(InvalidArgumentError) as exc:
        await stats.health(object(), **kwargs)
    assert message in str(exc.value)
    with pytest.raises(InvalidArgumentError):
        sync_stats.health(object(), **kwargs)


def test_checks_run_in_their_fixed_order() -> None:
    assert _health.check_names(["vacuum", "sequences"]) == ("sequences", "vacuum")
    assert _health.check_names("vacuum") == ("vacuum",)
    assert _health.check_names(None) == tuple(_health.CHECKS)
    assert len(_health.CHECKS) == 18
    for check in _health.CHECKS.values():
        assert set(check.thresholds) <= set(_health.THRESHOLDS), check.name


def test_thresholds_merge_over_the_defaults() -> None:
    merged = _health.threshold_values({"vacuum_min_rows": 5})
    assert merged["vacuum_min_rows"] == 5
    assert merged["sequence_warning_ratio"] == 0.85
    assert set(merged) == set(_health.THRESHOLDS)


def test_blocking_chain_roots() -> None:
    # 12 waits for 11 and 10 (queue order), 11 for 10; 10 is the root
    blockers = {10: [], 11: [10], 12: [11, 10], 13: []}
    assert _health._roots(12, blockers) == ([12, 11, 10], [10])
    assert _health._roots(11, blockers) == ([11, 10], [10])
    # a cycle (a deadlock before the detector runs) ends without a root
    assert _health._roots(1, {1: [2], 2: [1]}) == ([1, 2], [])


def test_bloat_estimate() -> None:
    row = {
        "size_bytes": 343 * 8192,
        "width": 101.0,
        "fillfactor": 100,
        "relkind": "r",
        "reltuples": 2000.0,
    }
    bloat, share = _health._estimate(row, 8192)
    assert 0.85 < share < 0.95
    assert bloat == pytest.approx(share * 343 * 8192)
    full = dict(row, reltuples=20000.0)
    assert _health._estimate(full, 8192)[1] < 0.05


def test_shared_buffers_doubled() -> None:
    assert _health._doubled("16MB") == "32MB"
    assert _health._doubled("128MB") == "256MB"
    assert _health._doubled("1GB") == "2GB"
    assert _health._doubled("512MB") == "1GB"


def test_report_json_and_exit_codes() -> None:
    finding = HealthFinding(
        "sequences",
        "critical",
        "public.t.id",
        (Measure("used_ratio", 0.97, "ratio"),),
        "Sequence ...",
        "ALTER TABLE ...;",
        "Rewrites ...",
        "sequence public.t_id_seq",
    )
    ok = HealthFinding("vacuum", "ok", None, (), "fine")
    report = HealthReport(("sequences", "vacuum"), (ok, finding))
    assert report.worst == "critical"
    assert report.problems == (finding,)
    assert report.severity_of("vacuum") == "ok"
    data = json.loads(json.dumps(report.to_dict()))
    assert data["worst"] == "critical"
    assert data["findings"][1]["evidence"] == [
        {"name": "used_ratio", "value": 0.97, "unit": "ratio"}
    ]
    assert EXIT_BY_SEVERITY == {"ok": 0, "unknown": 20, "warning": 21, "critical": 22}


def test_docs_list_every_check_and_threshold() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in _health.CHECKS:
        assert f"`{name}`" in text and ("### `" + name) in text.replace(" and `", "\n### `"), name
    for t in _health.THRESHOLDS.values():
        row = f"| `{t.name}` | {t.unit} | "
        assert row in text, f"docs/health.md lacks the threshold row of {t.name}"
        line = next(ln for ln in text.splitlines() if ln.startswith(row))
        default = line.split(" | ")[2]
        assert float(default.split(" ")[0]) == t.default, t.name


def test_the_guard_sets_the_health_checks_lock_timeout() -> None:
    """The checks never wait long behind the application's locks: the guard's first
    statement sets a lock timeout of at most LOCK_TIMEOUT_MS (also for its own catalog
    reads), whatever the statement timeout."""
    from pgstatkit._protocol import setup_query

    assert setup_query(_health.health(timeout_ms=30_000)).params[3] == "2000ms"
    assert setup_query(_health.health(timeout_ms=500)).params[3] == "500ms"

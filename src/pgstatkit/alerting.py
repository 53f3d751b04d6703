"""Prometheus alert rules over pgstatkit's metrics, rendered with your thresholds.

The package ships a rules template, ``pgstatkit/alert_rules.yml`` (:func:`template`);
:func:`render_alert_rules` fills it in with a job label, extra alert labels and the
thresholds below, and returns a rules file for Prometheus' ``rule_files``. Rules
(docs/alerting.md describes each):

- ``PgStatKitTargetDown`` (critical): the metrics endpoint cannot be scraped (``up``);
- ``PgStatKitDatabaseDown`` (critical): pgstatkit answers, the database does not
  (``pgstatkit_up == 0``);
- ``PgStatStatementsUnavailable`` (warning): ``pg_stat_statements`` cannot be read;
- ``PgStatKitCacheHitRatioLow`` (warning): the buffer cache hit ratio over a window,
  from the ``blks_hit`` and ``blks_read`` counters, with a minimum of traffic;
- ``PgStatKitStatementMeanTimeUp`` (warning): a statement's mean execution time over
  a window, ``rate(exec_time) / rate(calls)``, against its mean over a baseline before;
- ``PgStatStatementsDeallocations`` (warning): ``pg_stat_statements`` evicted entries;
- ``PgStatKitHealthCheckCritical`` (critical): a health check reports critical
  findings (``pgstatkit_health_findings{check, severity="critical"}``).

Every argument is checked before anything is rendered; a bad one raises
:class:`~pgstatkit.errors.InvalidArgumentError`. No dependency: the template is filled
in as text, with values that cannot break its YAML or PromQL.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import timedelta

from pgstatkit._version import __version__
from pgstatkit.errors import InvalidArgumentError

__all__ = [
    "ALERTS",
    "DEFAULTS",
    "grafana_dashboard",
    "render_alert_rules",
    "template",
]

ALERTS: tuple[str, ...] = (
    "PgStatKitTargetDown",
    "PgStatKitDatabaseDown",
    "PgStatStatementsUnavailable",
    "PgStatKitCacheHitRatioLow",
    "PgStatKitStatementMeanTimeUp",
    "PgStatStatementsDeallocations",
    "PgStatKitHealthCheckCritical",
)
"""The alerts of the rules file, in its order."""

DEFAULTS: Mapping[str, object] = {
    "job": "pgstatkit",
    "down_for": "2m",
    "unavailable_for": "10m",
    "cache_hit_ratio_min": 0.9,
    "cache_window": "10m",
    "cache_min_blocks_per_second": 100.0,
    "cache_for": "15m",
    "mean_time_factor": 2.0,
    "mean_window": "15m",
    "mean_baseline": "1d",
    "mean_min_calls_per_second": 0.1,
    "mean_min_seconds": 0.01,
    "mean_for": "15m",
    "dealloc_window": "1h",
    "dealloc_min": 0.0,
    "health_for": "5m",
}
"""The default of every parameter of :func:`render_alert_rules` (docs/alerting.md)."""

_PLACEHOLDER = re.compile(r"\[\[([a-z_]+)\]\]")
# Prometheus' duration syntax (model.ParseDuration), each unit at most once, in order.
_DURATION = re.compile(r"(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?")
# A job name that needs no escaping in a PromQL string nor in a YAML plain scalar.
_JOB = re.compile(r"[A-Za-z0-9_.:/-]{1,200}")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,99}")
_RESERVED_LABELS = frozenset({"alertname", "severity"})


def template() -> str:
    """The text of the shipped rules template (placeholders in double square brackets)."""
    from importlib.resources import files

    return files("pgstatkit").joinpath("alert_rules.yml").read_text(encoding="utf-8")


def grafana_dashboard() -> str:
    """The Grafana dashboard shipped with the package (``pgstatkit/grafana_dashboard.json``):
    JSON to import, over the same metrics, with ``datasource``, ``job`` and ``instance``
    variables. Every metric it queries is one pgstatkit exports (a test checks)."""
    from importlib.resources import files

    return files("pgstatkit").joinpath("grafana_dashboard.json").read_text(encoding="utf-8")


def _duration(value: object, name: str) -> str:
    """A Prometheus duration: ``"15m"``, a ``timedelta`` or whole seconds (an int); a
    ``*_for`` (how long a condition must hold) may be zero (fire at once)."""
    zero_ok = name.endswith("_for")
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds != int(seconds):
            raise InvalidArgumentError(f"{name} must be whole seconds, got {value!r}")
        value = int(seconds)
    if isinstance(value, int) and not isinstance(value, bool):
        if not (0 if zero_ok else 1) <= value <= 366 * 86_400:
            low = "0" if zero_ok else "1"
            raise InvalidArgumentError(f"{name} must be {low} s to 366 days, got {value} s")
        return f"{value}s"
    if (
        not isinstance(value, str)
        or not value
        or not _DURATION.fullmatch(value)
        or not (zero_ok or any(c != "0" for c in value if c.isdigit()))
    ):
        raise InvalidArgumentError(
            f"{name} must be a Prometheus duration such as '15m', '1h30m' or '7d' "
            f"(or a timedelta, or whole seconds), got {value!r}"
        )
    return value


def _number(value: object, name: str, low: float, high: float, *, open_low: bool = False) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number) or number > high or number < low or (open_low and number == low):
        bound = f"more than {low:g}" if open_low else f"at least {low:g}"
        raise InvalidArgumentError(f"{name} must be {bound} and at most {high:g}, got {value!r}")
    return repr(number)


def _labels(labels: object) -> str:
    """Extra alert labels as YAML lines after ``severity: ...`` (values JSON-quoted:
    a JSON string is a YAML double-quoted scalar)."""
    if not isinstance(labels, Mapping):
        raise InvalidArgumentError(
            f"labels must be a mapping of label names to strings, got {type(labels).__name__}"
        )
    lines = []
    for key, value in labels.items():
        if not isinstance(key, str) or not _LABEL_NAME.fullmatch(key) or key.startswith("__"):
            raise InvalidArgumentError(
                f"labels: {key!r} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, "
                "not starting with __)"
            )
        if key in _RESERVED_LABELS:
            raise InvalidArgumentError(
                f"labels: {key!r} is set by each rule; choose another label name"
            )
        if not isinstance(value, str) or len(value) > 1000:
            raise InvalidArgumentError(
                f"labels: the value of {key!r} must be a string of at most 1000 characters, "
                f"got {value!r}"
            )
        lines.append(f"\n          {key}: {json.dumps(value)}")
    return "".join(lines)


def render_alert_rules(
    *,
    job: str = "pgstatkit",
    labels: Mapping[str, str] | None = None,
    down_for: str | int | timedelta = "2m",
    unavailable_for: str | int | timedelta = "10m",
    cache_hit_ratio_min: float = 0.9,
    cache_window: str | int | timedelta = "10m",
    cache_min_blocks_per_second: float = 100.0,
    cache_for: str | int | timedelta = "15m",
    mean_time_factor: float = 2.0,
    mean_window: str | int | timedelta = "15m",
    mean_baseline: str | int | timedelta = "1d",
    mean_min_calls_per_second: float = 0.1,
    mean_min_seconds: float = 0.01,
    mean_for: str | int | timedelta = "15m",
    dealloc_window: str | int | timedelta = "1h",
    dealloc_min: float = 0.0,
    health_for: str | int | timedelta = "5m",
) -> str:
    """The rules file for Prometheus, with these thresholds (YAML text).

    Args:
        job: the ``job`` label of the scrape job reading pgstatkit's metrics; every rule
            selects ``{job="<job>"}``. Letters, digits and ``_ . : / -``.
        labels: extra labels put on every alert (routing in Alertmanager, e.g.
            ``{"team": "dba"}``); ``severity`` is set by each rule.
        down_for: how long the target or the database must be down before
            ``PgStatKitTargetDown`` / ``PgStatKitDatabaseDown`` fire.
        unavailable_for: the same for ``PgStatStatementsUnavailable``.
        cache_hit_ratio_min: ``PgStatKitCacheHitRatioLow`` fires below this ratio (0..1)
            over ``cache_window``, when at least ``cache_min_blocks_per_second`` blocks/s
            were asked for, for ``cache_for``.
        mean_time_factor: ``PgStatKitStatementMeanTimeUp`` fires when a statement's mean
            execution time over ``mean_window`` is more than this many times its mean
            over the ``mean_baseline`` before it, the statement ran more than
            ``mean_min_calls_per_second`` calls/s and its mean exceeds
            ``mean_min_seconds``, for ``mean_for``.
        dealloc_window: ``PgStatStatementsDeallocations`` fires when
            ``pg_stat_statements`` evicted more than ``dealloc_min`` times in this window.
        health_for: how long a critical health finding must last before
            ``PgStatKitHealthCheckCritical`` fires.

    Durations are Prometheus durations (``"15m"``, ``"1h30m"``), ``timedelta`` or whole
    seconds.

    Raises:
        InvalidArgumentError: an argument out of range or of the wrong type; the
            message names it and what is allowed.
    """
    if not isinstance(job, str) or not _JOB.fullmatch(job):
        raise InvalidArgumentError(
            f"job must be 1 to 200 letters, digits or _ . : / - (the scrape job's name), "
            f"got {job!r}"
        )
    values = {
        "selector": f'job="{job}"',
        "labels": _labels({} if labels is None else labels),
        "down_for": _duration(down_for, "down_for"),
        "unavailable_for": _duration(unavailable_for, "unavailable_for"),
        "cache_hit_ratio_min": _number(
            cache_hit_ratio_min, "cache_hit_ratio_min", 0.0, 1.0, open_low=True
        ),
        "cache_window": _duration(cache_window, "cache_window"),
        "cache_min_blocks_per_second": _number(
            cache_min_blocks_per_second, "cache_min_blocks_per_second", 0.0, 1e12
        ),
        "cache_for": _duration(cache_for, "cache_for"),
        "mean_time_factor": _number(mean_time_factor, "mean_time_factor", 1.0, 1e6, open_low=True),
        "mean_window": _duration(mean_window, "mean_window"),
        "mean_baseline": _duration(mean_baseline, "mean_baseline"),
        "mean_min_calls_per_second": _number(
            mean_min_calls_per_second, "mean_min_calls_per_second", 0.0, 1e9
        ),
        "mean_min_seconds": _number(mean_min_seconds, "mean_min_seconds", 0.0, 86_400.0),
        "mean_for": _duration(mean_for, "mean_for"),
        "dealloc_window": _duration(dealloc_window, "dealloc_window"),
        "dealloc_min": _number(dealloc_min, "dealloc_min", 0.0, 1e12),
        "health_for": _duration(health_for, "health_for"),
    }

    def fill(match: re.Match[str]) -> str:
        return values[match.group(1)]

    body = template()
    body = body[body.index("groups:") :]  # the template's header comment is not for the output
    head = (
        f"# pgstatkit's Prometheus alert rules (pgstatkit {__version__}), job {job!r}.\n"
        "# Rendered by pgstatkit.alerting.render_alert_rules / `pgstatkit alert-rules`;\n"
        "# the rules and their thresholds: docs/alerting.md.\n"
    )
    return head + _PLACEHOLDER.sub(fill, body)

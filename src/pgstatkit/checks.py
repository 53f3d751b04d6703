"""One pass of pgstatkit's checks, for cron or CI: findings with a severity, a summary a
chat webhook can show, and the webhook post (``pgstatkit check``).

- :class:`CheckFinding`: one finding (from the setup check, the health checks, or the
  regression detection), with a severity on one scale: ``info`` < ``warning`` <
  ``critical``.
- :class:`CheckResult`: the findings of one pass, which sources ran and which were
  skipped (and why), whether anything reached ``fail_on``; :meth:`CheckResult.payload`
  is the JSON posted to a webhook, with a Slack-compatible ``text``.
- :func:`post_webhook`: POST JSON with the standard library (``urllib``), retrying a
  network error, a 5xx or a 429 with exponential backoff.

No I/O but :func:`post_webhook`; gathering findings from a database is the command's
job (docs/alerting.md#pgstatkit-check).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pgstatkit import _fielddoc
from pgstatkit._regressions import RegressionReport
from pgstatkit._version import __version__
from pgstatkit.errors import InvalidArgumentError, PgStatKitError
from pgstatkit.models import SetupReport

__all__ = [
    "LEVELS",
    "CheckFinding",
    "CheckResult",
    "Level",
    "WebhookError",
    "check_webhook_url",
    "from_health",
    "from_regressions",
    "from_setup",
    "level",
    "post_webhook",
]

Level = Literal["info", "warning", "critical"]
LEVELS: tuple[Level, ...] = ("info", "warning", "critical")
"""The severities of :class:`CheckFinding`, lowest first."""

_SETUP_LEVELS: Mapping[str, Level] = {"info": "info", "warning": "warning", "error": "critical"}


class WebhookError(PgStatKitError):
    """The webhook did not accept the summary after every attempt (the message says
    what the last attempt got; the URL's path, often a secret, is left out)."""


def level(value: object, name: str = "fail_on") -> Level:
    """A severity of :data:`LEVELS`.

    Raises:
        InvalidArgumentError: anything else.
    """
    if not isinstance(value, str) or value not in LEVELS:
        raise InvalidArgumentError(f"{name} must be one of {', '.join(LEVELS)}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class CheckFinding:
    """One finding of ``pgstatkit check``."""

    source: str
    check: str
    severity: Level
    message: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_fielddoc.describe(
    CheckFinding,
    None,
    {
        "source": 'what found it: `"setup"` (the setup check), `"health"` (the health checks)'
        ' or `"regressions"` (history)',
        "check": "the check's name (a setup or health check), or the statement"
        " (`queryid ...`) of a regression",
        "severity": '`"info"`, `"warning"` or `"critical"` (a setup `"error"` is `"critical"`)',
        "message": "what was found, in words (text from the database: escape it for a"
        " terminal or HTML)",
        "fix": "what to do, when the check says; `None` otherwise",
    },
)


def from_setup(report: SetupReport) -> list[CheckFinding]:
    """The findings of a setup check (:func:`pgstatkit.stats.check_setup`) that are
    not ``ok``; an ``error`` is ``critical``."""
    return [
        CheckFinding("setup", f.check, _SETUP_LEVELS[f.severity], f.found, f.fix)
        for f in report.findings
        if f.severity != "ok"
    ]


_HEALTH_LEVELS: Mapping[str, Level] = {
    "unknown": "info",
    "warning": "warning",
    "critical": "critical",
}


def from_health(report: Any) -> list[CheckFinding]:
    """The findings of the health checks (``pgstatkit.stats.health``'s report) that are
    not ``ok``; ``unknown`` (a check the role may not run) is ``info``."""
    found = []
    for f in report.findings:
        if f.severity not in _HEALTH_LEVELS:
            continue
        evidence = ", ".join(
            f"{m.name} {m.value:g}{(' ' + m.unit) if m.unit else ''}"
            for m in f.evidence
            if m.value is not None  # a Measure the server or role does not give
        )
        what = f"{f.object}: " if f.object else ""
        message = f"{what}{f.explanation}" + (f" ({evidence})" if evidence else "")
        found.append(CheckFinding("health", f.check, _HEALTH_LEVELS[f.severity], message, f.fix))
    return found


def from_regressions(
    report: RegressionReport, *, critical_ratio: float = 10.0
) -> list[CheckFinding]:
    """The regressions of :func:`pgstatkit.regressions.regressions` as findings: a
    significant time increase is a ``warning``, ``critical`` when the mean time grew
    ``critical_ratio`` times or more; a cost increase without a significant time
    increase, or one of low confidence, is ``info``."""
    found = []
    for r in report.regressions:
        if not r.significant or r.confidence == "low":
            severity: Level = "info"
        elif r.exec_time_ratio is not None and r.exec_time_ratio >= critical_ratio:
            severity = "critical"
        else:
            severity = "warning"
        p = "" if r.exec_time_p_value is None else f", p={r.exec_time_p_value:.2g}"
        ratio = "" if r.exec_time_ratio is None else f" (x{r.exec_time_ratio:.1f})"
        text = " ".join((r.query or "").split())[:120]
        message = (
            f"{', '.join(r.regressed)} up: mean {r.baseline_mean_exec_time_ms:.3g} -> "
            f"{r.recent_mean_exec_time_ms:.3g} ms{ratio}{p}, {r.recent_calls} calls, "
            f"confidence {r.confidence}: {text}"
        )
        found.append(CheckFinding("regressions", f"queryid {r.queryid}", severity, message))
    return found


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The findings of one pass of the checks, most severe first."""

    findings: tuple[CheckFinding, ...]
    fail_on: Level
    sources: tuple[str, ...]
    skipped: tuple[str, ...] = ()
    database: str | None = None

    @classmethod
    def of(
        cls,
        findings: Iterable[CheckFinding],
        *,
        fail_on: object = "critical",
        sources: Sequence[str] = (),
        skipped: Sequence[str] = (),
        database: str | None = None,
    ) -> CheckResult:
        """Sort ``findings`` (most severe first, then by source and check)."""
        order = sorted(
            findings, key=lambda f: (-LEVELS.index(f.severity), f.source, f.check, f.message)
        )
        return cls(tuple(order), level(fail_on), tuple(sources), tuple(skipped), database)

    @property
    def failing(self) -> tuple[CheckFinding, ...]:
        """The findings at ``fail_on`` or above."""
        bar = LEVELS.index(self.fail_on)
        return tuple(f for f in self.findings if LEVELS.index(f.severity) >= bar)

    @property
    def ok(self) -> bool:
        """Nothing reached ``fail_on``."""
        return not self.failing

    def counts(self) -> dict[str, int]:
        """How many findings per severity (every severity, also 0)."""
        return {lv: sum(f.severity == lv for f in self.findings) for lv in LEVELS}

    def text(self, *, limit: int = 20) -> str:
        """A short plain-text summary (Slack's ``text``: Markdown-ish, ``*bold*``); the
        first ``limit`` findings, one line each. ``<``, ``>`` and ``&`` are escaped as
        Slack wants, so text from the database cannot mention or link anyone."""
        where = f" on {_slack(self.database)}" if self.database else ""
        counts = ", ".join(f"{n} {lv}" for lv, n in reversed(self.counts().items()) if n)
        head = (
            f"*pgstatkit check{where}: "
            + ("OK" if self.ok else f"FAILED (--fail-on {self.fail_on})")
            + f"* ({counts or 'no findings'})"
        )
        lines = [head]
        lines += [
            f"- [{f.severity}] {f.source}/{_slack(f.check)}: {_slack(f.message)}"
            for f in self.findings[:limit]
        ]
        if len(self.findings) > limit:
            lines.append(f"... and {len(self.findings) - limit} more")
        lines += [f"(skipped: {_slack(s)})" for s in self.skipped]
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        """The JSON a webhook receives: ``text`` (Slack-compatible) and the details."""
        return {
            "text": self.text(),
            "ok": self.ok,
            "fail_on": self.fail_on,
            "database": self.database,
            "counts": self.counts(),
            "sources": list(self.sources),
            "skipped": list(self.skipped),
            "findings": [f.to_dict() for f in self.findings],
            "pgstatkit": __version__,
        }


def _slack(text: str) -> str:
    """Escape what Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _where(url: str) -> str:
    """The scheme and host of a URL: its path and query may hold a secret token."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def check_webhook_url(url: object) -> str:
    """``url`` if it is an http(s) URL with a host.

    Raises:
        InvalidArgumentError: anything else.
    """
    if not isinstance(url, str):
        raise InvalidArgumentError(f"url must be a str, got {type(url).__name__}")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidArgumentError(f"the webhook URL is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgumentError(
            "the webhook URL must be an http:// or https:// URL with a host "
            f"(got scheme {parts.scheme!r})"
        )
    return url


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value is not None else 0.0
    except ValueError:
        return 0.0
    return min(seconds, 60.0) if math.isfinite(seconds) and seconds > 0 else 0.0


def post_webhook(
    url: str,
    payload: Mapping[str, Any],
    *,
    attempts: int = 4,
    backoff_s: float = 1.0,
    timeout_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST ``payload`` as JSON to ``url``; returns the HTTP status of the answer (2xx).

    A network error, a timeout, a 5xx or a 429 is retried, ``attempts`` times in all,
    waiting ``backoff_s``, then twice as long each time (a 429's ``Retry-After``, up to
    60 s, when longer). Any other 4xx is not retried: the request is wrong.

    Raises:
        InvalidArgumentError: not an http(s) URL, or a bad ``attempts``, ``backoff_s``
            or ``timeout_s``.
        WebhookError: every attempt failed (the message has the last error; not the
            URL's path, which often holds the webhook's secret).
    """
    check_webhook_url(url)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 20:
        raise InvalidArgumentError(f"attempts must be an int from 1 to 20, got {attempts!r}")
    for name, value, high in (("backoff_s", backoff_s, 300.0), ("timeout_s", timeout_s, 300.0)):
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not 0 <= value <= high
            or (name == "timeout_s" and value == 0)
        ):
            raise InvalidArgumentError(f"{name} must be a number of seconds up to {high:g}")
    body = json.dumps(payload).encode("utf-8")
    last = ""
    for attempt in range(attempts):
        wait = backoff_s * 2**attempt
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": f"pgstatkit/{__version__}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code} {exc.reason}"
            retry = exc.code >= 500 or exc.code == 429
            wait = max(wait, _retry_after(exc.headers.get("Retry-After")))
            exc.close()
            if not retry:
                break
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            last = f"{type(reason).__name__}: {reason}"
        if attempt + 1 < attempts:
            sleep(wait)
    raise WebhookError(
        f"the webhook at {_where(url)} did not accept the summary after "
        f"{attempt + 1} attempt(s): {last}"
    )

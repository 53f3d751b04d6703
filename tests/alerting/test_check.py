"""``pgstatkit check`` and its webhook: severities and exit codes on real servers, the
summary posted to a local HTTP server on 127.0.0.1 (Slack-compatible ``text``), retries
with backoff on 5xx / 429 / a refused connection, no retry on another 4xx."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.servers import TestServer
from pgstatkit import checks
from pgstatkit.checks import CheckFinding, CheckResult, WebhookError, post_webhook
from pgstatkit.cli import main
from pgstatkit.errors import InvalidArgumentError


@dataclass
class Hook:
    """A local webhook: answers ``statuses`` in turn (then 200), records every body."""

    url: str
    statuses: list[int]
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@contextlib.contextmanager
def webhook(*statuses: int, retry_after: str | None = None) -> Iterator[Hook]:
    hook = Hook("", list(statuses))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            hook.bodies.append(json.loads(self.rfile.read(length)))
            hook.headers.append(dict(self.headers))
            status = hook.statuses.pop(0) if hook.statuses else 200
            self.send_response(status)
            if retry_after is not None and status == 429:
                self.send_header("Retry-After", retry_after)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret-token"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _result(*severities: str, fail_on: str = "critical") -> CheckResult:
    findings = [
        CheckFinding("health", f"check_{i}", s, f"finding <{i}> & more")  # type: ignore[arg-type]
        for i, s in enumerate(severities)
    ]
    return CheckResult.of(findings, fail_on=fail_on, sources=["health"], database="shop")


def test_severity_scale_and_summary() -> None:
    result = _result("info", "critical", "warning")
    assert [f.severity for f in result.findings] == ["critical", "warning", "info"]
    assert not result.ok and [f.check for f in result.failing] == ["check_1"]
    assert _result("info", "warning").ok
    assert not _result("info", "warning", fail_on="warning").ok
    assert len(_result("info", fail_on="info").failing) == 1
    text = result.text()
    assert text.startswith("*pgstatkit check on shop: FAILED (--fail-on critical)*")
    assert "1 critical, 1 warning, 1 info" in text
    # Slack's control characters are escaped: no <!channel> from database text
    assert "finding &lt;1&gt; &amp; more" in text and "<1>" not in text
    payload = result.payload()
    assert payload["ok"] is False and payload["counts"] == {"info": 1, "warning": 1, "critical": 1}
    assert payload["findings"][0]["severity"] == "critical"
    json.dumps(payload)
    with pytest.raises(InvalidArgumentError, match="fail_on must be one of"):
        CheckResult.of([], fail_on="error")


def test_webhook_retries_5xx_with_backoff() -> None:
    slept: list[float] = []
    with webhook(503, 502) as hook:
        status = post_webhook(hook.url, {"text": "hi"}, backoff_s=0.5, sleep=slept.append)
    assert status == 200
    assert slept == [0.5, 1.0]
    assert hook.bodies == [{"text": "hi"}] * 3
    assert hook.headers[0]["Content-Type"].startswith("application/json")


def test_webhook_honours_retry_after_on_429() -> None:
    slept: list[float] = []
    with webhook(429, retry_after="3") as hook:
        assert post_webhook(hook.url, {"text": "x"}, backoff_s=0.1, sleep=slept.append) == 200
    assert slept == [3.0]


def test_webhook_does_not_retry_a_client_error_and_hides_the_secret() -> None:
    slept: list[float] = []
    with webhook(404) as hook, pytest.raises(WebhookError) as info:
        post_webhook(hook.url, {"text": "x"}, sleep=slept.append)
    assert len(hook.bodies) == 1 and slept == []
    assert "HTTP 404" in str(info.value) and "secret-token" not in str(info.value)


def test_webhook_gives_up_after_the_attempts() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: connections are refused
    slept: list[float] = []
    with pytest.raises(WebhookError, match="after 3 attempt"):
        post_webhook(f"http://127.0.0.1:{port}/x", {}, attempts=3, sleep=slept.append)
    assert slept == [1.0, 2.0]


@pytest.mark.parametrize(
    ("url", "kwargs"),
    [
        ("ftp://example.org/x", {}),
        ("file:///etc/passwd", {}),
        ("http://", {}),
        ("http://h:99999/", {}),
        ("http://h/", {"attempts": 0}),
        ("http://h/", {"backoff_s": -1}),
        ("http://h/", {"timeout_s": 0}),
    ],
)
def test_webhook_arguments_are_checked(url: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        post_webhook(url, {}, **kwargs)


def _check(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", *argv])
    return code, out.getvalue(), err.getvalue()


def test_check_passes_on_a_good_server_and_posts_only_when_asked(pg_server: TestServer) -> None:
    with webhook() as hook:
        code, out, _ = _check(["--dsn", pg_server.dsn, "--webhook", hook.url])
        assert code == 0, out
        assert "OK" in out.splitlines()[0]
        assert hook.bodies == []  # nothing reached --fail-on: no post
        code, out, _ = _check(["--dsn", pg_server.dsn, "--webhook", hook.url, "--webhook-always"])
        assert code == 0
        assert len(hook.bodies) == 1 and hook.bodies[0]["ok"] is True
        assert hook.bodies[0]["text"].startswith("*pgstatkit check on pgstatkit_test: OK*")
        assert "setup" in hook.bodies[0]["sources"]
        # no history in this database: the regressions are skipped, and say why
        skipped = hook.bodies[0]["skipped"]
        assert any(s.startswith("regressions: history is not installed") for s in skipped)


def test_check_fails_on_a_critical_finding_and_posts_with_retries(
    pg_server_no_preload: TestServer,
) -> None:
    dsn = pg_server_no_preload.dsn
    with webhook(500) as hook:
        code, out, err = _check(
            ["--dsn", dsn, "--webhook", hook.url, "--webhook-backoff", "0.05", "--format", "json"]
        )
    assert code == 7, err
    printed = json.loads(out)
    assert printed["ok"] is False
    assert len(hook.bodies) == 2  # a 500, then accepted
    body = hook.bodies[1]
    assert body == printed
    critical = [f for f in body["findings"] if f["severity"] == "critical"]
    assert any(f["check"] == "shared_preload_libraries" for f in critical), critical
    assert "FAILED (--fail-on critical)" in body["text"]
    assert "shared_preload_libraries" in body["text"]


def test_check_reports_a_webhook_that_never_accepts(pg_server: TestServer) -> None:
    with webhook(500, 500) as hook:
        code, _, err = _check(
            ["--dsn", pg_server.dsn, "--fail-on", "info", "--webhook-always",
             "--webhook", hook.url, "--webhook-attempts", "2", "--webhook-backoff", "0"]
        )  # fmt: skip
    assert len(hook.bodies) == 2
    assert code in (1, 7)
    assert "did not accept the summary after 2 attempt(s): HTTP 500" in err
    assert "secret-token" not in err


def test_check_refuses_a_bad_webhook_before_connecting() -> None:
    code, _, err = _check(["--dsn", "postgresql://nobody@127.0.0.1:1/x", "--webhook", "ftp://x"])
    assert code == 2 and "http:// or https://" in err
    assert checks.check_webhook_url("https://hooks.slack.com/services/x") == (
        "https://hooks.slack.com/services/x"
    )


def test_health_findings_map_onto_the_scale() -> None:
    """The health checks' report (duck-typed: pgstatkit.models.HealthReport)."""

    @dataclass(frozen=True)
    class Measure:
        name: str
        value: float
        unit: str | None

    @dataclass(frozen=True)
    class Finding:
        check: str
        severity: str
        object: str | None
        evidence: tuple[Measure, ...]
        explanation: str
        fix: str | None = None

    @dataclass(frozen=True)
    class Report:
        findings: tuple[Finding, ...]

    report = Report(
        (
            Finding("bloat", "ok", None, (), "fine"),
            Finding("xid_wraparound", "critical", "database shop",
                    (Measure("age", 1.9e9, "xids"),), "wraparound is near", "VACUUM FREEZE"),
            Finding("vacuum", "unknown", None, (), "needs pg_monitor"),
        )
    )  # fmt: skip
    found = checks.from_health(report)
    assert [(f.check, f.severity) for f in found] == [
        ("xid_wraparound", "critical"),
        ("vacuum", "info"),
    ]
    assert found[0].message == "database shop: wraparound is near (age 1.9e+09 xids)"
    assert found[0].fix == "VACUUM FREEZE"

"""The must-show of regression detection, on real servers: a workload runs and
snapshots are taken; an index is dropped and the workload runs again; regressions()
names the statement with shared blocks per call and mean time up and its significance,
while a statement called three times with a noisy time is not named. The HTML report of
that run, opened in headless Chromium, renders its charts (a screenshot, not blank).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from report_support import assert_screenshot_not_blank, smtp_server

from harness.browser import Browser, find_chromium
from harness.servers import TestServer, strict
from pgstatkit import checks
from pgstatkit.cli import main
from pgstatkit.regressions import RegressionReport, Thresholds
from pgstatkit.sync import history, history_report, regressions
from pgstatkit.sync import stats as sync_stats

DB = "pgstatkit_regressions"
TARGET = "regressions-demo"
PROBE = "SELECT count(*) AS regress_probe FROM regress_items WHERE k = %s"
NEW = "SELECT count(*) AS regress_new_statement FROM regress_items WHERE pad = %s"
CHATTY = "SELECT %s::int + 1 AS regress_n_plus_one"
NOISY = "SELECT pg_sleep(%s) AS regress_noisy"


def _workload(
    conn: psycopg.Connection[Any], *, probe: int, chatty: int, noisy: list[float]
) -> None:
    with conn.cursor() as cur:
        for i in range(probe):
            cur.execute(PROBE, (i * 7 % 5000,))
        for i in range(chatty):
            cur.execute(CHATTY, (i,))
        for seconds in noisy:
            cur.execute(NOISY, (seconds,))


@pytest.fixture(scope="module")
def run(pg_server: TestServer) -> Iterator[dict[str, Any]]:
    """The run: snapshot, workload, snapshot, DROP INDEX, workload, snapshot."""
    pg_server.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", dbname="postgres")
    pg_server.psql(f"CREATE DATABASE {DB}", dbname="postgres")
    dsn = pg_server.dsn_for(dbname=DB)
    with psycopg.connect(dsn, autocommit=True) as conn:
        sync_stats.install(conn)
        conn.execute(
            "CREATE TABLE regress_items AS SELECT g AS id, g % 5000 AS k, md5(g::text) AS pad"
            " FROM generate_series(1, 20000) AS g"
        )
        conn.execute("CREATE INDEX regress_items_k ON regress_items (k)")
        conn.execute("ANALYZE regress_items")
        first = history.snapshot(conn, target=TARGET)
        _workload(conn, probe=200, chatty=20, noisy=[0.001, 0.02, 0.005])
        second = history.snapshot(conn, target=TARGET)
        conn.execute("DROP INDEX regress_items_k")
        _workload(conn, probe=200, chatty=600, noisy=[0.03, 0.001, 0.06])
        for i in range(5):
            conn.execute(NEW, (f"x{i}",))
        third = history.snapshot(conn, target=TARGET)
        baseline = [(first.captured_at, second.captured_at)]
        window = (second.captured_at, third.captured_at)
        yield {
            "dsn": dsn,
            "window": window,
            "baseline": baseline,
            "report": regressions.regressions(
                conn, window=window, baseline=baseline, target=TARGET
            ),
            "lenient": regressions.regressions(
                conn,
                window=window,
                baseline=baseline,
                target=TARGET,
                thresholds=Thresholds(min_calls=3),
            ),
        }
    pg_server.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", dbname="postgres")


def _named(report: RegressionReport, marker: str) -> list[Any]:
    return [r for r in report.regressions if r.query and marker in r.query]


def test_the_dropped_index_is_a_significant_regression(run: dict[str, Any]) -> None:
    report: RegressionReport = run["report"]
    (found,) = _named(report, "regress_probe")
    assert "mean_exec_time_ms" in found.regressed
    assert "shared_blks_hit_per_call" in found.regressed or (
        "shared_blks_read_per_call" in found.regressed
    )
    blocks_before = (
        found.baseline_shared_blks_hit_per_call + found.baseline_shared_blks_read_per_call
    )
    blocks_after = found.recent_shared_blks_hit_per_call + found.recent_shared_blks_read_per_call
    assert blocks_after > 10 * blocks_before, (blocks_before, blocks_after)
    assert found.recent_mean_exec_time_ms > found.baseline_mean_exec_time_ms
    assert found.exec_time_ratio is not None and found.exec_time_ratio >= 1.5
    assert found.significant and found.exec_time_p_value is not None
    assert found.exec_time_p_value < 1e-6
    assert (found.baseline_calls, found.recent_calls) == (200, 200)
    assert found.confidence in ("high", "reduced")
    # new statements and an N+1: the call rate jumped fifty-fold
    assert any("regress_new_statement" in (n.query or "") for n in report.new_statements)
    assert any("regress_n_plus_one" in (j.query or "") for j in report.call_rate_jumps)
    json.dumps(report.to_dict())


def test_a_rare_noisy_statement_is_not_named(run: dict[str, Any]) -> None:
    for report in (run["report"], run["lenient"]):
        assert _named(report, "regress_noisy") == []
    # with min_calls=3 it is judged, and Welch's t-test finds three noisy calls
    # insignificant; the dropped index still is
    assert _named(run["lenient"], "regress_probe")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        message = "chromium is not installed (apt-get install chromium; .ci/run does)"
        if strict():
            pytest.fail(message)
        pytest.skip(message)
    instance = Browser(executable)
    try:
        yield instance
    finally:
        instance.close()


def test_the_html_report_of_the_run_renders_its_charts(
    run: dict[str, Any], browser: Browser, tmp_path: Path
) -> None:
    with psycopg.connect(run["dsn"], autocommit=True) as conn:
        report = history_report.build(
            conn,
            since=dt.timedelta(hours=1),
            target=TARGET,
            regression_window=run["window"],
            regression_baseline=run["baseline"],
        )
    assert any("regress_probe" in (r.query or "") for r in report.regressions.regressions)
    assert len(report.trend) == 2 and report.top_statements
    # the index advisor's section (the advisor extra is a test dependency)
    assert report.index_suggestions is not None, report.notes
    # (on pg15 and pg17 it suggests the dropped index back; what it picks is the
    # advisor's business, tested in its own tests)
    page = tmp_path / "report.html"
    page.write_text(history_report.render_html(report), encoding="utf-8")
    tab = browser.open(page.as_uri(), width=1000, height=1400)
    images = tab.evaluate(
        "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
    )
    assert any(alt.startswith("Regressions") for alt, _, _ in images), images
    assert images and all(done and width > 100 for _, done, width in images), images
    assert_screenshot_not_blank(tab, tmp_path / "report.png")
    text = history_report.render_text(report)
    assert "regress_probe" in text and "Regressions" in text
    assert "Index suggestions" in text


def test_report_since_on_the_command_line_writes_html_and_mails_it(
    run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pgstatkit report --since 1h --html ... --email-to ... --smtp-host ...`: the mail
    received by a real SMTP server (STARTTLS, AUTH from the environment) has the plain
    text and the HTML as alternatives, the charts inline by Content-ID, and the
    regression in its body."""
    page = tmp_path / "week.html"
    monkeypatch.setenv("PGSTATKIT_SMTP_USER", "reporter")
    monkeypatch.setenv("PGSTATKIT_SMTP_PASSWORD", "pw-from-env")
    with smtp_server(tmp_path, user="reporter", password="pw-from-env") as box:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))  # trust the test CA
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(
                ["report", "--since", "1h", "--target", TARGET, "--dsn", run["dsn"],
                 "--format", "markdown", "--html", str(page),
                 "--email-to", "dba@example.org", "--email-from", "pgstatkit@example.org",
                 "--smtp-host", "localhost", "--smtp-port", str(box.port)]
            )  # fmt: skip
    assert code == 0
    assert out.getvalue().startswith("# pgstatkit report: target regressions-demo")
    assert "## Top statements by total time" in out.getvalue()
    assert page.read_text().count("data:image/png;base64,") >= 2
    (raw,) = box.messages
    got = email.message_from_bytes(raw, policy=email.policy.default)
    assert got.get_content_type() == "multipart/alternative"
    assert got["Subject"].startswith("pgstatkit report: target regressions-demo")
    plain, related = got.get_payload()  # type: ignore[misc]
    html_part, *pictures = related.get_payload()
    assert (plain.get_content_type(), html_part.get_content_type()) == ("text/plain", "text/html")
    assert pictures and all(p["Content-ID"] for p in pictures)
    for picture in pictures:
        assert f'src="cid:{picture["Content-ID"].strip("<>")}"' in html_part.get_content()
    for body in (plain.get_content(), html_part.get_content()):
        assert "regress_probe" in body and "Regressions" in body


def test_the_mailed_report_of_the_run_has_its_regression(
    run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report of the run (window and baseline of the snapshots) mailed through a
    real SMTP server: multipart/alternative, charts inline by Content-ID, the subject
    counts the regression, both bodies name it with its numbers."""
    with psycopg.connect(run["dsn"], autocommit=True) as conn:
        report = history_report.build(
            conn,
            since=dt.timedelta(hours=1),
            target=TARGET,
            regression_window=run["window"],
            regression_baseline=run["baseline"],
        )
    message = history_report.email_message(
        report, sender="pgstatkit@example.org", to=["dba@example.org", "oncall@example.org"]
    )
    monkeypatch.setenv("PGSTATKIT_SMTP_USER", "reporter")
    monkeypatch.setenv("PGSTATKIT_SMTP_PASSWORD", "pw-from-env")
    with smtp_server(tmp_path, user="reporter", password="pw-from-env") as box:
        history_report.send_email(message, host=box.host, port=box.port, ssl_context=box.context)
    (raw,) = box.messages
    got = email.message_from_bytes(raw, policy=email.policy.default)
    assert got.get_content_type() == "multipart/alternative"
    assert got["Subject"].endswith(": 1 regression(s)")
    plain, related = got.get_payload()  # type: ignore[misc]
    html_part, *pictures = related.get_payload()
    assert related.get_content_type() == "multipart/related"
    assert {p.get_content_type() for p in pictures} == {"image/png"} and len(pictures) >= 2
    html = html_part.get_content()
    assert all(f'src="cid:{p["Content-ID"].strip("<>")}"' in html for p in pictures)
    for body in (plain.get_content(), html):
        assert "regress_probe" in body
        assert "mean_exec_time_ms" in body and "shared_blks_hit_per_call" in body
        assert "significant (p=" in body


def test_report_without_since_refuses_history_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--html", "x.html", "--dsn", "postgresql://u@127.0.0.1:1/x"]) == 2
    assert "--html needs --since" in capsys.readouterr().err


def test_check_turns_the_regression_into_a_finding(run: dict[str, Any]) -> None:
    findings = checks.from_regressions(run["report"])
    (probe,) = [f for f in findings if "regress_probe" in f.message]
    assert probe.source == "regressions" and probe.severity in ("warning", "critical")
    assert "mean_exec_time_ms" in probe.message and "p=" in probe.message
    # the command line: history is there, but no snapshots a week ago yet
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["check", "--dsn", run["dsn"], "--format", "json"])
    payload = json.loads(out.getvalue())
    assert "regressions" not in payload["sources"], payload
    assert any(s.startswith("regressions: not enough history yet") for s in payload["skipped"])
    assert code in (0, 7)

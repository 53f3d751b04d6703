"""The history report's formats on a synthetic report: terminal (sparklines, escaped),
Markdown, JSON, self-contained HTML with PNG charts (escaped), and the email through a
real SMTP server (aiosmtpd, STARTTLS and AUTH; credentials from the environment)."""

from __future__ import annotations

import email
import email.policy
import json
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from report_support import EVIL, smtp_server, synthetic_report

from pgstatkit._report_render import (
    SmtpError,
    charts,
    email_message,
    render_html,
    render_json,
    render_markdown,
    render_text,
    send_email,
    sparkline,
)
from pgstatkit.errors import InvalidArgumentError


def test_sparkline() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([3, None, 3]) == "▅ ▅"
    assert sparkline([]) == ""
    assert sparkline([None]) == ""


def test_text_report_has_sparklines_and_escapes_terminal_controls() -> None:
    text = render_text(synthetic_report())
    assert "\x1b" not in text
    assert "\\x1b" in text or "\\u001b" in text or "␛" in text
    assert re.search(r"time in statements per interval \(ms\): [▁▂▃▄▅▆▇█]{24}", text), text
    assert (
        "queryid 11" in text and "mean_exec_time_ms" in text and "shared_blks_hit_per_call" in text
    )
    assert "lossy" in text and "Interval flags" in text
    assert "Health" in text and "Index suggestions" not in text  # the advisor is absent here


def test_markdown_and_json() -> None:
    report = synthetic_report()
    md = render_markdown(report)
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "## Regressions" in md and "| queryid |" in md
    assert "\\|" in md  # a pipe in a cell does not split the row
    data = json.loads(render_json(report))
    assert data["regressions"]["regressions"][0]["queryid"] == 11
    assert data["top_statements"][0]["query"] == EVIL


def test_html_is_self_contained_and_escaped() -> None:
    report = synthetic_report()
    images = charts(report)
    assert set(images) == {"trend0", "trend1", "trend2", "trend3", "trend4", "regressions"}
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in images.values())
    page = render_html(report, images=images)
    assert "<script" not in page.lower().replace("&lt;script", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "bloat&lt;b&gt;" in page and "a note with &lt;b&gt;tags&lt;/b&gt;" in page
    assert page.count('src="data:image/png;base64,') == len(images)
    assert "http://" not in page and "https://" not in page  # opens offline


def _received(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_email_through_a_real_smtp_server_with_starttls_and_auth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = synthetic_report()
    message = email_message(report, sender="pgstatkit@example.org", to=["dba@example.org"])
    monkeypatch.setenv("PGSTATKIT_SMTP_USER", "reporter")
    monkeypatch.setenv("PGSTATKIT_SMTP_PASSWORD", "s3cret")
    with smtp_server(tmp_path, user="reporter", password="s3cret") as box:
        send_email(message, host=box.host, port=box.port, ssl_context=box.context)
        # without STARTTLS the server refuses; the error says so, not the password
        with pytest.raises(SmtpError, match="could not send") as refused:
            send_email(message, host=box.host, port=box.port, security="ssl", timeout_s=5)
        assert "s3cret" not in str(refused.value)
    assert box.logins == ["reporter"]
    (raw,) = box.messages
    got = _received(raw)
    assert got.get_content_type() == "multipart/alternative"
    assert got["Subject"] == f"{report.title}: 1 regression(s)"
    assert got["To"] == "dba@example.org"
    plain, related = got.get_payload()  # type: ignore[misc]
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *pictures = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    assert len(pictures) == 6 and all(p.get_content_type() == "image/png" for p in pictures)
    html = html_part.get_content()
    for picture in pictures:
        cid = picture["Content-ID"].strip("<>")
        assert f'src="cid:{cid}"' in html
        assert picture.get_content().startswith(b"\x89PNG")
    # the body has the regressions, in both parts
    text = plain.get_content()
    assert "queryid 11" in text and "queryid 11" in html
    assert "mean_exec_time_ms" in text and "shared_blks_hit_per_call" in html
    assert "<script>" not in html


def test_email_arguments_and_cleartext_credentials_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = synthetic_report(with_regression=False)
    with pytest.raises(InvalidArgumentError, match="recipient"):
        email_message(report, sender="a@b", to=[])
    with pytest.raises(InvalidArgumentError, match="line breaks"):
        email_message(report, sender="a@b", to=["x@y\r\nBcc: z@w"])
    message = email_message(report, sender="a@b", to=["x@y"])
    assert message["Subject"] == report.title  # no regressions: no count
    monkeypatch.setenv("PGSTATKIT_SMTP_USER", "u")
    monkeypatch.setenv("PGSTATKIT_SMTP_PASSWORD", "p")
    with pytest.raises(InvalidArgumentError, match="in clear"):
        send_email(message, host="127.0.0.1", port=25, security="none")
    with pytest.raises(InvalidArgumentError, match="security"):
        send_email(message, host="127.0.0.1", security="tls")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="port"):
        send_email(message, host="127.0.0.1", port=0)

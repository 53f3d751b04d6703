"""Shared helpers of the report tests: a synthetic report, a real SMTP server
(aiosmtpd) with STARTTLS and AUTH, and the screenshot check of headless Chromium."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness import servers
from pgstatkit._regressions import Thresholds, detect
from pgstatkit._report_render import HistoryReport, IntervalFlag, TopStatement, TrendPoint
from pgstatkit.checks import CheckFinding

EVIL = "SELECT '<script>alert(1)</script>' AS \x1b[31mred, '| * _ `' FROM t WHERE k = $1"
T0 = dt.datetime(2026, 11, 27, 12, tzinfo=dt.timezone.utc)


def synthetic_report(with_regression: bool = True) -> HistoryReport:
    """A report with every section filled, and hostile text from 'the database'."""
    from unit.test_regressions_math import Change, Changes  # the unit tests' fakes

    window = Changes(
        T0 - dt.timedelta(hours=1),
        T0,
        (Change(11, 600, 4.0, 1.0, blks_hit=150 * 600), Change(12, 50, 9.0, 1.0)),
        lossy_intervals=1,
        evictions=3,
    )
    base = [
        Changes(
            T0 - dt.timedelta(days=d, hours=1),
            T0 - dt.timedelta(days=d),
            (Change(11, 600, 0.2, 0.05, blks_hit=3 * 600),) if with_regression else (),
        )
        for d in range(1, 8)
    ]
    regressions = detect(window, base, Thresholds())
    trend = tuple(
        TrendPoint(
            "main",
            T0 - dt.timedelta(minutes=10 * (24 - i)),
            600.0,
            "lossy" if i == 20 else "complete",
            100.0 + 50 * (i % 5) + (400 if i > 18 else 0),
            0.99 - (0.2 if i > 18 else 0.0),
            100 + i,
            i % 3,
            (1 << 20) * (i % 4),
        )
        for i in range(24)
    )
    return HistoryReport(
        target="main",
        since=T0 - dt.timedelta(hours=4),
        until=T0,
        previous_since=T0 - dt.timedelta(hours=8),
        generated_at=T0,
        top_statements=(
            TopStatement("main", 11, "shop", "app", EVIL, 600, 2400.0, 4.0, 600, 120.0, 20.0),
            TopStatement("main", 12, "shop", "app", "SELECT 2", 50, 450.0, 9.0, None, None, None),
        ),
        regressions=regressions,
        trend=trend,
        flags=(
            IntervalFlag("main", trend[20].captured_at, trend[19].captured_at, "lossy", 3, "x"),
        ),
        health=(CheckFinding("health", "bloat<b>", "warning", "table <t> is 40% bloat"),),
        index_suggestions=None,
        notes=("a note with <b>tags</b>",),
    )


@dataclass
class Mailbox:
    host: str
    port: int
    context: ssl.SSLContext
    messages: list[bytes] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


def _certificate(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        message = "openssl not found (it makes the SMTP server's certificate)"
        if servers.strict():
            pytest.fail(message)
        pytest.skip(message)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@contextlib.contextmanager
def smtp_server(directory: Path, *, user: str, password: str) -> Iterator[Mailbox]:
    """A real aiosmtpd server on 127.0.0.1 that requires STARTTLS and AUTH."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = _certificate(directory)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    box = Mailbox("127.0.0.1", 0, client_context)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(envelope.original_content or envelope.content)
            return "250 OK"

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode() == user and auth_data.password.decode() == password
        )
        if ok:
            box.logins.append(user)
        return AuthResult(success=ok)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    box.port = port
    try:
        yield box
    finally:
        controller.stop()


PIXELS_JS = """(async () => {
  const img = new Image();
  img.src = "data:image/png;base64,%s";
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, img.width, img.height).data;
  const counts = new Map();
  for (let i = 0; i < data.length; i += 16) {
    const key = (data[i] >> 3) << 10 | (data[i + 1] >> 3) << 5 | (data[i + 2] >> 3);
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  const background = Math.max(...counts.values());
  return {colours: counts.size, other: 1 - background / (data.length / 16)};
})()"""

IMAGES_JS = """(() => Array.from(document.images).map(i => ({
  alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})))()"""


def assert_screenshot_not_blank(tab: Any, path: Path) -> dict[str, Any]:
    data = tab.screenshot(path)
    pixels: dict[str, Any] = tab.evaluate(PIXELS_JS % base64.b64encode(data).decode())
    assert pixels["colours"] >= 20, f"{path.name} looks blank: {pixels}"
    assert pixels["other"] >= 0.05, f"{path.name} is almost all background: {pixels}"
    return pixels

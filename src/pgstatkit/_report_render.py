# ruff: noqa: E501 - the field meanings at the end are table cells, one line each
"""The history report's models and how it reads: terminal text (with sparklines),
Markdown, JSON, self-contained HTML with PNG charts (matplotlib, the ``reports`` extra),
and an email (``email``/``smtplib``). Sans database: :mod:`pgstatkit.history_report`
builds the :class:`HistoryReport` from history.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import html
import io
import json
import math
import os
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Literal

from pgstatkit import _fielddoc
from pgstatkit._display import cut, safe
from pgstatkit._regressions import RegressionReport
from pgstatkit._version import __version__
from pgstatkit.checks import CheckFinding
from pgstatkit.errors import ExtraNotInstalledError, InvalidArgumentError, PgStatKitError

__all__ = [
    "HistoryReport",
    "IntervalFlag",
    "SmtpError",
    "TopStatement",
    "TrendPoint",
    "charts",
    "email_message",
    "render_html",
    "render_json",
    "render_markdown",
    "render_text",
    "send_email",
    "sparkline",
]

SMTP_USER_ENV = "PGSTATKIT_SMTP_USER"
SMTP_PASSWORD_ENV = "PGSTATKIT_SMTP_PASSWORD"  # noqa: S105 - a variable name, not a secret

FLAG_MEANINGS = {
    "reset": "the statistics were reset in this interval: counts before the reset are lost",
    "lossy": "pg_stat_statements evicted or re-created entries: their earlier counts are lost",
}


# --------------------------------------------------------------------------- models


@dataclass(frozen=True, slots=True)
class TopStatement:
    """One of the period's statements with the most total execution time."""

    target: str
    queryid: int
    database: str | None
    username: str | None
    query: str | None
    calls: int
    total_exec_time_ms: float
    mean_exec_time_ms: float | None
    previous_calls: int | None
    previous_total_exec_time_ms: float | None
    total_time_change_ratio: float | None

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """The target database in one interval of the period."""

    target: str
    captured_at: _dt.datetime
    interval_s: float
    status: str
    active_time_ms: float | None
    cache_hit_ratio: float | None
    commits: int | None
    rollbacks: int | None
    temp_bytes: int | None

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


@dataclass(frozen=True, slots=True)
class IntervalFlag:
    """An interval of the period that was not complete, and what that means."""

    target: str
    captured_at: _dt.datetime
    previous_captured_at: _dt.datetime | None
    status: str
    evictions: int | None
    meaning: str

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


@dataclass(frozen=True, slots=True)
class HistoryReport:
    """What :func:`pgstatkit.history_report.build` returns: one period of history."""

    target: str | None
    since: _dt.datetime
    until: _dt.datetime
    previous_since: _dt.datetime
    generated_at: _dt.datetime
    top_statements: tuple[TopStatement, ...]
    regressions: RegressionReport | None
    trend: tuple[TrendPoint, ...]
    flags: tuple[IntervalFlag, ...]
    health: tuple[CheckFinding, ...] | None
    index_suggestions: tuple[str, ...] | None
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)

    @property
    def title(self) -> str:
        what = f"target {self.target}" if self.target else "every target"
        return f"pgstatkit report: {what}, {_when(self.since)} to {_when(self.until)} (UTC)"


def _as_dict(model: Any) -> dict[str, Any]:
    def value(v: Any) -> Any:
        if isinstance(v, _dt.datetime):
            return v.isoformat()
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: value(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple):
            return [value(x) for x in v]
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    out: dict[str, Any] = value(model)
    return out


def _when(t: _dt.datetime) -> str:
    return t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- numbers


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    if v >= 10_000:
        return f"{v / 1000:,.1f} s"
    return f"{v:,.2f} ms"


def _num(v: float | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def _ratio(v: float | None) -> str:
    return "new" if v is None else f"x{v:,.2f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _bytes(v: float | None) -> str:
    if v is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(v) < 1024 or unit == "GB":
            return f"{v:,.0f} {unit}" if unit == "B" else f"{v:,.1f} {unit}"
        v /= 1024
    return f"{v:,.1f} TB"  # pragma: no cover


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """A one-line chart of ``values`` (``None``: a gap, shown as a space)."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = high - low
    out = []
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(" ")
        elif span == 0:
            out.append(_BARS[len(_BARS) // 2])
        else:
            out.append(_BARS[min(int((v - low) / span * (len(_BARS) - 1) + 0.5), len(_BARS) - 1)])
    return "".join(out)


# (label, value of a point, format) of each trend
TRENDS: tuple[
    tuple[str, Callable[[TrendPoint], float | None], Callable[[float | None], str]], ...
] = (
    ("time in statements per interval (ms)", lambda p: p.active_time_ms, _ms),
    ("cache hit ratio", lambda p: p.cache_hit_ratio, _pct),
    ("commits per interval", lambda p: None if p.commits is None else float(p.commits), _num),
    ("rollbacks per interval", lambda p: None if p.rollbacks is None else float(p.rollbacks), _num),
    (
        "temp bytes per interval",
        lambda p: None if p.temp_bytes is None else float(p.temp_bytes),
        _bytes,
    ),
)


def _query(text: str | None, width: int = 80) -> str:
    return cut(" ".join((text or "(text unknown)").split()), width)


# --------------------------------------------------------------------------- sections

Form = Literal["text", "markdown"]


def _regression_lines(report: HistoryReport) -> list[tuple[str, list[str]]]:
    """(headline, details) of each regression."""
    found: list[tuple[str, list[str]]] = []
    if report.regressions is None:
        return found
    for r in report.regressions.regressions:
        p = "-" if r.exec_time_p_value is None else f"{r.exec_time_p_value:.2g}"
        head = (
            f"queryid {r.queryid} ({r.database or '?'}/{r.username or '?'}): "
            f"{', '.join(r.regressed)}; {'significant' if r.significant else 'not significant'} "
            f"(p={p}), confidence {r.confidence}"
        )
        details = [
            _query(r.query),
            f"mean time {_ms(r.baseline_mean_exec_time_ms)} -> {_ms(r.recent_mean_exec_time_ms)} "
            f"({_ratio(r.exec_time_ratio)}), calls {r.baseline_calls:,} -> {r.recent_calls:,}",
            f"shared blocks/call read {r.baseline_shared_blks_read_per_call:,.1f} -> "
            f"{r.recent_shared_blks_read_per_call:,.1f}, hit {r.baseline_shared_blks_hit_per_call:,.1f} "
            f"-> {r.recent_shared_blks_hit_per_call:,.1f}; rows/call {r.baseline_rows_per_call:,.1f} "
            f"-> {r.recent_rows_per_call:,.1f}; temp blocks/call {r.baseline_temp_blks_per_call:,.1f} "
            f"-> {r.recent_temp_blks_per_call:,.1f}",
            f"extra time in the window: {_ms(r.extra_exec_time_ms)}",
        ]
        found.append((head, details))
    return found


def _sections(report: HistoryReport) -> list[tuple[str, list[str], list[list[str]] | None]]:
    """(title, text lines, table rows or None) of every section; the first row of a
    table is its header. Text is raw: each renderer escapes it."""
    out: list[tuple[str, list[str], list[list[str]] | None]] = []
    rows = [["queryid", "calls", "total", "mean", "vs previous", "query"]]
    rows += [
        [
            str(s.queryid),
            f"{s.calls:,}",
            _ms(s.total_exec_time_ms),
            _ms(s.mean_exec_time_ms),
            _ratio(s.total_time_change_ratio),
            _query(s.query, 70),
        ]
        for s in report.top_statements
    ]
    out.append(
        (
            "Top statements by total time",
            [] if report.top_statements else ["(none)"],
            rows if report.top_statements else None,
        )
    )
    reg = report.regressions
    lines: list[str] = []
    if reg is None:
        lines.append("(not computed)")
    else:
        base = reg.baseline
        lines.append(
            f"window {_when(reg.window.since)} to {_when(reg.window.until)} against "
            f"{len(base)} baseline period(s)"
        )
        items = _regression_lines(report)
        if not items:
            lines.append("no regressions")
        for head, details in items:
            lines.append("- " + head)
            lines += ["    " + d for d in details]
    out.append(("Regressions", lines, None))
    new_lines = []
    if reg is not None:
        new_lines += [
            f"- #{n.rank} queryid {n.queryid}: {n.calls:,} calls, {_ms(n.total_exec_time_ms)} in all: {_query(n.query, 70)}"
            for n in reg.new_statements
        ]
        new_lines += [
            f"- calls/min jump, queryid {j.queryid}: {j.baseline_calls_per_minute:,.1f} -> "
            f"{j.recent_calls_per_minute:,.1f} ({_ratio(j.ratio)}): {_query(j.query, 60)}"
            for j in reg.call_rate_jumps
        ]
    out.append(("New statements and call-rate jumps", new_lines or ["(none)"], None))
    trend_lines = []
    if not report.trend:
        trend_lines.append("(no intervals)")
    for label, get, show in TRENDS:
        values = [get(p) for p in report.trend]
        known = [v for v in values if v is not None]
        if not report.trend:
            break
        if not known:
            trend_lines.append(f"{label}: (not recorded)")
            continue
        trend_lines.append(
            f"{label}: {sparkline(values)}  min {show(min(known))}, max {show(max(known))}, last {show(known[-1])}"
        )
    out.append(("Database trends", trend_lines, None))
    if report.health is not None:
        out.append(
            (
                "Health",
                [f"- [{f.severity}] {f.check}: {f.message}" for f in report.health]
                or ["no findings"],
                None,
            )
        )
    if report.index_suggestions is not None:
        out.append(
            ("Index suggestions", [f"- {s}" for s in report.index_suggestions] or ["(none)"], None)
        )
    flag_lines = [
        f"- {_when(f.captured_at)} {f.target}: {f.status}"
        + (f" ({f.evictions} evictions)" if f.evictions else "")
        + f": {f.meaning}"
        for f in report.flags
    ]
    notes = list(report.notes) + (list(reg.notes) if reg is not None else [])
    out.append(
        (
            "Interval flags",
            (flag_lines or ["every interval complete"]) + [f"note: {n}" for n in notes],
            None,
        )
    )
    return out


def _text_table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i == len(row) - 1 or i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def render_text(report: HistoryReport) -> str:
    """The report for a terminal: every character from the database escaped
    (``_display.safe``), trends as sparklines."""
    lines = [safe(report.title), "=" * min(len(report.title), 100), ""]
    for title, text, rows in _sections(report):
        lines += [title, "-" * len(title)]
        lines += [safe(t) for t in text]
        if rows is not None:
            lines += _text_table([[safe(c) for c in r] for r in rows])
        lines.append("")
    return "\n".join(lines)


def _md(text: str) -> str:
    """Markdown-safe text: HTML characters and Markdown's specials escaped."""
    escaped = html.escape(safe(text), quote=False)
    for ch in "\\`*_[]|#<>":
        if ch in "<>":
            continue
        escaped = escaped.replace(ch, "\\" + ch)
    return escaped


def render_markdown(report: HistoryReport) -> str:
    """The report as Markdown (GitHub flavour); text from the database escaped."""
    lines = [f"# {_md(report.title)}", ""]
    for title, text, rows in _sections(report):
        lines += [f"## {title}", ""]
        for t in text:
            indent = len(t) - len(t.lstrip(" "))
            lines.append(("  " if indent else "") + _md(t.strip()))
        if rows is not None:
            lines.append("| " + " | ".join(rows[0]) + " |")
            lines.append("|" + "|".join(" --- " for _ in rows[0]) + "|")
            lines += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows[1:]]
        lines.append("")
    return "\n".join(lines)


def render_json(report: HistoryReport) -> str:
    """The report as JSON (``to_dict``; datetimes in ISO 8601)."""
    return json.dumps(report.to_dict(), indent=2, allow_nan=False)


# --------------------------------------------------------------------------- charts


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ExtraNotInstalledError(
            'the HTML report draws its charts with matplotlib: pip install "pgstatkit[reports]"',
            extra="reports",
        ) from None
    return plt


def charts(report: HistoryReport) -> dict[str, bytes]:
    """The report's charts as PNG images, by name: one per database trend that has
    values, and the regressions' mean times (baseline against window).

    Raises:
        ExtraNotInstalledError: matplotlib is not installed (the ``reports`` extra).
    """
    plt = _pyplot()
    import importlib

    dates: Any = importlib.import_module("matplotlib.dates")
    images: dict[str, bytes] = {}

    def save(name: str, fig: Any) -> None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        images[name] = buffer.getvalue()

    times = [p.captured_at for p in report.trend]
    for n, (label, get, _) in enumerate(TRENDS):
        values = [get(p) for p in report.trend]
        if not any(v is not None for v in values):
            continue
        fig, ax = plt.subplots(figsize=(7, 2.4))
        ys = [math.nan if v is None else v for v in values]
        ax.plot(times, ys, marker="o", markersize=3, linewidth=1.5, color=f"C{n}")
        ax.fill_between(times, ys, alpha=0.15, color=f"C{n}")
        flagged = [p.captured_at for p in report.trend if p.status in FLAG_MEANINGS]
        for t in flagged:
            ax.axvline(t, color="red", alpha=0.4, linewidth=1)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        locator = dates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
        save(f"trend{n}", fig)
    regs = report.regressions.regressions[:8] if report.regressions is not None else ()
    if regs:
        fig, ax = plt.subplots(figsize=(7, 0.6 + 0.5 * len(regs)))
        labels = [str(r.queryid) for r in regs]
        y = range(len(regs))
        ax.barh(
            [i + 0.2 for i in y],
            [r.baseline_mean_exec_time_ms for r in regs],
            height=0.4,
            label="baseline",
        )
        ax.barh(
            [i - 0.2 for i in y],
            [r.recent_mean_exec_time_ms for r in regs],
            height=0.4,
            label="window",
        )
        ax.set_yticks(list(y), labels)
        ax.set_xlabel("mean execution time (ms)")
        ax.set_title("Regressions: mean time per call")
        ax.legend()
        ax.invert_yaxis()
        save("regressions", fig)
    return images


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ddd; padding: 0.2em 0.5em; text-align: right; }
td:last-child, th:last-child { text-align: left; }
pre, code { font-size: 0.85em; white-space: pre-wrap; }
.chart { display: block; max-width: 100%; margin: 0.5em 0; }
"""


def render_html(
    report: HistoryReport,
    *,
    images: dict[str, bytes] | None = None,
    inline: Literal["data", "cid"] = "data",
    cids: dict[str, str] | None = None,
) -> str:
    """The report as one HTML page: every text escaped, charts (:func:`charts`, unless
    ``images`` is given) embedded as ``data:`` URIs so the file opens offline, or, with
    ``inline="cid"``, referenced by Content-ID (``cids``: name -> id) for an email.

    Raises:
        ExtraNotInstalledError: matplotlib is not installed (the ``reports`` extra).
    """
    pictures = charts(report) if images is None else images

    def src(name: str) -> str:
        if inline == "cid":
            assert cids is not None
            return "cid:" + cids[name].strip("<>")
        return "data:image/png;base64," + base64.b64encode(pictures[name]).decode("ascii")

    e = html.escape
    body = [f"<h1>{e(report.title)}</h1>"]
    body.append(
        f"<p>Generated {e(_when(report.generated_at))} UTC by pgstatkit {e(__version__)}; "
        f"previous period from {e(_when(report.previous_since))}.</p>"
    )
    for title, text, rows in _sections(report):
        body.append(f"<h2>{e(title)}</h2>")
        if title == "Regressions" and "regressions" in pictures:
            body.append(
                f'<img class="chart" alt="Regressions: mean time per call" src="{src("regressions")}">'
            )
        if title == "Database trends":
            body += [
                f'<img class="chart" alt="{e(label)}" src="{src(f"trend{n}")}">'
                for n, (label, _, _) in enumerate(TRENDS)
                if f"trend{n}" in pictures
            ]
        if text:
            body.append("<pre>" + "\n".join(e(t) for t in text) + "</pre>")
        if rows is not None:
            head = "".join(f"<th>{e(c)}</th>" for c in rows[0])
            cells = "".join(
                "<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows[1:]
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(report.title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


# --------------------------------------------------------------------------- email


class SmtpError(PgStatKitError):
    """The report could not be sent: the SMTP server refused it or could not be
    reached (the message says which, never the password)."""


def email_message(
    report: HistoryReport,
    *,
    sender: str,
    to: Sequence[str],
    subject: str | None = None,
) -> EmailMessage:
    """The report as an email: ``multipart/alternative`` with the plain text and the
    HTML, the charts as inline PNG parts of the HTML (``multipart/related``, referenced
    by Content-ID).

    Raises:
        InvalidArgumentError: no recipient, or an address with a line break.
        ExtraNotInstalledError: matplotlib is not installed (the ``reports`` extra).
    """
    addresses = [sender, *to]
    if not to or any(
        not isinstance(a, str) or not a.strip() or "\n" in a or "\r" in a for a in addresses
    ):
        raise InvalidArgumentError(
            "give a sender and at least one recipient, one address each, without line breaks"
        )
    pictures = charts(report)
    domain = sender.rpartition("@")[2] or "pgstatkit"
    cids = {name: make_msgid(name, domain=domain) for name in pictures}
    message = EmailMessage()
    count = len(report.regressions.regressions) if report.regressions is not None else 0
    message["Subject"] = subject or (
        f"{report.title}" + (f": {count} regression(s)" if count else "")
    )
    message["From"] = sender
    message["To"] = ", ".join(to)
    message.set_content(render_text(report))
    message.add_alternative(
        render_html(report, images=pictures, inline="cid", cids=cids), subtype="html"
    )
    html_part = next(p for p in message.iter_parts() if p.get_content_type() == "text/html")
    assert isinstance(html_part, EmailMessage)
    for name, png in pictures.items():
        html_part.add_related(
            png, "image", "png", cid=cids[name], filename=f"{name}.png", disposition="inline"
        )
    return message


def send_email(
    message: EmailMessage,
    *,
    host: str,
    port: int | None = None,
    security: Literal["starttls", "ssl", "none"] = "starttls",
    timeout_s: float = 30.0,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Send ``message`` through ``host``.

    ``security``: ``"starttls"`` (default, port 587), ``"ssl"`` (implicit TLS, port
    465) or ``"none"`` (port 25; only for a relay on the same host or network).
    Credentials come from the environment only: ``PGSTATKIT_SMTP_USER`` and
    ``PGSTATKIT_SMTP_PASSWORD`` (log in when both are set; never over an unencrypted
    connection).

    Raises:
        InvalidArgumentError: a bad host, port or security, or credentials with
            ``security="none"``.
        SmtpError: the server could not be reached or refused the login or the message.
    """
    if security not in ("starttls", "ssl", "none"):
        raise InvalidArgumentError(f"security must be starttls, ssl or none, got {security!r}")
    if not isinstance(host, str) or not host or any(c.isspace() for c in host):
        raise InvalidArgumentError(f"host must be a host name, got {host!r}")
    port = port if port is not None else {"starttls": 587, "ssl": 465, "none": 25}[security]
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise InvalidArgumentError(f"port must be 1 to 65535, got {port!r}")
    user = os.environ.get(SMTP_USER_ENV)
    password = os.environ.get(SMTP_PASSWORD_ENV)
    login = bool(user and password)
    if login and security == "none":
        raise InvalidArgumentError(
            f"{SMTP_USER_ENV}/{SMTP_PASSWORD_ENV} are set but security is none: the "
            "password would cross the network in clear; use starttls or ssl"
        )
    context = ssl_context or ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if security == "ssl":
            client = smtplib.SMTP_SSL(host, port, timeout=timeout_s, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout_s)
        with client:
            if security == "starttls":
                client.starttls(context=context)
            if login:
                assert user is not None
                assert password is not None
                client.login(user, password)
            client.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise SmtpError(
            f"the SMTP server {host}:{port} refused the login of {user!r}: {exc.smtp_code}"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SmtpError(
            f"could not send the report through {host}:{port}: {type(exc).__name__}: {exc}"
        ) from None


# --------------------------------------------------------------------------- field docs

_fielddoc.describe(
    TopStatement,
    None,
    {
        "target": "the history target's name",
        "queryid": _fielddoc.F("the statement's 64-bit `pg_stat_statements` queryid", id64=True),
        "database": "name of the database; `None` if dropped since",
        "username": "name of the role; `None` if dropped since",
        "query": "the statement's text as history stored it; `None` when unknown",
        "calls": "calls in the period",
        "total_exec_time_ms": "total execution time in the period, ms",
        "mean_exec_time_ms": "mean execution time per call in the period, ms",
        "previous_calls": "calls in the previous period of the same length; `None` when it did not run then",
        "previous_total_exec_time_ms": "total execution time in the previous period, ms; `None` when it did not run then",
        "total_time_change_ratio": "total time now / in the previous period; `None` when it did not run then",
    },
)
_fielddoc.describe(
    TrendPoint,
    None,
    {
        "target": "the history target's name",
        "captured_at": "when the snapshot closing the interval was taken",
        "interval_s": "the interval's length, seconds",
        "status": '`"complete"`, `"reset"` or `"lossy"` (see `IntervalFlag`)',
        "active_time_ms": "time spent executing statements in the database in the interval, ms (`pg_stat_database.active_time`, PostgreSQL 14+); `None` before",
        "cache_hit_ratio": "shared buffer hits / (hits + reads) in the interval, 0 to 1; `None` without block accesses",
        "commits": "transactions committed in the interval",
        "rollbacks": "transactions rolled back in the interval",
        "temp_bytes": "bytes written to temporary files in the interval",
    },
)
_fielddoc.describe(
    IntervalFlag,
    None,
    {
        "target": "the history target's name",
        "captured_at": "when the snapshot closing the interval was taken",
        "previous_captured_at": "when the interval began (the previous snapshot)",
        "status": '`"reset"` or `"lossy"`',
        "evictions": "`pg_stat_statements` evictions in the interval; `None` before 1.9",
        "meaning": "what the flag means for the numbers of the report, in words",
    },
)
_fielddoc.describe(
    HistoryReport,
    None,
    {
        "target": "the history target reported on; `None`: every target of the store",
        "since": "start of the period",
        "until": "end of the period",
        "previous_since": "start of the previous period of the same length (it ends at `since`)",
        "generated_at": "when the report was built",
        "top_statements": "the period's statements with the most total execution time, with the change against the previous period: `TopStatement` objects",
        "regressions": "the regressions of the period's last hour (by default) against the same hour on the 7 days before: a `RegressionReport`; `None` when not computed",
        "trend": "the target database interval by interval: `TrendPoint` objects",
        "flags": "the period's intervals that were not complete: `IntervalFlag` objects",
        "health": "the health checks' findings (`CheckFinding` objects); `None` when this pgstatkit has no health checks",
        "index_suggestions": "index suggestions as text; `None` when this pgstatkit has no index advisor",
        "notes": "what else the reader should know about the numbers, in words",
    },
)

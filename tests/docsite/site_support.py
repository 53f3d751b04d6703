"""Helpers of the documentation-site tests: build the site, serve it, read its pages.

(No ``__init__.py`` here, as in ``tests/http``: test modules import this one by its
unique name.)

Every check walks the built site (every HTML page under the site directory), so pages
added later are checked without being listed.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 180

MAX_CODE_COLUMNS = 110
"""The longest code line the layout shows without scrolling at a 1,280 px window.

The content column is about 1,000 px wide there (docs/stylesheets/extra.css); a code
character is about 8.2 px. ``test_site_browser`` measures every block in Chromium: a
block within this limit that still scrolls fails there, so the number cannot drift from
the layout unnoticed.
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def build_site(site_dir: Path) -> Path:
    """``mkdocs build --strict`` into ``site_dir``; skips (fails in CI) without mkdocs."""
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        if in_ci():
            pytest.fail('mkdocs is not installed: pip install -e ".[docs]" (part of .[dev])')
        pytest.skip('mkdocs is not installed (pip install -e ".[docs]")')
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return site_dir


def html_pages(site_dir: Path) -> list[Path]:
    """Every page of the built site (its ``index.html`` files and ``404.html``)."""
    return sorted(p for p in site_dir.rglob("*.html") if "assets" not in p.parts)


def page_url(site_dir: Path, page: Path) -> str:
    """The URL path of ``page`` on a server rooted at ``site_dir``."""
    rel = page.relative_to(site_dir).as_posix()
    return "/" + (rel[: -len("index.html")] if rel.endswith("index.html") else rel)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on a free loopback port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class CodeBlock:
    """One ``<pre>`` of a page: its text and the classes of its enclosing elements."""

    text: str
    classes: set[str] = field(default_factory=set)


@dataclass
class Link:
    href: str
    text: str


@dataclass
class Article:
    """What a page's content (``<article>``) shows: prose, links and code blocks."""

    prose: list[str] = field(default_factory=list)  # text outside <pre>, <script>, <style>
    links: list[Link] = field(default_factory=list)
    blocks: list[CodeBlock] = field(default_factory=list)


class _ArticleParser(HTMLParser):
    """Collects an :class:`Article` from the ``<article>`` of a Material page."""

    VOID = frozenset({"br", "img", "hr", "input", "meta", "link", "wbr", "source", "col"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.article = Article()
        self._stack: list[tuple[str, set[str]]] = []
        self._in_article = 0
        self._pre: list[str] | None = None
        self._pre_classes: set[str] = set()
        self._links: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = set((found.get("class") or "").split())
        if tag == "article":
            self._in_article += 1
        if tag in self.VOID:
            return
        self._stack.append((tag, classes))
        if not self._in_article:
            return
        if tag == "pre":
            self._pre = []
            self._pre_classes = set().union(*(c for _, c in self._stack))
        elif tag == "a" and self._pre is None:
            self._links.append((found.get("href") or "", []))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        while self._stack:
            opened, _ = self._stack.pop()
            self._close(opened)
            if opened == tag:
                break

    def _close(self, tag: str) -> None:
        if tag == "article":
            self._in_article -= 1
        elif tag == "pre" and self._pre is not None:
            self.article.blocks.append(CodeBlock("".join(self._pre), self._pre_classes))
            self._pre = None
        elif tag == "a" and self._links and self._pre is None:
            href, parts = self._links.pop()
            self.article.links.append(Link(href, "".join(parts).strip()))

    def handle_data(self, data: str) -> None:
        if not self._in_article:
            return
        if self._pre is not None:
            self._pre.append(data)
            return
        if any(tag in ("script", "style") for tag, _ in self._stack):
            return
        self.article.prose.append(data)
        for _, parts in self._links:
            parts.append(data)


def read_article(page: Path) -> Article:
    parser = _ArticleParser()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    return parser.article

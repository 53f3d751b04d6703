"""The documentation site and the admin API's Swagger UI, opened in headless Chromium.

Debian's ``chromium`` (``.ci/run`` installs it when missing) loads each page at a
1,280 x 2,000 window over the DevTools protocol (``harness.browser``):

- every page of the built site, served by ``http.server`` on a free loopback port: the
  page does not scroll sideways, and no code block needs sideways scrolling (a block
  fenced ``{ .text .wrap }`` wraps instead);
- screenshots of the home page, the models page, and the Swagger UI and ReDoc of an app
  with the admin router, served by a real uvicorn: each rendered (not blank: many
  colours, most of the window not background) and does not overflow at 1,280 px.

Swagger UI and ReDoc load their JavaScript from a CDN by default; there is no network
here, so the app is made with ``fastapi_offline.FastAPIOffline`` (FastAPI's documented
self-hosting of the docs assets, packaged; a test dependency). Screenshots are written
to ``$PGSTATKIT_SCREENSHOTS`` when it is set, else to the test's temporary directory.
"""

from __future__ import annotations

import base64
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from site_support import MAX_CODE_COLUMNS, build_site, html_pages, in_ci, page_url, serve

from harness.browser import Browser, Tab, find_chromium

WIDTH, HEIGHT = 1280, 2000

pytestmark = pytest.mark.slow

# What overflows sideways in a loaded page: the page itself, and each code block that
# needs a scroll bar (those of `.wrap` blocks wrap instead and are left out).
OVERFLOW_JS = """(() => {
  const root = document.documentElement;
  const blocks = [];
  for (const code of document.querySelectorAll("pre > code")) {
    if (code.closest(".wrap")) continue;
    if (code.scrollWidth > code.clientWidth + 1) {
      const longest = code.textContent.split("\\n").reduce((a, l) => Math.max(a, l.length), 0);
      blocks.push({longest, scroll: code.scrollWidth, client: code.clientWidth,
                   first: code.textContent.slice(0, 60)});
    }
  }
  return {page: root.scrollWidth - root.clientWidth, blocks};
})()"""

# How much of an image is not its background colour, and how many colours it has: the
# screenshot is decoded by the browser itself (no imaging library needed).
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
  for (let i = 0; i < data.length; i += 16) {  // every 4th pixel
    const key = (data[i] >> 3) << 10 | (data[i + 1] >> 3) << 5 | (data[i + 2] >> 3);
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  const background = Math.max(...counts.values());
  return {colours: counts.size, other: 1 - background / (data.length / 16),
          width: img.width, height: img.height};
})()"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        message = "chromium is not installed (apt-get install chromium; .ci/run does)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    instance = Browser(executable)
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def site_url(site: Path) -> Iterator[str]:
    with serve(site) as url:
        yield url


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("PGSTATKIT_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        return Path(wanted)
    return tmp_path_factory.mktemp("screenshots")


def overflow(tab: Tab) -> dict[str, Any]:
    found: dict[str, Any] = tab.evaluate(OVERFLOW_JS)
    return found


def assert_rendered(tab: Tab, path: Path) -> None:
    """A screenshot of ``tab`` in ``path`` that shows something and does not overflow."""
    data = tab.screenshot(path)
    pixels = tab.evaluate(PIXELS_JS % base64.b64encode(data).decode())
    assert (pixels["width"], pixels["height"]) == (WIDTH, HEIGHT), pixels
    assert pixels["colours"] >= 20, f"{path.name} looks blank: {pixels}"
    assert pixels["other"] >= 0.05, f"{path.name} is almost all background: {pixels}"
    assert overflow(tab)["page"] <= 0, f"{path.name} scrolls sideways at {WIDTH} px"


def test_no_page_of_the_site_overflows(browser: Browser, site: Path, site_url: str) -> None:
    problems = []
    pages = html_pages(site)
    assert len(pages) >= 20
    for page in pages:
        url = site_url + page_url(site, page)
        tab = browser.open(url, width=WIDTH, height=HEIGHT)
        try:
            found = overflow(tab)
        finally:
            tab.close()
        if found["page"] > 0:
            problems.append(f"{page_url(site, page)}: the page scrolls {found['page']} px sideways")
        problems += [
            f"{page_url(site, page)}: a code block scrolls ({b['longest']} columns, "
            f"{b['scroll']} px in {b['client']} px): {b['first']!r}"
            for b in found["blocks"]
        ]
    assert not problems, "\n".join(problems)


def test_the_column_limit_fits_the_layout(browser: Browser, site_url: str) -> None:
    """A line of MAX_CODE_COLUMNS characters fits a code block of the models page."""
    tab = browser.open(site_url + "/models/", width=WIDTH, height=HEIGHT)
    try:
        fits = tab.evaluate(
            f"""(() => {{
              const code = document.querySelector("article pre > code");
              code.textContent = "x".repeat({MAX_CODE_COLUMNS});
              return code.scrollWidth <= code.clientWidth;
            }})()"""
        )
    finally:
        tab.close()
    assert fits, f"{MAX_CODE_COLUMNS} columns do not fit a code block at {WIDTH} px"


@pytest.mark.parametrize(("name", "path"), [("home", "/"), ("models", "/models/")])
def test_screenshot_of_the_site(
    browser: Browser, site_url: str, shots: Path, name: str, path: str
) -> None:
    tab = browser.open(site_url + path, width=WIDTH, height=HEIGHT)
    try:
        assert_rendered(tab, shots / f"site-{name}.png")
        if name == "models":
            cell = tab.evaluate(
                """[...document.querySelectorAll("tr")]
                   .find(r => r.cells[0] && r.cells[0].textContent.trim() === "queryid")
                   .cells[1].textContent.trim()"""
            )
            assert cell == "int | None", cell
    finally:
        tab.close()


# ------------------------------------------------------------------- Swagger UI, ReDoc


def _admin_app() -> Any:
    pytest.importorskip("fastapi")
    fastapi_offline = pytest.importorskip("fastapi_offline")

    from pgstatkit.fastapi import bearer_token, create_router

    app = fastapi_offline.FastAPIOffline(title="Service with pgstatkit admin API")
    router = create_router(
        lambda: None,  # the pages only read the OpenAPI document; nothing is queried
        auth=bearer_token("screenshot-token"),
        enable_explain=True,
        enable_reset=True,
    )
    app.include_router(router, prefix="/api/v1/admin")
    return app


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    """The admin app, served by uvicorn on a free loopback port."""
    uvicorn = pytest.importorskip("uvicorn")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_admin_app(), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _operations(tab: Tab) -> int:
    spec = tab.evaluate("fetch('/openapi.json').then(r => r.json())")
    return sum(len(methods) for methods in spec["paths"].values())


def test_screenshot_of_swagger_ui(browser: Browser, api_url: str, shots: Path) -> None:
    tab = browser.open(api_url + "/docs", width=WIDTH, height=HEIGHT)
    try:
        expected = _operations(tab)
        tab.wait_for(f"document.querySelectorAll('.opblock').length === {expected}")
        assert not tab.evaluate("!!document.querySelector('.errors-wrapper, .loading-container')")
        assert_rendered(tab, shots / "swagger-ui.png")
    finally:
        tab.close()


def test_screenshot_of_redoc(browser: Browser, api_url: str, shots: Path) -> None:
    tab = browser.open(api_url + "/redoc", width=WIDTH, height=HEIGHT)
    try:
        tab.wait_for("document.body.innerText.includes('/performance/slow-queries')")
        assert_rendered(tab, shots / "redoc.png")
    finally:
        tab.close()

"""Headless Chromium driven over the DevTools protocol, for the tests that look at pages.

Debian's ``chromium`` is started with ``--remote-debugging-pipe``: the protocol's JSON
messages (each ended by a NUL byte) go to the browser on its file descriptor 3 and
come back on 4, so no port is opened and no driver package is needed. One
:class:`Browser` per test module; :meth:`Browser.open` loads a page in a fresh tab at a
given window size, and :class:`Tab` evaluates JavaScript and takes screenshots.

Nothing here reaches the network: the tests serve their pages on 127.0.0.1, and the
browser runs with its background networking, updates and sync turned off.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["Browser", "BrowserError", "Tab", "find_chromium"]

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


class BrowserError(RuntimeError):
    """The browser did not answer, or answered with an error."""


def find_chromium() -> str | None:
    """The path of a Chromium executable, or ``None``."""
    override = os.environ.get("PGSTATKIT_CHROMIUM")
    for name in (override, *CANDIDATES) if override else CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class _Pipe:
    """The protocol over the two pipes: requests by id, answers and events by a reader."""

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self._write_fd, self._read_fd = write_fd, read_fd
        self._next_id = 0
        self._answers: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._read_fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._answers[message["id"]] = message
                    else:
                        self.events.append(message)
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
        timeout_s: float = 30.0,
    ) -> dict[str, Any]:  # fmt: skip
        with self._cond:
            self._next_id += 1
            ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._write_fd, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while ident not in self._answers:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise BrowserError(f"no answer to {method} within {timeout_s} s")
                self._cond.wait(left)
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def wait_event(self, method: str, session: str, timeout_s: float) -> dict[str, Any]:
        """The first event ``method`` of ``session`` (removed from the queue)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for event in self.events:
                    if event.get("method") == method and event.get("sessionId") == session:
                        self.events.remove(event)
                        return event
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise BrowserError(f"no {method} within {timeout_s} s")
                self._cond.wait(left)


class Tab:
    """One page of the browser, attached to its own protocol session."""

    def __init__(self, pipe: _Pipe, target: str, session: str) -> None:
        self._pipe, self.target, self.session = pipe, target, session

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._pipe.call(method, params, session=self.session)

    def evaluate(self, expression: str, timeout_s: float = 30.0) -> Any:
        """The value of a JavaScript expression (promises awaited), as JSON data."""
        result = self._pipe.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=self.session,
            timeout_s=timeout_s,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 30.0) -> Any:
        """Poll ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"still false after {timeout_s} s: {expression}")
            time.sleep(0.1)

    def screenshot(self, path: Path) -> bytes:
        """A PNG of the viewport, written to ``path``."""
        data = base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])
        path.write_bytes(data)
        return data

    def close(self) -> None:
        self._pipe.call("Target.closeTarget", {"targetId": self.target})


def _high(fd: int) -> int:
    """``fd`` moved to 10 or above (close-on-exec), so that no dup2 onto 3 or 4 hits it."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Browser:
    """A headless Chromium process with a private profile directory."""

    def __init__(self, executable: str) -> None:
        self._profile = tempfile.mkdtemp(prefix="pgstatkit-chromium-")
        to_browser_r, to_browser_w = map(_high, os.pipe())
        from_browser_r, from_browser_w = map(_high, os.pipe())
        log = _high(os.open(Path(self._profile) / "stderr.log", os.O_WRONLY | os.O_CREAT, 0o600))
        # fds 0-2 as the browser wants them, then the protocol's 3 (in) and 4 (out)
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, log, 1),
            (os.POSIX_SPAWN_DUP2, log, 2),
            (os.POSIX_SPAWN_DUP2, to_browser_r, 3),
            (os.POSIX_SPAWN_DUP2, from_browser_w, 4),
        ]
        argv = [executable, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"]
        self.pid = os.posix_spawn(executable, argv, os.environ, file_actions=actions)
        for fd in (to_browser_r, from_browser_w, log):
            os.close(fd)
        self._to_browser = to_browser_w
        self._pipe = _Pipe(to_browser_w, from_browser_r)
        self._from_browser = from_browser_r
        try:
            self._pipe.call("Browser.getVersion", timeout_s=60)
        except BrowserError:
            self.close()
            raise

    def open(self, url: str, *, width: int, height: int, timeout_s: float = 60.0) -> Tab:
        """A new tab of ``width`` x ``height`` CSS pixels that has loaded ``url``."""
        target = self._pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        tab = Tab(self._pipe, target, session)
        tab.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        tab.call("Page.enable")
        tab.call("Page.navigate", {"url": url})
        self._pipe.wait_event("Page.loadEventFired", session, timeout_s)
        return tab

    def close(self) -> None:
        """End the browser (its process only) and remove its profile."""
        with contextlib.suppress(BrowserError):
            self._pipe.call("Browser.close", timeout_s=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                break
            time.sleep(0.1)
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)

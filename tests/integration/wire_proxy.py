"""A TCP proxy in front of a PostgreSQL server that interrupts a client at a chosen statement.

Tests use it to cancel a pgstatkit call at a precise point (during ``BEGIN``, the setup
statement, ``PREPARE``, ``EXPLAIN``, the rollback, a cleanup statement), on any driver:
:meth:`WireProxy.arm` names a statement by a pattern of its SQL text; when a client
runs such a statement (a ``Query`` message, or a ``Bind`` of such a statement), the
proxy forwards it, calls the trigger's action (cancel the client's task, or send
SIGINT to the main thread) and holds the server's answer to that client back for a
moment, so the interruption lands while the client waits for the statement. Everything
else is forwarded unchanged, cancel requests included (they come through the proxy like
any connection).

It runs its own event loop in a thread, so blocking clients work as well as async ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import struct
import threading
import time
from collections.abc import Callable

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_CANCEL_REQUEST = 80877102


@dataclasses.dataclass
class Trigger:
    """A one-shot interruption at the first statement whose SQL matches ``pattern``."""

    pattern: str
    action: Callable[[], None]
    hold_s: float
    fired: bool = False


class _ClientStream:
    """Splits what a client sends into protocol messages and reports the SQL it runs.

    A simple ``Query`` reports its text; in the extended protocol, ``Bind`` reports the
    text of the statement it binds (remembered from its ``Parse``), so a statement a
    driver prepared once and runs again (asyncpg's statement cache) is seen each time.
    """

    def __init__(self, on_sql: Callable[[str], None]) -> None:
        self._buffer = b""
        self._startup = True
        self._on_sql = on_sql
        self._statements: dict[bytes, str] = {}

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while self._next():
            pass

    def _next(self) -> bool:
        if self._startup:
            if len(self._buffer) < 8:
                return False
            length, code = struct.unpack("!ii", self._buffer[:8])
            if len(self._buffer) < length:
                return False
            self._buffer = self._buffer[length:]
            if code not in (_SSL_REQUEST, _GSSENC_REQUEST, _CANCEL_REQUEST):
                self._startup = False
            return True
        if len(self._buffer) < 5:
            return False
        kind = self._buffer[:1]
        (length,) = struct.unpack("!i", self._buffer[1:5])
        if len(self._buffer) < 1 + length:
            return False
        body = self._buffer[5 : 1 + length]
        self._buffer = self._buffer[1 + length :]
        if kind == b"Q":
            self._on_sql(body.split(b"\0", 1)[0].decode("utf-8", "replace"))
        elif kind == b"P":
            name, sql, _ = body.split(b"\0", 2)
            self._statements[name] = sql.decode("utf-8", "replace")
        elif kind == b"B":
            _portal, name, _ = body.split(b"\0", 2)
            self._on_sql(self._statements.get(name, ""))
        return True


class WireProxy:
    """Forward 127.0.0.1:<port> to ``host:port``; see the module docstring."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._triggers: list[Trigger] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self.port = 0
        self.seen: list[str] = []

    def start(self) -> WireProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = future.result(timeout=10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def dsn(self, dsn: str, server_port: int) -> str:
        """``dsn`` (a URI to the proxied server) pointed at the proxy instead."""
        return dsn.replace(f":{server_port}/", f":{self.port}/", 1)

    def arm(self, pattern: str, action: Callable[[], None], hold_s: float = 0.05) -> Trigger:
        """Interrupt once, at the next statement whose SQL text matches ``pattern``.

        ``pattern`` is a regular expression searched in the text (``^`` for its start,
        leading white space removed). Triggers fire in the order they were armed: one
        fires only after the ones armed before it did.
        """
        trigger = Trigger(pattern, action, hold_s)
        with self._lock:
            self._triggers.append(trigger)
        return trigger

    def disarm(self) -> None:
        with self._lock:
            self._triggers.clear()

    # ------------------------------------------------------------------ the proxy

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self._target)
        except OSError:
            client_w.close()
            return
        hold = [0.0]  # monotonic time until which the server's bytes wait
        fired: list[Trigger] = []

        def on_sql(sql: str) -> None:
            text = sql.lstrip()
            with self._lock:
                self.seen.append(text)
                trigger = next((t for t in self._triggers if not t.fired), None)
                if trigger is not None and re.search(trigger.pattern, text):
                    trigger.fired = True
                    hold[0] = time.monotonic() + trigger.hold_s
                    fired.append(trigger)

        stream = _ClientStream(on_sql)
        upstream = asyncio.ensure_future(self._pump(client_r, server_w, stream, fired=fired))
        downstream = asyncio.ensure_future(self._pump(server_r, client_w, None, hold))
        try:
            await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (upstream, downstream):
                task.cancel()
            for writer in (client_w, server_w):
                writer.close()

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        stream: _ClientStream | None,
        hold: list[float] | None = None,
        fired: list[Trigger] | None = None,
    ) -> None:
        """Copy ``reader`` to ``writer``; a trigger's action runs once its statement left."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if stream is not None:
                    stream.feed(data)
                if hold is not None and (wait := hold[0] - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
                while fired:
                    fired.pop(0).action()

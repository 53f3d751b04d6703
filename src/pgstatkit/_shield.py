"""Shields that keep an interruption from cutting pgstatkit's guard statements short.

The runners (:mod:`pgstatkit._run`) open and close their guard, and run their cleanups,
under :meth:`~AsyncShield.protect`: a cancellation (``CancelledError``) or SIGINT
(``KeyboardInterrupt``) that arrives meanwhile waits until that work is done, then is
re-raised. Each step's statement runs under :meth:`~AsyncShield.interruptible`: the
first interruption reaches the driver (which cancels the statement on the server and
waits for its answer), later ones wait for it.

:class:`AsyncShield` (tasks) and :class:`SyncShield` (a SIGINT handler) differ in
mechanism only: their methods have the same names and signatures (``protect(work,
*args, **kwargs)`` calls ``work(*args, **kwargs)``; the async one awaits what it
returns), so the blocking runner is a mechanical translation of the async one
(``tools/async_to_sync.py``).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any, ParamSpec, TypeVar

__all__ = ["AsyncShield", "SyncShield"]

R = TypeVar("R")
P = ParamSpec("P")


class AsyncShield:
    """Keeps the caller's cancellations from leaving the connection half-way.

    :meth:`protect` runs guard statements (``BEGIN``, the rollback, the cleanups) to
    their end: a cancellation of the caller that arrives meanwhile is remembered, and
    :meth:`check` re-raises it once the connection is back in a known state.
    :meth:`interruptible` runs a step: the first cancellation reaches the driver, which
    cancels the statement on the server and waits for its answer; cancellations after
    that wait for the driver to finish, then the call ends with ``CancelledError``.
    Both await the work in a task of their own. If that task itself is cancelled (the
    event loop shutting down), its cancellation propagates at once.

    What remains when the caller cancels again and again: it waits for those
    statements (a round trip each, bounded by the statement timeout); a connection that
    hangs without failing holds it until the driver or the OS gives up on it.

    ``direct``: the driver finishes a cancelled statement by itself, without awaiting in
    the caller's task (asyncpg: it sends the cancel request from a task of its own and
    holds the next statement until the server answered), so a later cancellation cannot
    cut its handling short: :meth:`interruptible` then awaits the work in the caller's
    task. A task of its own costs three event-loop iterations per statement, which is
    most of pgstatkit's overhead on a fast call (benchmarks: 25 iterations per call
    instead of the driver's 10).
    """

    __slots__ = ("cancelled", "direct")

    def __init__(self, *, direct: bool = False) -> None:
        self.cancelled = False
        self.direct = direct

    def __enter__(self) -> AsyncShield:
        return self  # nothing to install: a cancellation arrives only at an ``await``

    def __exit__(self, *exc_info: object) -> None:
        return None

    async def protect(
        self, work: Callable[P, Awaitable[R]], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Await ``work(*args, **kwargs)`` to its end; remember a cancellation meanwhile."""
        task = asyncio.ensure_future(work(*args, **kwargs))
        while True:
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:  # noqa: PERF203 - the point of the loop
                if task.cancelled():
                    raise
                self.cancelled = True

    async def interruptible(
        self, work: Callable[P, Awaitable[R]], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Await ``work(*args, **kwargs)``; the first cancellation cancels it, later ones
        wait for it."""
        if self.direct:
            return await work(*args, **kwargs)
        task = asyncio.ensure_future(work(*args, **kwargs))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
        task.cancel()
        await self.protect(_settled, task)
        raise asyncio.CancelledError

    def check(self) -> None:
        """Re-raise a cancellation :meth:`protect` deferred (once)."""
        if self.cancelled:
            self.cancelled = False
            raise asyncio.CancelledError


async def _settled(task: asyncio.Future[Any]) -> None:
    """Wait for ``task`` to end, whatever its outcome (read, so asyncio does not log it)."""
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()


_Handler = Callable[[int, FrameType | None], Any] | int | None


class SyncShield:
    """The blocking twin of :class:`AsyncShield`, for ``KeyboardInterrupt`` (SIGINT).

    Inside ``with SyncShield()``, SIGINT goes to the shield's own handler; the previous
    one is put back on exit. Outside :meth:`interruptible` the signal is recorded, and
    :meth:`check` hands it to the previous handler (by default: ``KeyboardInterrupt``)
    once the connection is in a known state; so an interruption never lands between two
    of the runner's statements. Inside :meth:`interruptible` the first signal goes to
    the previous handler at once, so ``KeyboardInterrupt`` reaches the driver, which
    cancels the statement and waits for its answer; signals after that are recorded.

    Python delivers signals to the main thread only; elsewhere -- and where the handler
    in place was not set from Python or ignores SIGINT -- the shield does nothing. Other
    exceptions raised asynchronously into the thread are not deferred. What remains
    when the caller interrupts again and again: it waits for the cleanup statements,
    as with :class:`AsyncShield`.
    """

    __slots__ = ("_interrupt", "_pending", "_previous")

    def __init__(self, *, direct: bool = False) -> None:
        # ``direct`` is the async shield's; signals need no task, so it changes nothing
        self._previous: _Handler = None
        self._interrupt = False
        self._pending: list[FrameType | None] = []

    def __enter__(self) -> SyncShield:
        previous = _sigint_handler()
        if previous is not None:
            try:
                signal.signal(signal.SIGINT, self._on_sigint)
            except ValueError:  # the main thread of a subinterpreter
                return self
            self._previous = previous
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def protect(self, work: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``work(*args, **kwargs)``; a SIGINT meanwhile waits for :meth:`check`."""
        return work(*args, **kwargs)

    def interruptible(self, work: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``work(*args, **kwargs)``; the first SIGINT interrupts it, later ones wait
        for :meth:`check`."""
        self._interrupt = True
        try:
            return work(*args, **kwargs)
        finally:
            self._interrupt = False

    def check(self) -> None:
        """Deliver a SIGINT the shield recorded (once) to the handler it came through."""
        if self._pending:
            frame = self._pending.pop()
            self._pending.clear()
            _deliver(self._previous, frame)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self._interrupt:
            self._interrupt = False
            _deliver(self._previous, frame)
        elif not self._pending:
            self._pending.append(frame)


def _sigint_handler() -> _Handler:
    """The SIGINT handler in place, or None where the shield cannot or need not step in."""
    if threading.current_thread() is not threading.main_thread():
        return None
    handler: _Handler = signal.getsignal(signal.SIGINT)
    return None if handler == signal.SIG_IGN else handler


def _deliver(handler: _Handler, frame: FrameType | None) -> None:
    """Hand a SIGINT to ``handler`` as if it had received it."""
    if callable(handler):
        handler(signal.SIGINT, frame)
    elif handler is not None:  # SIG_DFL: the signal's default action
        signal.signal(signal.SIGINT, handler)
        signal.raise_signal(signal.SIGINT)

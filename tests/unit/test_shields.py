"""The runners' protection against interruptions, on fake sessions (no server).

``AsyncShield`` / ``SyncShield`` keep a cancellation (``CancelledError``) or SIGINT
(``KeyboardInterrupt``) from cutting the guard's statements short, and the runners run
the guard's close and the steps' cleanups whatever ended the call. The real drivers and
servers are exercised by tests/integration/test_cancellation.py.
"""

from __future__ import annotations

import asyncio
import re
import signal
import threading
from collections.abc import Generator
from typing import Any

import pytest

from pgstatkit._protocol import (
    Cleanup,
    Context,
    Operation,
    Query,
    Result,
    ServerError,
    Steps,
    TxState,
)
from pgstatkit._run import run_async, run_sync
from pgstatkit._shield import AsyncShield, SyncShield

SETUP = Result(
    (
        "prev_statement_timeout",
        "prev_lock_timeout",
        "prev_search_path",
        "setting_names",
        "prev_settings",
    ),
    [("0", "0", "public", None, None)],
)
PROBE = Result(("pgss_version", "pgss_schema", "pgss_loaded"), [("1.11", "public", None)])
ROW = Result(("x",), [(1,)])


class Recorder:
    """A fake session (sync and async methods alike) that logs what runs."""

    def __init__(self, fail: dict[str, BaseException] | None = None) -> None:
        self.log: list[str] = []
        self.fail = fail or {}

    def tx_state(self) -> TxState:
        return TxState.IDLE

    def server_error(self, exc: Exception) -> ServerError:
        return ServerError(None, str(exc), original=exc)

    def is_closed(self) -> bool:
        return False

    def _do(self, what: str) -> Result:
        what = " ".join(re.sub(r"/\*.*?\*/", " ", what).split())  # comments pgstatkit adds
        self.log.append(what)
        if what in self.fail:
            raise self.fail.pop(what)
        if what.startswith("SELECT prev"):
            return SETUP
        return PROBE if what.startswith("SELECT e.extversion") else ROW


class SyncRecorder(Recorder):
    def begin(self, *, commit: bool) -> None:
        self._do("BEGIN")

    def end(self, error: BaseException | None) -> None:
        self._do(f"END {type(error).__name__ if error else 'ok'}")

    def fetch(self, query: Query) -> Result:
        return self._do(query.sql)


class AsyncRecorder(Recorder):
    async def begin(self, *, commit: bool) -> None:
        self._do("BEGIN")

    async def end(self, error: BaseException | None) -> None:
        self._do(f"END {type(error).__name__ if error else 'ok'}")

    async def fetch(self, query: Query) -> Result:
        await asyncio.sleep(0)
        return self._do(query.sql)


def _undo() -> Generator[Query, Result, None]:
    yield Query("UNDO")


def _op() -> Operation[int]:
    """SELECT prev (setup), then: register a cleanup, STEP 1, STEP 2."""

    def steps(ctx: Context) -> Steps[int]:
        yield Cleanup(_undo)
        yield Query("STEP 1")
        yield Query("STEP 2")
        return 7

    return Operation("probe", steps, 1000)


def _expected(failed: str, at: str) -> list[str]:
    """The log of a call that failed with ``failed`` at statement ``at``."""
    ran = ["BEGIN", "SETUP", "PROBE", "STEP 1", "STEP 2"]
    return [*ran[: ran.index(at) + 1], f"END {failed}", "BEGIN", "UNDO", "END ok"]


def _normal(log: list[str]) -> list[str]:
    names = {"SELECT prev": "SETUP", "SELECT e.extversion": "PROBE"}
    return [next((v for k, v in names.items() if x.startswith(k)), x) for x in log]


# ----------------------------------------------------------------------------- runners


@pytest.mark.parametrize("at", ["STEP 1", "STEP 2"])
def test_run_sync_cleans_up_after_keyboard_interrupt(at: str) -> None:
    session = SyncRecorder({at: KeyboardInterrupt()})
    with pytest.raises(KeyboardInterrupt):
        run_sync(session, _op())
    assert _normal(session.log) == _expected("KeyboardInterrupt", at)


@pytest.mark.parametrize("at", ["STEP 1", "STEP 2"])
async def test_run_async_cleans_up_after_cancellation(at: str) -> None:
    session = AsyncRecorder({at: asyncio.CancelledError()})
    with pytest.raises(asyncio.CancelledError):
        await run_async(session, _op())
    assert _normal(session.log) == _expected("CancelledError", at)


def test_cleanup_runs_when_the_call_succeeds() -> None:
    session = SyncRecorder()
    assert run_sync(session, _op()) == 7
    assert _normal(session.log) == [
        "BEGIN",
        "SETUP",
        "PROBE",
        "STEP 1",
        "STEP 2",
        "END ok",
        "BEGIN",
        "UNDO",
        "END ok",
    ]


def test_a_failing_close_does_not_hide_the_calls_error() -> None:
    session = SyncRecorder({"STEP 1": ValueError("the call's"), "UNDO": OSError("lost")})
    with pytest.raises(ValueError, match="the call's"):
        run_sync(session, _op())
    assert _normal(session.log)[-3:] == ["BEGIN", "UNDO", "END OSError"]


def test_a_failing_cleanup_after_success_is_raised() -> None:
    session = SyncRecorder({"UNDO": OSError("lost")})
    with pytest.raises(OSError, match="lost"):
        run_sync(session, _op())


async def test_a_cancellation_during_begin_still_rolls_back() -> None:
    """The caller is cancelled while BEGIN runs: BEGIN ends, then the guard is closed."""
    release = asyncio.Event()

    class SlowBegin(AsyncRecorder):
        async def begin(self, *, commit: bool) -> None:
            await release.wait()
            self._do("BEGIN")

    session = SlowBegin()
    task = asyncio.ensure_future(run_async(session, _op()))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    task.cancel()  # twice: still waits for BEGIN
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert session.log == ["BEGIN", "END CancelledError"]


# ----------------------------------------------------------------------------- shields


async def test_async_protect_finishes_the_work_then_reraises() -> None:
    shield = AsyncShield()
    gate = asyncio.Event()
    done: list[str] = []

    async def work() -> str:
        await gate.wait()
        done.append("work")
        return "result"

    async def caller() -> str:
        value = await shield.protect(work)
        done.append(value)
        shield.check()
        return value

    task = asyncio.ensure_future(caller())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    task.cancel()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert done == ["work", "result"]


async def test_async_interruptible_cancels_the_work_once_and_waits() -> None:
    shield = AsyncShield()
    seen: list[str] = []
    gate = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.append("cancelled")  # the driver cancels the statement, then waits
            await gate.wait()
            seen.append("settled")
            raise

    task = asyncio.ensure_future(shield.interruptible(work))
    await asyncio.sleep(0)
    task.cancel()
    for _ in range(3):
        await asyncio.sleep(0)
    task.cancel()  # a second cancellation does not cut the driver short
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled", "settled"]


def test_sync_protect_defers_sigint_until_check() -> None:
    done: list[str] = []

    def work() -> None:
        signal.raise_signal(signal.SIGINT)
        done.append("work")

    with SyncShield() as shield:
        shield.protect(work)
        assert done == ["work"]
        with pytest.raises(KeyboardInterrupt):
            shield.check()
        shield.check()  # once


def test_sync_interruptible_lets_the_first_sigint_through() -> None:
    seen: list[str] = []

    def driver() -> None:
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            seen.append("interrupted")
            signal.raise_signal(signal.SIGINT)  # a second Ctrl-C while it cancels
            seen.append("settled")
            raise

    with SyncShield() as shield, pytest.raises(KeyboardInterrupt):
        shield.interruptible(driver)
    assert seen == ["interrupted", "settled"]


def test_sync_shield_puts_the_handler_back() -> None:
    before = signal.getsignal(signal.SIGINT)
    with SyncShield():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def test_sync_shield_does_nothing_outside_the_main_thread() -> None:
    result: list[Any] = []

    def run() -> None:
        with SyncShield() as shield:
            result.append(shield.protect(lambda: 42))
            shield.check()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert result == [42]


async def test_both_shields_pass_the_arguments_on() -> None:
    # the same signatures, so that the blocking runner is the async one converted
    calls: list[tuple[object, ...]] = []

    async def work_async(*args: object, **kwargs: object) -> str:
        calls.append((*args, kwargs))
        return "done"

    def work_sync(*args: object, **kwargs: object) -> str:
        calls.append((*args, kwargs))
        return "done"

    shield = AsyncShield()
    assert await shield.protect(work_async, 1, key=2) == "done"
    assert await shield.interruptible(work_async, 3, key=4) == "done"
    with SyncShield() as sync_shield:
        assert sync_shield.protect(work_sync, 1, key=2) == "done"
        assert sync_shield.interruptible(work_sync, 3, key=4) == "done"
    assert calls == [(1, {"key": 2}), (3, {"key": 4})] * 2


async def test_direct_interruptible_runs_in_the_callers_task() -> None:
    """For a driver that finishes a cancelled statement by itself (asyncpg), a step runs
    in the caller's task: no task of its own, three event-loop iterations fewer."""

    async def work() -> asyncio.Task[object] | None:
        return asyncio.current_task()

    assert await AsyncShield(direct=True).interruptible(work) is asyncio.current_task()
    assert await AsyncShield().interruptible(work) is not asyncio.current_task()

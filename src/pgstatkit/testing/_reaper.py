"""The reaper: stops a temporary cluster whose owner process died, even by ``SIGKILL``.

Every :class:`~pgstatkit.testing.cluster.Cluster` starts one reaper, a separate Python
process running this file as a program (standard library only)::

    python -I /path/to/pgstatkit/testing/_reaper.py DATA_DIR [PATH ...]

Its standard input is a pipe from the owner (:class:`Reaper` is the owner's end).
Lines ``pid N`` name the postmaster; ``done`` means the owner stopped the server and
cleaned up. End-of-file without ``done`` means the owner died: the reaper sends
``SIGQUIT`` (PostgreSQL's immediate shutdown) to the postmasters it was told about
and to the one in ``DATA_DIR/postmaster.pid``, waits up to 5 s, sends ``SIGKILL`` to
their process groups, and deletes every ``PATH`` (the cluster's directory, and the
copied installation when there is one). Only processes that are alive and whose
command line mentions ``postgres`` are signalled, so a recycled pid is left alone.

It ignores ``SIGINT``, ``SIGHUP``, ``SIGTERM`` and ``SIGPIPE`` and runs in its own
session, so what ends the owner (a Ctrl-C, a closed terminal) does not end it first.

It is run by file path with ``-I`` (isolated mode: no ``PYTHONPATH``, user site or
current directory on ``sys.path``), not with ``-m``: the interpreter may import
another pgstatkit (an editable install of another checkout, say) or none, and the
reaper must be this very file. ``python -m pgstatkit.testing._reaper`` runs the
same program.
"""

# ruff: noqa: S603  (subprocess runs this interpreter with an argument list, no shell)
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

GRACE_S = 5.0
"""Seconds between ``SIGQUIT`` and ``SIGKILL``."""

_PROGRAM = os.path.abspath(__file__)


# --------------------------------------------------------------------------- owner side


class Reaper:
    """The owner's end of a reaper process watching one cluster.

    Args:
        data_dir: The cluster's data directory (its ``postmaster.pid`` names the server).
        paths: Directories to delete if the owner dies.

    Raises:
        OSError: the reaper process could not be started.
    """

    def __init__(self, data_dir: Path, paths: Sequence[Path]) -> None:
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-I", _PROGRAM, str(data_dir), *map(str, paths)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd="/",
        )

    @property
    def pid(self) -> int | None:
        """Process id of the reaper, None once released."""
        return self._proc.pid if self._proc is not None else None

    def watch(self, pid: int) -> None:
        """Tell the reaper the postmaster's process id."""
        self._send(f"pid {pid}")

    def release(self, *, clean: bool, timeout_s: float = 10.0) -> None:
        """End the reaper and wait for it; idempotent.

        With ``clean`` (the owner stopped the server and deleted its directories) the
        reaper exits doing nothing; without, it acts as if the owner had died: it stops
        the server and deletes the directories before exiting. It is killed if it has
        not exited after ``timeout_s`` seconds.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                if clean:
                    proc.stdin.write(b"done\n")
                    proc.stdin.flush()
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _send(self, message: str) -> None:
        proc = self._proc
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.write(message.encode() + b"\n")
                proc.stdin.flush()


# --------------------------------------------------------------------------- reaper side


def read_messages(fd: int) -> tuple[set[int], bool]:
    """Read the owner's lines from ``fd`` until end-of-file: (pids named, ``done`` seen).

    A read error counts as end-of-file; malformed lines are ignored.
    """
    pids: set[int] = set()
    done = False
    buffer = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except InterruptedError:
            continue
        except OSError:
            break
        if not chunk:
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.startswith(b"pid ") and line[4:].isdigit():
                pids.add(int(line[4:]))
            elif line == b"done":
                done = True
    return pids, done


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, or a process gone, is not alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        # No /proc (not Linux): trust kill(0). Else the process is gone.
        return not os.path.isdir("/proc/self")
    return state not in (b"Z", b"X")


def is_postgres(pid: int) -> bool:
    """Whether the command line of ``pid`` mentions ``postgres`` (True without ``/proc``)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"postgres" in cmdline.read()
    except OSError:
        return not os.path.isdir("/proc/self")


def postmaster_pid(data_dir: str) -> int | None:
    """The process id in ``data_dir/postmaster.pid``, if readable."""
    try:
        with open(os.path.join(data_dir, "postmaster.pid"), "rb") as pidfile:
            return int(pidfile.readline().strip())
    except (OSError, ValueError):
        return None


def reap(pids: Iterable[int], paths: Iterable[str], *, grace_s: float = GRACE_S) -> list[int]:
    """Stop the live postgres processes among ``pids`` and delete ``paths``; pids signalled.

    ``SIGQUIT`` first; after ``grace_s`` seconds ``SIGKILL`` to the process group (the
    server leads its own) and to the process. Never raises.
    """
    targets = sorted(p for p in set(pids) if p > 1 and alive(p) and is_postgres(p))
    for pid in targets:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(alive(p) for p in targets):
        time.sleep(0.05)
    for pid in targets:
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(OSError):
                kill(pid, signal.SIGKILL)
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
    return targets


def main(argv: Sequence[str]) -> int:
    """The reaper program: ``DATA_DIR [PATH ...]``, messages on stdin; exit status."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    if not argv:
        print("usage: _reaper.py DATA_DIR [PATH ...]", file=sys.stderr)
        return 2
    data_dir, paths = argv[0], argv[1:]
    pids, done = read_messages(0)
    if done:
        return 0
    pid = postmaster_pid(data_dir)
    if pid is not None:
        pids.add(pid)
    reap(pids, paths)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

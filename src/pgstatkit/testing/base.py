"""What every server of :mod:`pgstatkit.testing` shares: the interface, the error, ``psql``.

:class:`BaseCluster` is the interface of both kinds of server: a temporary
:class:`~pgstatkit.testing.cluster.Cluster` that this process starts and owns, and an
existing server attached to with :class:`~pgstatkit.testing.running.RunningCluster`.
Code that only connects and runs SQL (a test fixture, a demo) can take a
:class:`BaseCluster` and work with either.

:class:`ClusterError` is the one exception of the package for things that go wrong
outside the caller's control (a missing binary, a server that does not start or
answer, ``psql`` failing). Invalid arguments raise :class:`ValueError`.

The helpers below (running a program, building ``psql``'s command line, reading its
result) are internal to the package.
"""

# ruff: noqa: S603  (subprocess calls run PostgreSQL binaries with argument lists, no shell)
from __future__ import annotations

import abc
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar

__all__ = ["BaseCluster", "ClusterError"]

PROBE_TIMEOUT_S = 30.0
"""Seconds a short probe (``postgres --version``, ``pg_config``, ``useradd``) may take."""

PSQL_OPTIONS = ("-X", "-v", "ON_ERROR_STOP=1", "-At", "-q")
"""``psql`` options of every run: no ``psqlrc``, stop at the first error, unaligned
tuples only, quiet."""

_VARIABLE_NAME_RE = re.compile(r"[a-z_][a-z0-9_]*")


class ClusterError(RuntimeError):
    """A PostgreSQL installation is unusable or a cluster failed to start, stop or answer.

    The message says what failed and includes the relevant output (for a failed
    start: the tail of the server log).
    """


class BaseCluster(abc.ABC):
    """The interface shared by :class:`Cluster` (temporary) and :class:`RunningCluster`.

    A fixture typed with :class:`BaseCluster` works with a server this process starts
    and with one that already runs::

        def count_statements(server: BaseCluster) -> int:
            return int(server.psql("SELECT count(*) FROM pg_stat_statements"))

    Using it as a context manager calls :meth:`start` on entry and :meth:`stop` on exit:
    a :class:`Cluster` is started and then stopped and deleted; a
    :class:`RunningCluster` is checked to answer and then left running.
    """

    managed: ClassVar[bool]
    """Whether this object started the server and :meth:`stop` stops it (``True`` for
    :class:`Cluster`, ``False`` for :class:`RunningCluster`)."""

    @property
    @abc.abstractmethod
    def major(self) -> int:
        """Major version of the server, e.g. ``17``."""

    @property
    @abc.abstractmethod
    def running(self) -> bool:
        """Whether the server is up (see each class for how it is told)."""

    @property
    @abc.abstractmethod
    def user(self) -> str:
        """The database role :meth:`dsn` and :meth:`psql` use when none is given."""

    @abc.abstractmethod
    def dsn(self, dbname: str = ..., user: str = ...) -> str:
        """libpq connection URI (``postgresql://...``) for ``dbname`` as ``user``.

        Accepted as-is by asyncpg, psycopg 3 and libpq tools; for SQLAlchemy replace the
        scheme with ``postgresql+psycopg://`` or ``postgresql+asyncpg://``.
        """

    @abc.abstractmethod
    def psql(
        self,
        sql: str,
        *,
        dbname: str = ...,
        user: str = ...,
        timeout_s: float = 60.0,
        variables: Mapping[str, str] | None = None,
    ) -> str:
        """Run SQL (statements and psql meta-commands) with ``psql``; its output.

        ``psql -X -v ON_ERROR_STOP=1 -At -q``: output is unaligned, tuples only,
        ``|``-separated, one row per line, returned without the trailing newline. Each
        statement runs in its own transaction (``CREATE DATABASE`` works).

        ``variables`` become psql variables (``-v name=value``): write ``:'name'`` for
        the value as an SQL literal and ``:"name"`` as an identifier, and psql quotes
        it. Names are lower case (psql's own variables are upper case).

        Raises:
            ValueError: a variable name is not lower-case letters, digits and ``_``, or
                a value contains a NUL character.
            ClusterError: no ``psql`` client, the server is not running, psql failed
                (the message includes psql's stderr) or did not finish within
                ``timeout_s`` seconds.
        """

    @abc.abstractmethod
    def start(self, timeout_s: float = 30.0) -> BaseCluster:
        """Make the server available; ``self`` (see each class)."""

    @abc.abstractmethod
    def stop(self, timeout_s: float = 10.0) -> None:
        """Release the server (see each class); never raises."""

    @abc.abstractmethod
    def __enter__(self) -> BaseCluster: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- helpers


def clean_env() -> dict[str, str]:
    """Our environment without libpq/server variables (PGHOST, PGDATA...) that would interfere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCLIENTENCODING"] = "UTF8"
    env["PGCONNECT_TIMEOUT"] = "10"
    return env


def run_program(
    argv: Sequence[str],
    *,
    input_text: str | None = None,
    timeout_s: float = 60.0,
    **kwargs: Any,
) -> subprocess.CompletedProcess[str]:
    """Run a program to completion, capturing its text output (UTF-8, errors replaced).

    ``kwargs`` go to :func:`subprocess.run` (``env``, ``cwd``, ``user``...).

    Raises:
        ClusterError: it could not be run or did not finish within ``timeout_s``.
    """
    try:
        return subprocess.run(
            argv,
            input=input_text if input_text is not None else "",
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout_s,
            check=False,
            **kwargs,
        )
    except subprocess.TimeoutExpired as exc:
        raise ClusterError(f"{argv[0]} did not finish within {timeout_s} s") from exc
    except OSError as exc:
        raise ClusterError(f"could not run {argv[0]}: {exc}") from exc


def psql_variable_args(variables: Mapping[str, str] | None) -> list[str]:
    """``-v name=value`` arguments for ``variables``, validated (see :meth:`BaseCluster.psql`)."""
    args: list[str] = []
    for name, value in (variables or {}).items():
        if not isinstance(name, str) or not _VARIABLE_NAME_RE.fullmatch(name):
            raise ValueError(
                f"invalid psql variable name {name!r}: use lower-case letters, digits and _"
            )
        if not isinstance(value, str) or "\0" in value:
            raise ValueError(f"psql variable {name!r} must be a string without NUL characters")
        args += ["-v", f"{name}={value}"]
    return args


def psql_output(proc: subprocess.CompletedProcess[str], where: str) -> str:
    """psql's stdout without the trailing newline; ClusterError with its stderr if it failed."""
    if proc.returncode != 0:
        raise ClusterError(f"psql failed (exit {proc.returncode}) {where}: {proc.stderr.strip()}")
    return proc.stdout.removesuffix("\n")

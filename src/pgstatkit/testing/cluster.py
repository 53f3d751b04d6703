"""The temporary cluster's lifecycle: ``initdb``, start, answer, stop, delete.

:class:`Cluster` runs ``initdb`` into a private temporary directory, starts
``postgres`` on ``127.0.0.1`` with a free port and a private Unix-socket directory (so
it never collides with a server already on the machine or with a parallel run) and
removes everything again on :meth:`Cluster.stop`. Authentication is ``trust``; the
superuser is ``postgres``. Durability is switched off (``fsync=off``...): the data is
meant to be thrown away. Only the standard library and the installation's own
binaries (``initdb``, ``postgres``, ``psql``) are used; no database driver is needed.

The rest of the package, by job:

- :mod:`pgstatkit.testing.installations`: finding server binaries
  (:func:`find_installations`, :func:`wheel_installations`, :class:`Installation`);
- :mod:`pgstatkit.testing.os_users`: running as an unprivileged OS user when root;
- :mod:`pgstatkit.testing._reaper`: the process that stops a cluster whose owner died;
- :mod:`pgstatkit.testing.running`: :class:`RunningCluster`, an existing server;
- :mod:`pgstatkit.testing.base`: :class:`BaseCluster`, the interface of both, and
  :class:`ClusterError`.

Those names are importable from here too, as before the split.

Teardown guarantees
    :meth:`Cluster.stop` (also called by the context manager) shuts the server
    down and deletes its directory. Clusters still running at interpreter exit
    are stopped by an :mod:`atexit` handler. In addition every cluster has a
    small *reaper* process holding a pipe from this process: if this process
    dies without stopping the cluster (even by ``SIGKILL``), the reaper sees
    end-of-file, shuts the server down (``SIGQUIT``, PostgreSQL's immediate
    shutdown, then ``SIGKILL``) and deletes its directory. The server runs in
    its own session, so a Ctrl-C in the terminal does not kill it under a
    running test; the owner stops it.
"""

# ruff: noqa: S603  (subprocess calls run PostgreSQL binaries with argument lists, no shell)
from __future__ import annotations

import atexit
import contextlib
import errno
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from pgstatkit.testing._reaper import Reaper
from pgstatkit.testing.base import (
    PSQL_OPTIONS,
    BaseCluster,
    ClusterError,
    psql_output,
    psql_variable_args,
    run_program,
)
from pgstatkit.testing.installations import (
    BINDIRS_ENV,
    WHEEL_PACKAGES,
    Installation,
    embedded_installation,
    find_installations,
    is_executable,
    wheel_installations,
)
from pgstatkit.testing.os_users import (
    OS_USER_ENV,
    RunAs,
    resolve_os_user,
    subprocess_kwargs,
    usable_bindir,
)

__all__ = [
    "BASE_SETTINGS",
    "BINDIRS_ENV",
    "OS_USER_ENV",
    "PRELOAD_SETTINGS",
    "Cluster",
    "ClusterError",
    "Installation",
    "WHEEL_PACKAGES",
    "embedded_installation",
    "find_installations",
    "wheel_installations",
]

log = logging.getLogger("pgstatkit.testing")

_SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_SUPERUSER = "postgres"
_START_ATTEMPTS = 5

PRELOAD_SETTINGS: Mapping[str, str] = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.track_planning": "on",
    "pg_stat_statements.max": "10000",
    "track_io_timing": "on",
}
"""Settings added when a cluster preloads ``pg_stat_statements``."""

BASE_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "listen_addresses": "127.0.0.1",
}
"""Settings every cluster gets (plus ``unix_socket_directories`` = its private socket dir)."""


# --------------------------------------------------------------------------- live clusters

_live: set[Cluster] = set()
_live_lock = threading.Lock()
_atexit_registered = False


def _stop_all_at_exit() -> None:
    with _live_lock:
        clusters = list(_live)
    for cluster in clusters:
        with contextlib.suppress(Exception):
            cluster.stop()


def _register(cluster: Cluster) -> None:
    global _atexit_registered
    with _live_lock:
        _live.add(cluster)
        if not _atexit_registered:
            atexit.register(_stop_all_at_exit)
            _atexit_registered = True


def _unregister(cluster: Cluster) -> None:
    with _live_lock:
        _live.discard(cluster)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_taken(port: int) -> bool:
    """Whether something listens on ``port`` now: a bind fails with ``EADDRINUSE``.

    Asked after a server exited during start; decided by errno, not by the server log,
    whose messages are in the language of the cluster's ``lc_messages``.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((Cluster.host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _conf_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------- cluster


class Cluster(BaseCluster):
    """A throwaway PostgreSQL cluster in a private temporary directory.

    Example::

        from pgstatkit.testing import Cluster, embedded_installation

        with Cluster(embedded_installation()) as cluster:   # started on enter
            print(cluster.dsn())          # postgresql://postgres@127.0.0.1:54321/postgres
            cluster.psql("CREATE EXTENSION pg_stat_statements")

    Args:
        installation: Server binaries to use (see :func:`find_installations`).
        settings: Server settings (``postgresql.conf`` names and values as strings); they
            override the defaults. Defaults: :data:`BASE_SETTINGS` always, plus
            :data:`PRELOAD_SETTINGS` when ``preload_pg_stat_statements`` is true, plus
            ``unix_socket_directories`` set to the cluster's private socket directory.
        preload_pg_stat_statements: Put ``pg_stat_statements`` in
            ``shared_preload_libraries`` (``CREATE EXTENSION`` is still up to the caller).
        os_user: When running as root: the unprivileged OS user that runs the server (see
            the module docstring for the default). Ignored, if it names the current user,
            when not root; any other user then raises :class:`ClusterError` on start.

    Nothing happens until :meth:`start`. A cluster can be started once; create a new one
    to start again.
    """

    host = "127.0.0.1"
    """Address the server listens on (TCP)."""

    managed: ClassVar[bool] = True
    """A cluster is started, stopped and deleted by this object."""

    def __init__(
        self,
        installation: Installation,
        *,
        settings: Mapping[str, str] | None = None,
        preload_pg_stat_statements: bool = True,
        os_user: str | None = None,
    ) -> None:
        self.installation = installation
        self.preload_pg_stat_statements = preload_pg_stat_statements
        self._settings = dict(settings or {})
        for name in self._settings:
            if not _SETTING_NAME_RE.match(name):
                raise ValueError(f"invalid PostgreSQL setting name: {name!r}")
        self._os_user = os_user
        self._run_as: RunAs | None = None
        self._bindir = installation.bindir
        self._base_dir: Path | None = None
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reaper: Reaper | None = None
        self._started = False
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- properties

    @property
    def major(self) -> int:
        """Major version of the server, e.g. ``18``."""
        return self.installation.major

    @property
    def bindir(self) -> Path:
        """Bindir actually used: the installation's, or its world-readable copy (root)."""
        return self._bindir

    @property
    def base_dir(self) -> Path:
        """Private temporary directory holding ``data/``, ``sock/`` and ``server.log``."""
        if self._base_dir is None:
            raise ClusterError("cluster not started")
        return self._base_dir

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory (``PGDATA``)."""
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        """Directory of the server's Unix socket (private to this cluster)."""
        return self.base_dir / "sock"

    @property
    def log_path(self) -> Path:
        """The server's log file (stdout and stderr of ``postgres``)."""
        return self.base_dir / "server.log"

    @property
    def port(self) -> int:
        """TCP port on :attr:`host`, chosen free at start."""
        if self._port is None or not self.running:
            raise ClusterError("cluster not running")
        return self._port

    @property
    def pid(self) -> int:
        """Process id of the postmaster."""
        if self._proc is None:
            raise ClusterError("cluster not running")
        return self._proc.pid

    @property
    def running(self) -> bool:
        """Whether the postmaster process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def user(self) -> str:
        """The superuser, ``"postgres"``: the default role of :meth:`dsn` and :meth:`psql`."""
        return _SUPERUSER

    @property
    def os_user(self) -> str | None:
        """OS user that runs the server, or None if it runs as the current user."""
        return self._run_as.name if self._run_as is not None else None

    def effective_settings(self) -> dict[str, str]:
        """The settings written to ``postgresql.conf`` (the port is passed with ``-p``)."""
        settings = dict(BASE_SETTINGS)
        if self.preload_pg_stat_statements:
            settings.update(PRELOAD_SETTINGS)
        if self._base_dir is not None:
            settings["unix_socket_directories"] = str(self.socket_dir)
        settings.update(self._settings)
        return settings

    # ----------------------------------------------------------------- connection

    def dsn(self, dbname: str = "postgres", user: str = _SUPERUSER) -> str:
        """libpq connection URI over TCP: ``postgresql://user@127.0.0.1:PORT/dbname``.

        Accepted as-is by asyncpg, psycopg 3 and libpq tools; for SQLAlchemy replace the
        scheme with ``postgresql+psycopg://`` or ``postgresql+asyncpg://``. No password:
        authentication is ``trust``.

        Raises:
            ClusterError: the cluster is not running.
        """
        return (
            f"postgresql://{urllib.parse.quote(user, safe='')}@{self.host}:{self.port}/"
            f"{urllib.parse.quote(dbname, safe='')}"
        )

    def psql(
        self,
        sql: str,
        *,
        dbname: str = "postgres",
        user: str = _SUPERUSER,
        timeout_s: float = 60.0,
        variables: Mapping[str, str] | None = None,
    ) -> str:
        """Run SQL (one or more statements, psql meta-commands allowed) with ``psql``.

        Uses ``psql -X -v ON_ERROR_STOP=1 -At -q`` over the private Unix socket, so output
        is unaligned, tuples only, ``|``-separated, one row per line. Each statement runs
        in its own transaction (``CREATE DATABASE`` works). ``variables`` become psql
        variables: ``:'name'`` is the value quoted as an SQL literal, ``:"name"`` as an
        identifier (see :meth:`BaseCluster.psql`).

        Returns:
            Standard output without the trailing newline.

        Raises:
            ValueError: an invalid variable name or value.
            ClusterError: the cluster is not running, psql failed (the message includes
                psql's stderr) or did not finish within ``timeout_s`` seconds.
        """
        argv = [
            os.fspath(self._psql_program()),
            *PSQL_OPTIONS,
            *psql_variable_args(variables),
            *("-h", str(self.socket_dir), "-p", str(self.port)),
            *("-U", user, "-d", dbname, "-f", "-"),
        ]
        proc = self._run(argv, input_text=sql, timeout_s=timeout_s)
        return psql_output(proc, f"on {dbname!r} as {user!r}")

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> Cluster:
        if not self._started:
            self.start()
        return self

    def start(self, timeout_s: float = 30.0) -> Cluster:
        """Run ``initdb``, start the server and wait until it accepts connections.

        Args:
            timeout_s: Seconds to wait for the server to report ready (``initdb`` is not
                counted). A port taken between choosing and binding it is retried with a
                new port, up to 5 times.

        Returns:
            ``self``.

        Raises:
            ClusterError: ``pg_stat_statements`` preloading was requested but the
                installation lacks it, no unprivileged OS user could be found (root),
                ``initdb`` failed, or the server exited or did not become ready in time
                (the message includes the tail of the server log). The temporary directory
                is removed in every failure case.
        """
        with self._lock:
            if self._started:
                raise ClusterError("cluster already started; create a new Cluster")
            self._started = True
            self._check_installation()
            self._run_as = resolve_os_user(self._os_user)
            self._bindir = usable_bindir(self.installation, self._run_as)
            self._base_dir = Path(tempfile.mkdtemp(prefix="pgstatkit-cluster-"))
            _register(self)
            try:
                self._reaper = Reaper(self.data_dir, self._owned_paths())
                self._make_socket_dir()
                self._initdb()
                self._write_settings()
                self._launch(timeout_s)
            except BaseException:
                self.stop()
                raise
            return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Shut the server down and delete its directory. Idempotent; never raises.

        Sends ``SIGINT`` (fast shutdown, as ``pg_ctl stop -m fast``), after ``timeout_s``
        seconds ``SIGQUIT`` (immediate), and finally ``SIGKILL`` to the server's process
        group. Then the reaper process is told to exit.
        """
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                self._shutdown(proc, timeout_s)
            base, self._base_dir = self._base_dir, None
            if base is not None:
                shutil.rmtree(base, ignore_errors=True)
            reaper, self._reaper = self._reaper, None
            if reaper is not None:
                reaper.release(clean=base is None or not base.exists())
            self._port = None
            _unregister(self)

    # ----------------------------------------------------------------- internals

    def _run(
        self,
        argv: Sequence[str],
        *,
        input_text: str | None = None,
        timeout_s: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        return run_program(
            argv,
            input_text=input_text,
            timeout_s=timeout_s,
            cwd=self._base_dir or "/",
            **subprocess_kwargs(self._run_as),
        )

    def _psql_program(self) -> Path:
        psql = self._bindir / "psql"
        if is_executable(psql):
            return psql
        found = shutil.which("psql")
        if found is None:
            raise ClusterError(f"no psql in {self._bindir} nor on PATH")
        return Path(found)

    def _check_installation(self) -> None:
        if self.preload_pg_stat_statements and not self.installation.has_pg_stat_statements:
            raise ClusterError(
                f"PostgreSQL {self.installation.version} in {self.installation.bindir} has "
                "no pg_stat_statements extension files; install your distribution's "
                "postgresql-contrib package, or use preload_pg_stat_statements=False"
            )

    def _owned_paths(self) -> list[Path]:
        """What the reaper deletes: the cluster's directory, and a copied installation."""
        paths = [self.base_dir]
        if self._bindir != self.installation.bindir:
            paths.append(self._bindir.parent.parent.parent)
        return paths

    def _make_socket_dir(self) -> None:
        self.socket_dir.mkdir()
        if self._run_as is not None:
            os.chown(self.base_dir, self._run_as.uid, self._run_as.gid)
            os.chown(self.socket_dir, self._run_as.uid, self._run_as.gid)

    def _initdb(self) -> None:
        argv = [
            os.fspath(self._bindir / "initdb"),
            *("-D", str(self.data_dir), "-U", _SUPERUSER, "--auth=trust"),
            *("-E", "UTF8", "--no-locale", "--no-sync"),
        ]
        proc = self._run(argv, timeout_s=120.0)
        if proc.returncode != 0:
            output = (proc.stdout + proc.stderr).strip()
            raise ClusterError(
                f"initdb failed (exit {proc.returncode}) for PostgreSQL "
                f"{self.installation.version}:\n{_tail(output)}"
            )

    def _write_settings(self) -> None:
        lines = ["", "# pgstatkit.testing.Cluster settings"]
        lines += [f"{k} = {_conf_value(v)}" for k, v in self.effective_settings().items()]
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n".join(lines) + "\n")

    def _launch(self, timeout_s: float) -> None:
        """Start ``postgres`` on a free port and wait until ready; retry a port taken."""
        for attempt in range(1, _START_ATTEMPTS + 1):
            port = _free_port()
            proc = self._spawn_postgres(port)
            self._proc, self._port = proc, port
            if self._reaper is not None:
                self._reaper.watch(proc.pid)
            if self._wait_ready(proc, port, timeout_s, last=attempt == _START_ATTEMPTS):
                return
            log.info("port %d taken, retrying", port)
        raise ClusterError("could not find a free port")  # pragma: no cover

    def _spawn_postgres(self, port: int) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as log_file:
            return subprocess.Popen(
                [os.fspath(self._bindir / "postgres"), "-D", str(self.data_dir), "-p", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.base_dir,
                start_new_session=True,
                **subprocess_kwargs(self._run_as),
            )

    def _wait_ready(
        self, proc: subprocess.Popen[bytes], port: int, timeout_s: float, *, last: bool
    ) -> bool:
        """True once the server is ready; False if it exited because ``port`` was taken.

        Raises:
            ClusterError: it exited for another reason (or on the ``last`` attempt), or
                was not ready after ``timeout_s`` seconds.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                self._proc = None
                if not last and _port_taken(port):
                    return False
                raise ClusterError(
                    f"PostgreSQL {self.installation.version} exited with code "
                    f"{proc.returncode} during start (port {port}); server log "
                    f"{self.log_path}:\n{_tail(self._read_log())}"
                )
            if self._postmaster_ready():
                return True
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"PostgreSQL {self.installation.version} not ready after {timeout_s} s "
                    f"(port {port}); server log:\n{_tail(self._read_log())}"
                )
            time.sleep(0.02)

    def _postmaster_ready(self) -> bool:
        # Line 8 of postmaster.pid is the postmaster status (PostgreSQL >= 10).
        try:
            lines = (self.data_dir / "postmaster.pid").read_text(errors="replace").splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready"

    def _read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _shutdown(self, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
        for sig in (signal.SIGINT, signal.SIGQUIT):
            if proc.poll() is not None:
                break
            with contextlib.suppress(OSError):
                proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                continue
            break
        if proc.poll() is None:
            # Kill the whole process group (the server runs in its own session), so no
            # backend outlives the postmaster.
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def __repr__(self) -> str:
        state = f"port={self._port}" if self.running else "stopped"
        return (
            f"<Cluster PostgreSQL {self.installation.version} ({self.installation.source}) {state}>"
        )

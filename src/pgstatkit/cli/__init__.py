"""The ``pgstatkit`` command line (also ``python -m pgstatkit``).

Uses the blocking API (:mod:`pgstatkit.sync.stats`) over one psycopg connection;
psycopg is imported only when a command connects. See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

from pgstatkit import _validate
from pgstatkit._install import role_name, schema_name
from pgstatkit._version import __version__
from pgstatkit.cli import _format as fmt
from pgstatkit.cli._dsn import mask_dsn, parse_dsn
from pgstatkit.cli._errors import check_explain, cli_message, extension_message, printable
from pgstatkit.errors import (
    ExtensionNotInstalledError,
    ExtensionNotLoadedError,
    ExtensionTooOldError,
    InstallRefusedError,
    InsufficientPrivilegeError,
    InvalidArgumentError,
    PgStatKitError,
    StatementRejectedError,
    StatementTimeoutError,
    UnsafeQueryError,
)
from pgstatkit.models import IndexUsage, QueryStat, SetupReport, TableStatistics

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "EXIT_BAD_ARGUMENTS",
    "EXIT_CONNECTION",
    "EXIT_ERROR",
    "EXIT_EXTENSION",
    "EXIT_INTERRUPTED",
    "EXIT_MISSING_EXTRA",
    "EXIT_NOT_CONFIRMED",
    "EXIT_OK",
    "EXIT_PRIVILEGE",
    "EXIT_REFUSED",
    "EXIT_SETUP_ERRORS",
    "EXIT_TIMEOUT",
    "CliError",
    "main",
    "mask_dsn",
    "parse_dsn",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_ARGUMENTS = 2
EXIT_CONNECTION = 3
EXIT_EXTENSION = 4
EXIT_PRIVILEGE = 5
EXIT_TIMEOUT = 6
EXIT_SETUP_ERRORS = 7
EXIT_NOT_CONFIRMED = 8
EXIT_MISSING_EXTRA = 9
EXIT_REFUSED = 10
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """\
exit codes:
  0    ok (reset --queryid: also when no entry had that queryid; it says so)
  1    unexpected error (run again with --debug for a traceback), or a server error
  2    bad arguments or option values (an invalid DSN, demo --dsn); explain: a
       statement refused, or --param not matching it, before anything ran, or the
       server rejected the statement (a syntax error, a constraint it violated)
  3    could not connect to the server, or lost the connection
  4    pg_stat_statements not loaded, not created in the database, or too old
  5    insufficient privilege
  6    statement timeout (raise --timeout-ms)
  7    doctor: the setup check found at least one error
  8    reset/uninstall not confirmed (no --yes and stdin is not a terminal, or "no")
  9    an optional dependency is missing (the message names the pip command)
  10   install/uninstall refused, nothing changed: an object with one of pgstatkit's
       names is not pgstatkit's, a --grant-to role does not exist, or objects depend
       on pgstatkit's views (the message names them)
  130  interrupted (Ctrl-C)

connection: --dsn, else $DATABASE_URL, else the libpq environment (PGHOST, PGPORT,
PGDATABASE, PGUSER, PGPASSWORD, ~/.pgpass, PGSERVICE...), as for psql.
"""

PSYCOPG_MISSING = 'psycopg is not installed: pip install "pgstatkit[psycopg]"'


class CliError(Exception):
    """An error reported as one line on stderr, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


# ----------------------------------------------------------------------- arguments


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus a pointer to --help), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_ARGUMENTS, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _checked(check: Callable[[Any], Any], convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        try:
            return check(value)
        except InvalidArgumentError as exc:
            message = str(exc).split(" must ", 1)
            raise argparse.ArgumentTypeError(
                "must " + message[1] if len(message) == 2 else str(exc)
            ) from None

    parse.__name__ = getattr(check, "__name__", "value")
    return parse


_limit = _checked(_validate.limit, int)
_duration = _checked(lambda v: _validate.duration_ms(v, "min_duration_ms"), float)
_ratio = _checked(lambda v: _validate.ratio(v, "max_cache_hit_ratio"), float)
_timeout = _checked(_validate.timeout_ms, float)
_queryid = _checked(_validate.queryid, int)


_schema = _checked(schema_name, str)
_role = _checked(role_name, str)


def _common(*, suppress: bool) -> _Parser:
    """Options accepted both before and after the subcommand."""
    default: Any = argparse.SUPPRESS if suppress else None
    p = _Parser(add_help=False)
    g = p.add_argument_group("connection and output")
    g.add_argument(
        "--dsn",
        default=default,
        help="libpq connection string or URI (default: $DATABASE_URL, else the PG* "
        "environment, as psql)",
    )
    g.add_argument(
        "--format",
        choices=("table", "json", "markdown"),
        default=argparse.SUPPRESS if suppress else "table",
        help="output format (default: table, fitted to the terminal width)",
    )
    g.add_argument(
        "--timeout-ms",
        type=_timeout,
        default=default,
        metavar="MS",
        help="statement timeout of each monitoring call (default 5000)",
    )
    g.add_argument(
        "--connect-timeout",
        type=_checked(lambda v: _validate.limit(v, "connect_timeout"), int),
        default=argparse.SUPPRESS if suppress else 10,
        metavar="S",
        help="seconds to wait for the connection (default 10, or $PGCONNECT_TIMEOUT)",
    )
    g.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="show a traceback on errors",
    )
    return p


def _add_all_databases(p: argparse.ArgumentParser) -> None:
    """The scope options of the statement listings: --all-databases, --include-pgstatkit."""
    p.add_argument(
        "--all-databases",
        action="store_true",
        help="statements of every database, not only the connected one (adds database "
        "and user columns)",
    )
    _add_include_pgstatkit(p)


def _add_include_pgstatkit(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--include-pgstatkit",
        action="store_true",
        help="also pgstatkit's own statements and tables (left out by default)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``pgstatkit``."""
    parser = _Parser(
        prog="pgstatkit",
        description="PostgreSQL query-performance monitoring on pg_stat_statements.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"pgstatkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    common = _common(suppress=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[common],
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add("report", "everything in one view: setup check, database, queries, tables, indexes")
    p.add_argument(
        "--min-duration-ms",
        type=_duration,
        default=1000.0,
        metavar="MS",
        help="slow-query threshold on the mean execution time (default 1000)",
    )
    p.add_argument(
        "--max-cache-hit-ratio",
        type=_ratio,
        default=0.9,
        metavar="RATIO",
        help="low-cache-hit threshold, a fraction 0..1 (default 0.9)",
    )
    p.add_argument("--limit", type=_limit, default=10, help="rows per section (default 10)")
    p.add_argument(
        "--schema",
        type=_schema,
        default="pgstatkit",
        help="pgstatkit's helper schema, for the setup check (default pgstatkit)",
    )
    _add_all_databases(p)

    p = add("slow", "statements whose mean execution time is at least --min-duration-ms")
    p.add_argument(
        "--min-duration-ms",
        type=_duration,
        default=1000.0,
        metavar="MS",
        help="threshold on the mean execution time in ms (default 1000)",
    )
    p.add_argument("--limit", type=_limit, default=20, help="at most this many rows (default 20)")
    _add_all_databases(p)

    p = add("top", "statements with the highest total execution time")
    p.add_argument("--limit", type=_limit, default=20, help="at most this many rows (default 20)")
    _add_all_databases(p)

    p = add("low-cache", "statements with a shared-buffer cache hit ratio <= the threshold")
    p.add_argument(
        "--max-cache-hit-ratio",
        type=_ratio,
        default=0.9,
        metavar="RATIO",
        help="a fraction from 0 to 1 (default 0.9, i.e. 90%%)",
    )
    p.add_argument("--limit", type=_limit, default=20, help="at most this many rows (default 20)")
    _add_all_databases(p)

    add("db", "statistics of the connected database (size, cache hit, transactions...)")

    p = add("tables", "user tables: sequential scans, rows read, sizes, dead rows, cache hit")
    p.add_argument("--limit", type=_limit, default=50, help="at most this many rows (default 50)")
    p.add_argument(
        "--order-by",
        choices=("seq_tup_read", "seq_scan", "total_size", "dead_tuples", "name"),
        default="seq_tup_read",
        help="sort order (default seq_tup_read: big tables read without an index first)",
    )
    _add_include_pgstatkit(p)

    p = add("indexes", "user indexes with scans and size; unused ones first")
    p.add_argument("--limit", type=_limit, default=50, help="at most this many rows (default 50)")
    p.add_argument("--unused", action="store_true", help="only indexes flagged unused")
    _add_include_pgstatkit(p)

    p = add("explain", "the plan of one statement (EXPLAIN, optionally ANALYZE, rolled back)")
    p.add_argument("query", help="one SQL statement, or - to read it from stdin")
    p.add_argument(
        "--analyze",
        action="store_true",
        help="run it (in a transaction that is rolled back) for actual times",
    )
    p.add_argument(
        "--param",
        action="append",
        default=None,
        metavar="VALUE",
        help="a value for $1, $2... (repeat; sent as text)",
    )

    p = add(
        "reset",
        "forget pg_stat_statements' statistics: of every database on the server, or of "
        "one --queryid (any user, any database)",
    )
    p.add_argument(
        "--queryid",
        type=_queryid,
        default=None,
        help="only the entries of this statement; says how many there were",
    )
    p.add_argument(
        "--minmax-only",
        action="store_true",
        help="only the min/max times; keep calls and totals (PostgreSQL 17+)",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    p = add("install", "create pg_stat_statements and pgstatkit's helper views (idempotent)")
    p.add_argument(
        "--schema", type=_schema, default="pgstatkit", help="the helper schema (default pgstatkit)"
    )
    p.add_argument(
        "--grant-to",
        action="append",
        type=_role,
        default=None,
        metavar="ROLE",
        help="grant SELECT on the views (and USAGE on the schema) to ROLE (repeat; "
        "'public' means PUBLIC)",
    )

    p = add("uninstall", "remove what install created, and nothing else")
    p.add_argument(
        "--schema",
        type=_schema,
        default="pgstatkit",
        help="the helper schema given to install (default pgstatkit)",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    p = add("doctor", "check the server's configuration for pg_stat_statements")
    p.add_argument(
        "--schema",
        type=_schema,
        default="pgstatkit",
        help="the helper schema given to install (default pgstatkit)",
    )

    p = add(
        "demo",
        "start a throwaway PostgreSQL 18 (embedded extra), run a workload, print the report",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="leave the server running (until Ctrl-C) and print its DSN",
    )
    return parser


# ----------------------------------------------------------------------- connection


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise CliError(PSYCOPG_MISSING, EXIT_MISSING_EXTRA) from None
    return psycopg


def resolve_dsn(cli_dsn: str | None) -> str:
    """``--dsn``, else ``$DATABASE_URL``, else ``""`` (libpq reads ``PG*`` itself)."""
    dsn = cli_dsn if cli_dsn is not None else os.environ.get("DATABASE_URL", "")
    # SQLAlchemy-style URLs (postgresql+psycopg://) are common in DATABASE_URL.
    return re.sub(r"^(postgres(?:ql)?)\+[a-z0-9_]+://", r"\1://", dsn.strip())


def _target(params: dict[str, Any]) -> tuple[str, str]:
    host = str(params.get("host") or os.environ.get("PGHOST") or "local socket")
    port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
    try:
        default_user = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        default_user = "?"
    user = str(params.get("user") or os.environ.get("PGUSER") or default_user)
    dbname = str(params.get("dbname") or os.environ.get("PGDATABASE") or user)
    return f"{host}:{port}/{dbname}", user


def _short_reason(exc: BaseException, secrets: Sequence[str]) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    reason = lines[0] if lines else type(exc).__name__
    reason = re.sub(r"^.*failed:\s*", "", reason) or reason
    reason = re.sub(r"^FATAL:\s*", "", reason)
    for secret in secrets:
        if secret:
            reason = reason.replace(secret, "***")
    return reason


@contextmanager
def connect(args: argparse.Namespace) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit psycopg connection from ``--dsn`` / ``DATABASE_URL`` / ``PG*``."""
    psycopg = _import_psycopg()
    dsn = resolve_dsn(args.dsn)
    params = parse_dsn(dsn)
    extra: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in params and "PGCONNECT_TIMEOUT" not in os.environ:
        extra["connect_timeout"] = args.connect_timeout
    if "application_name" not in params and "PGAPPNAME" not in os.environ:
        extra["application_name"] = "pgstatkit"
    where, user = _target(params)
    secrets = [str(params.get("password") or ""), os.environ.get("PGPASSWORD", "")]
    try:
        conn = psycopg.connect(dsn, **extra)
    except psycopg.Error as exc:
        raise CliError(
            f"could not connect to {where} as {user}: {_short_reason(exc, secrets)}; "
            "check --dsn, DATABASE_URL or the PG* environment variables",
            EXIT_CONNECTION,
        ) from exc
    info = conn.info  # read now: it is gone once the connection is closed
    role, dbname, server_version = info.user, info.dbname, info.server_version
    try:
        with conn:
            yield conn
    except PgStatKitError as exc:
        message = cli_message(
            exc,
            command=args.command,
            timeout_ms=args.timeout_ms,
            role=role,
            dbname=dbname,
            server_version=server_version,
        )
        raise CliError(message, _error_code(exc)) from exc
    except psycopg.OperationalError as exc:
        if conn.closed or conn.broken:
            raise CliError(
                f"lost the connection to {where}: {_short_reason(exc, secrets)}", EXIT_CONNECTION
            ) from exc
        raise
    except psycopg.Error as exc:
        raise CliError(f"server error: {_short_reason(exc, secrets)}", EXIT_ERROR) from exc


def _where(conn: psycopg.Connection[Any]) -> str:
    info = conn.info
    return f'database "{info.dbname}" on {info.host}:{info.port}'


def confirm(args: argparse.Namespace, question: str) -> None:
    """Ask ``question`` on the terminal unless ``--yes``; raise if not confirmed."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CliError(
            f"{question} -- not confirmed: pass --yes (stdin is not a terminal); nothing done",
            EXIT_NOT_CONFIRMED,
        )
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("not confirmed; nothing done", EXIT_NOT_CONFIRMED)


# ----------------------------------------------------------------------- output


def _md(text: str) -> str:
    return text.replace("|", "\\|")


class Out:
    """Writes results in the chosen format to stdout."""

    def __init__(self, form: str) -> None:
        self.form = form

    def write(self, lines: Sequence[str]) -> None:
        sys.stdout.write("\n".join(lines) + "\n")

    def title(self, text: str) -> list[str]:
        if self.form == "markdown":
            return [f"## {text}", ""]
        return [text, "=" * min(len(text), fmt.terminal_width())]

    def rows(self, rows: Sequence[Any], kind: type, *, all_databases: bool = False) -> list[str]:
        columns = fmt.KIND_COLUMNS[kind]
        if kind is QueryStat:
            columns = fmt.query_columns(all_databases=all_databases)
        if self.form == "markdown":
            return fmt.markdown_table(columns, rows)
        return fmt.table(columns, rows)

    def pairs(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        if self.form == "markdown":
            return ["| | |", "| --- | ---: |", *(f"| {k} | {_md(v)} |" for k, v in pairs)]
        width = max(len(k) for k, _ in pairs)
        return [f"{k.ljust(width)}  {v}" for k, v in pairs]

    def setup(self, report: SetupReport) -> list[str]:
        lines = fmt.setup_lines(report)
        conf = report.postgresql_conf()
        if self.form == "markdown":
            lines = ["```", *lines, "```"]
        if self.form == "markdown":
            return [
                *lines,
                "",
                "Recommended `postgresql.conf`:",
                "",
                "```",
                *map(fmt.safe, conf.splitlines()),
                "```",
            ]
        return [
            *lines,
            "",
            "Recommended postgresql.conf:",
            *("  " + fmt.safe(ln) for ln in conf.splitlines()),
        ]


# ----------------------------------------------------------------------- commands


def _kw(args: argparse.Namespace) -> dict[str, Any]:
    """timeout_ms, and include_pgstatkit for the commands that have the option."""
    own = getattr(args, "include_pgstatkit", None)
    return {"timeout_ms": args.timeout_ms, **({} if own is None else {"include_pgstatkit": own})}


def _stats() -> Any:
    _import_psycopg()
    from pgstatkit.sync import stats

    return stats


_EXTENSION_ERRORS = (ExtensionNotLoadedError, ExtensionNotInstalledError, ExtensionTooOldError)


def _query_list(args: argparse.Namespace, out: Out, name: str, title: str, **kw: Any) -> int:
    stats = _stats()
    with connect(args) as conn:
        rows = getattr(stats, name)(conn, **kw, **_kw(args))
    if out.form == "json":
        out.write([fmt.json_dump([r.to_dict() for r in rows])])
    else:
        table = out.rows(rows, QueryStat, all_databases=args.all_databases)
        out.write([*out.title(title), *table])
    return EXIT_OK


def cmd_slow(args: argparse.Namespace, out: Out) -> int:
    return _query_list(
        args,
        out,
        "slow_queries",
        f"Slow queries (mean >= {args.min_duration_ms:g} ms)",
        min_duration_ms=args.min_duration_ms,
        limit=args.limit,
        all_databases=args.all_databases,
    )


def cmd_top(args: argparse.Namespace, out: Out) -> int:
    return _query_list(
        args,
        out,
        "top_queries_by_total_time",
        "Top queries by total time",
        limit=args.limit,
        all_databases=args.all_databases,
    )


def cmd_low_cache(args: argparse.Namespace, out: Out) -> int:
    return _query_list(
        args,
        out,
        "queries_with_low_cache_hit",
        f"Queries with a low cache hit ratio (<= {args.max_cache_hit_ratio:.0%})",
        max_cache_hit_ratio=args.max_cache_hit_ratio,
        limit=args.limit,
        all_databases=args.all_databases,
    )


def cmd_db(args: argparse.Namespace, out: Out) -> int:
    stats = _stats()
    with connect(args) as conn:
        result = stats.database_statistics(conn, **_kw(args))
    if out.form == "json":
        out.write([fmt.json_dump(result.to_dict())])
    else:
        out.write([*out.title("Database"), *out.pairs(fmt.database_lines(result))])
    return EXIT_OK


def cmd_tables(args: argparse.Namespace, out: Out) -> int:
    stats = _stats()
    with connect(args) as conn:
        rows = stats.table_statistics(conn, limit=args.limit, order_by=args.order_by, **_kw(args))
    if out.form == "json":
        out.write([fmt.json_dump([r.to_dict() for r in rows])])
    else:
        out.write([*out.title(f"Tables (by {args.order_by})"), *out.rows(rows, TableStatistics)])
    return EXIT_OK


def cmd_indexes(args: argparse.Namespace, out: Out) -> int:
    stats = _stats()
    with connect(args) as conn:
        rows = stats.index_usage(conn, limit=args.limit, **_kw(args))
    if args.unused:
        rows = [r for r in rows if r.unused]
    if out.form == "json":
        out.write([fmt.json_dump([r.to_dict() for r in rows])])
    else:
        out.write([*out.title("Indexes (unused first)"), *out.rows(rows, IndexUsage)])
    return EXIT_OK


def cmd_explain(args: argparse.Namespace, out: Out) -> int:
    stats = _stats()
    query = sys.stdin.read() if args.query == "-" else args.query
    problem = check_explain(query, args.param, args.analyze)
    if problem is not None:
        raise CliError(problem, EXIT_BAD_ARGUMENTS)
    with connect(args) as conn:
        plan = stats.query_plan(conn, query, analyze=args.analyze, params=args.param, **_kw(args))
    if out.form == "json":
        out.write([fmt.json_dump(plan.to_dict())])
    elif out.form == "markdown":
        out.write([*out.title("Plan"), "```", *fmt.plan_lines(plan), "```"])
    else:
        out.write(fmt.plan_lines(plan))
    return EXIT_OK


def _run_operation(conn: Any, op: Any) -> Any:
    """Run one of pgstatkit's private operations on the CLI's connection."""
    from pgstatkit._run import run_sync
    from pgstatkit.adapters import open_sync

    with open_sync(conn) as session:
        return run_sync(session, op)


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _reset_one(args: argparse.Namespace, conn: Any, server: str) -> tuple[dict[str, Any], str]:
    from pgstatkit import _operations

    qid = args.queryid
    kind = "min/max times" if args.minmax_only else "statistics"
    confirm(
        args,
        f"Reset the pg_stat_statements {kind} of statement {qid} on {server} (every "
        "entry with that queryid: any user, any database)?",
    )
    op = _operations.reset_statement(
        queryid=qid, minmax_only=args.minmax_only, timeout_ms=args.timeout_ms
    )
    done = _run_operation(conn, op)
    hidden = (
        ""
        if done.sees_all
        else f" (role {conn.info.user} cannot see other users' queryids without "
        "pg_read_all_stats: their entries with this queryid were reset too, uncounted)"
    )
    if done.entries:
        minmax = "min/max times of " if args.minmax_only else ""
        line = f"reset {minmax}{_entries(done.entries)} of statement {qid} (any user, any database)"
        line += f" on {server}{hidden}"
    else:
        line = f"no statement with queryid {qid} on {server}; nothing reset{hidden}"
    data = {"entries": done.entries, "entries_complete": done.sees_all}
    return {**data, "reset_at": done.reset_at}, line


def cmd_reset(args: argparse.Namespace, out: Out) -> int:
    """``pg_stat_statements_reset()`` works server-wide: every database, every user."""
    stats = _stats()
    with connect(args) as conn:
        server = f"the server {conn.info.host}:{conn.info.port}"
        if args.queryid is not None:
            data, line = _reset_one(args, conn, server)
        else:
            what = f"all statements of every database on {server}"
            kind = "min/max times" if args.minmax_only else "statistics"
            confirm(args, f"Reset the pg_stat_statements {kind} of {what}?")
            when = stats.reset_query_statistics(conn, minmax_only=args.minmax_only, **_kw(args))
            data = {"entries": None, "entries_complete": None, "reset_at": when}
            line = f"reset the {kind} of {what}"
    when = data.pop("reset_at")
    data["minmax_only"] = args.minmax_only
    if out.form == "json":
        scope = "server" if args.queryid is None else "statement"
        result = {"reset": True, "scope": scope, "queryid": args.queryid, **data}
        out.write([fmt.json_dump({**result, "reset_at": when and when.isoformat()})])
    else:
        at = f" at {when.isoformat()}" if when and data["entries"] != 0 else ""
        out.write([line + at])
    return EXIT_OK


def cmd_install(args: argparse.Namespace, out: Out) -> int:
    stats = _stats()
    roles = list(dict.fromkeys(args.grant_to or ()))
    with connect(args) as conn:
        stats.install(conn, schema=args.schema, grant_select_to=roles, **_kw(args))
        where = _where(conn)
    if out.form == "json":
        result = {"installed": True, "schema": args.schema, "granted_to": roles}
        out.write([fmt.json_dump(result)])
    else:
        granted = f"; SELECT granted to {', '.join(roles)}" if roles else ""
        out.write([f'installed pgstatkit (schema "{args.schema}") in {where}{granted}'])
    return EXIT_OK


def cmd_uninstall(args: argparse.Namespace, out: Out) -> int:
    stats = _stats()
    with connect(args) as conn:
        where = _where(conn)
        confirm(args, f'Uninstall pgstatkit (schema "{args.schema}") from {where}?')
        stats.uninstall(conn, schema=args.schema, **_kw(args))
    if out.form == "json":
        out.write([fmt.json_dump({"uninstalled": True, "schema": args.schema})])
    else:
        out.write([f'uninstalled pgstatkit (schema "{args.schema}") from {where}'])
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace, out: Out) -> int:
    stats = _stats()
    with connect(args) as conn:
        report = stats.check_setup(conn, schema=args.schema, **_kw(args))
    if out.form == "json":
        out.write([fmt.json_dump(report.to_dict())])
    else:
        out.write([*out.title("Setup check"), *out.setup(report)])
    return EXIT_OK if report.ok else EXIT_SETUP_ERRORS


def build_report(
    conn: Any,
    out: Out,
    *,
    min_duration_ms: float,
    max_cache_hit_ratio: float,
    limit: int,
    all_databases: bool,
    schema: str,
    timeout_ms: float | None,
    include_pgstatkit: bool = False,
) -> tuple[list[str], int]:
    """The lines of the full report, and its exit code (4 if pg_stat_statements is unusable)."""
    from pgstatkit.sync import stats

    kw: dict[str, Any] = {"timeout_ms": timeout_ms}
    lkw: dict[str, Any] = {"include_pgstatkit": include_pgstatkit, **kw}
    qkw: dict[str, Any] = {"limit": limit, "all_databases": all_databases, **lkw}
    sections: list[tuple[str, str, Callable[[], list[Any]], type]] = [
        (
            "slow_queries",
            f"Slow queries (mean >= {min_duration_ms:g} ms)",
            lambda: stats.slow_queries(conn, min_duration_ms=min_duration_ms, **qkw),
            QueryStat,
        ),
        (
            "top_queries_by_total_time",
            "Top queries by total time",
            lambda: stats.top_queries_by_total_time(conn, **qkw),
            QueryStat,
        ),
        (
            "queries_with_low_cache_hit",
            f"Queries with a low cache hit ratio (<= {max_cache_hit_ratio:.0%})",
            lambda: stats.queries_with_low_cache_hit(
                conn, max_cache_hit_ratio=max_cache_hit_ratio, **qkw
            ),
            QueryStat,
        ),
        (
            "table_statistics",
            "Tables (most rows read by sequential scans first)",
            lambda: stats.table_statistics(conn, limit=limit, **lkw),
            TableStatistics,
        ),
        (
            "index_usage",
            "Indexes (unused first)",
            lambda: stats.index_usage(conn, limit=limit, **lkw),
            IndexUsage,
        ),
    ]
    code = EXIT_OK
    data: dict[str, Any] = {}
    lines: list[str] = []
    for key, title, call, kind in sections:
        try:
            rows = call()
        except _EXTENSION_ERRORS as exc:
            code = EXIT_EXTENSION
            message = extension_message(exc, conn.info.dbname)
            data[key] = None
            data.setdefault("errors", {})[key] = message
            lines += [*out.title(title), f"(skipped: {message})", ""]
            continue
        data[key] = [r.to_dict() for r in rows]
        lines += [*out.title(title), *out.rows(rows, kind, all_databases=all_databases), ""]
    setup = stats.check_setup(conn, schema=schema, **kw)
    database = stats.database_statistics(conn, **kw)
    head = [*out.title("Setup check"), *out.setup(setup), ""]
    head += [*out.title("Database"), *out.pairs(fmt.database_lines(database)), ""]
    lines = head + lines
    data = {"setup": setup.to_dict(), "database": database.to_dict(), **data}
    if out.form == "json":
        return [fmt.json_dump(data)], code
    return lines, code


def cmd_report(args: argparse.Namespace, out: Out) -> int:
    _stats()
    with connect(args) as conn:
        lines, code = build_report(
            conn,
            out,
            min_duration_ms=args.min_duration_ms,
            max_cache_hit_ratio=args.max_cache_hit_ratio,
            limit=args.limit,
            all_databases=args.all_databases,
            schema=args.schema,
            timeout_ms=args.timeout_ms,
            include_pgstatkit=args.include_pgstatkit,
        )
    out.write(lines)
    if code == EXIT_EXTENSION:
        sys.stderr.write(
            "pgstatkit: some sections were skipped: pg_stat_statements is not usable "
            "(see the setup check)\n"
        )
    return code


def cmd_demo(args: argparse.Namespace, out: Out) -> int:
    from pgstatkit.cli import _demo

    return _demo.run(args, out)


COMMANDS: dict[str, Callable[[argparse.Namespace, Out], int]] = {
    "report": cmd_report,
    "slow": cmd_slow,
    "top": cmd_top,
    "low-cache": cmd_low_cache,
    "db": cmd_db,
    "tables": cmd_tables,
    "indexes": cmd_indexes,
    "explain": cmd_explain,
    "reset": cmd_reset,
    "install": cmd_install,
    "uninstall": cmd_uninstall,
    "doctor": cmd_doctor,
    "demo": cmd_demo,
}


# ----------------------------------------------------------------------- main


def _error_code(exc: BaseException) -> int:
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, InsufficientPrivilegeError):
        return EXIT_PRIVILEGE
    if isinstance(exc, InvalidArgumentError | UnsafeQueryError | StatementRejectedError):
        return EXIT_BAD_ARGUMENTS
    if isinstance(exc, _EXTENSION_ERRORS):
        return EXIT_EXTENSION
    if isinstance(exc, StatementTimeoutError):
        return EXIT_TIMEOUT
    if isinstance(exc, InstallRefusedError):
        return EXIT_REFUSED
    return EXIT_ERROR


def _one_line(exc: BaseException, args: argparse.Namespace) -> str:
    if isinstance(exc, CliError):
        text = str(exc)
    elif isinstance(exc, PgStatKitError):
        text = cli_message(exc, command=args.command, timeout_ms=getattr(args, "timeout_ms", None))
    else:
        text = f"unexpected {type(exc).__name__}: {exc} (run again with --debug for details)"
    return printable(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see ``pgstatkit --help``)."""
    with _utf8_streams():
        parser = build_parser()
        args = parser.parse_args(argv)
        debug = bool(getattr(args, "debug", False))
        out = Out(args.format)
        try:
            return COMMANDS[args.command](args, out)
        except KeyboardInterrupt:
            if debug:
                traceback.print_exc()
            sys.stderr.write("pgstatkit: interrupted\n")
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            # `pgstatkit report | head`: not an error.
            _silence_stdout()
            return EXIT_OK
        except Exception as exc:
            if debug:
                traceback.print_exc()
            sys.stderr.write(f"pgstatkit: error: {fmt.safe(_one_line(exc, args))}\n")
            return _error_code(exc)


@contextmanager
def _utf8_streams() -> Iterator[None]:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    yield


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover
        pass

"""``check_setup``: is the server configured for useful ``pg_stat_statements`` data?

Settings come from ``pg_settings`` (``context = 'postmaster'`` means a restart).
``shared_preload_libraries`` is hidden from roles without ``pg_read_all_settings``;
whether the library is loaded is then read from the presence of its own settings
(``pg_stat_statements.max`` exists only when the library was preloaded).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from pgstatkit import _sql, _validate
from pgstatkit._columns import parse_version
from pgstatkit._install import META_TABLE, objects_sql, schema_name
from pgstatkit._protocol import Context, Operation, Query, Result, Steps
from pgstatkit.models import SetupFinding, SetupReport, Severity

__all__ = ["check_setup"]

SETTINGS = (
    "shared_preload_libraries",
    "pg_stat_statements.track",
    "pg_stat_statements.max",
    "pg_stat_statements.track_planning",
    "track_io_timing",
    "compute_query_id",
    "log_min_duration_statement",
    "log_line_prefix",
)
RECOMMENDED_MAX = 10_000
RECOMMENDED_LOG_MS = 1000
RECOMMENDED_PREFIX = "%m [%p] user=%u db=%d client=%h "

_SETTINGS_SQL = (
    "SELECT name, setting, unit, context FROM pg_catalog.pg_settings WHERE name = ANY($1::text[])"
)
_STATE_SQL = """SELECT e.extversion AS installed, n.nspname AS pgss_schema,
       a.default_version,
       pg_catalog.pg_has_role(CURRENT_USER, 'pg_read_all_stats', 'MEMBER') AS read_all_stats,
       CURRENT_USER::text AS role,
       EXISTS (SELECT FROM ({objects}) AS o
               WHERE o.relname = $2::text AND o.owned) AS meta_exists
FROM (VALUES (1)) AS one (x)
LEFT JOIN pg_catalog.pg_extension AS e ON e.extname = 'pg_stat_statements'
LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
LEFT JOIN pg_catalog.pg_available_extensions AS a ON a.name = 'pg_stat_statements'"""
"""The extension, the role, and whether ``$1`` holds pgstatkit's own record (the
``objects`` query of install: a table of that name without pgstatkit's ownership comment
is the user's, and is never read)."""


@functools.cache
def _state_sql() -> str:
    return _STATE_SQL.format(objects=objects_sql("$1::text"))


Setting = tuple[str, str | None, str]  # setting, unit, context
Row = dict[str, object]


def _named(result: Result) -> list[Row]:
    """The rows of ``result`` as column name -> value."""
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


_lit = _sql.quote_literal

INSTALL = "pgstatkit's install: `pgstatkit install` (command line) or `stats.install(conn)`"

# Settings whose special values mean something else than an amount (postgresql.conf docs).
SPECIAL_VALUES: dict[str, dict[str, str]] = {
    "log_min_duration_statement": {"-1": "disabled", "0": "0ms (every statement is logged)"},
}


def _shown(name: str, setting: str, unit: str | None) -> str:
    """The setting as a person reads it: ``disabled`` for -1, never ``-1ms``."""
    special = SPECIAL_VALUES.get(name, {}).get(setting)
    if special is not None:
        return special
    return f"{setting}{unit or ''}" if unit in ("ms", "s") else setting


def _alter(name: str, value: str, context: str) -> str:
    then = (
        "then restart the server" if context == "postmaster" else "then `SELECT pg_reload_conf();`"
    )
    return (
        f"`ALTER SYSTEM SET {name} = {_lit(value)};` (or `{name} = {_lit(value)}` in "
        f"postgresql.conf), {then}"
    )


def _setting_finding(
    name: str,
    settings: Mapping[str, Setting],
    good: bool,
    severity: Severity,
    why: str,
    recommended: str,
) -> SetupFinding:
    setting, unit, context = settings[name]
    found = _shown(name, setting, unit)
    restart = context == "postmaster"
    if good:
        return SetupFinding(name, "ok", found, why, None, restart, setting)
    return SetupFinding(
        name, severity, found, why, _alter(name, recommended, context), restart, recommended
    )


def _preload(settings: Mapping[str, Setting]) -> SetupFinding:
    why = (
        "pg_stat_statements collects statistics only when loaded at server start; "
        "without it every pg_stat_statements query fails"
    )
    loaded = "pg_stat_statements.max" in settings
    if "shared_preload_libraries" not in settings:
        if loaded:
            return SetupFinding(
                "shared_preload_libraries",
                "ok",
                "not readable by this role; pg_stat_statements is loaded (its settings exist)",
                why,
                None,
                True,
            )
        return SetupFinding(
            "shared_preload_libraries",
            "error",
            "not readable by this role; pg_stat_statements is not loaded (its settings "
            "do not exist)",
            why,
            "as a superuser: `ALTER SYSTEM SET shared_preload_libraries = "
            "'pg_stat_statements';` keeping the libraries already listed (`SHOW "
            "shared_preload_libraries;`), then restart the server",
            True,
        )
    value = settings["shared_preload_libraries"][0]
    libs = [lib.strip().strip('"') for lib in value.split(",") if lib.strip()]
    if "pg_stat_statements" in libs and loaded:
        return SetupFinding("shared_preload_libraries", "ok", value, why, None, True, value)
    wanted = ", ".join([*libs, "pg_stat_statements"] if "pg_stat_statements" not in libs else libs)
    found = value or "(empty)"
    if "pg_stat_statements" in libs:
        found += " (set, but the server has not been restarted since)"
    return SetupFinding(
        "shared_preload_libraries",
        "error",
        found,
        why,
        _alter("shared_preload_libraries", wanted, "postmaster"),
        True,
        wanted,
    )


def _extension(state: Row) -> SetupFinding:
    installed, default = state["installed"], state["default_version"]
    why = "the extension's view and functions must exist in the database you query"
    if default is None:
        return SetupFinding(
            "extension",
            "error",
            "pg_stat_statements is not available on this server",
            why,
            "install the PostgreSQL contrib package (e.g. postgresql-contrib)",
            None,
        )
    if installed is None:
        return SetupFinding(
            "extension",
            "error",
            "not created in this database",
            why,
            f"as a superuser: `CREATE EXTENSION pg_stat_statements;`, or run {INSTALL}",
            None,
        )
    if parse_version(str(installed)) < parse_version(str(default)):
        return SetupFinding(
            "extension",
            "warning",
            f"{installed} (this server ships {default})",
            why + "; an old version lacks newer columns",
            "`ALTER EXTENSION pg_stat_statements UPDATE;` (if pgstatkit's views are "
            "installed: uninstall them first and install again afterwards)",
            False,
        )
    return SetupFinding("extension", "ok", str(installed), why, None, None)


def _views(schema: str, installed: object, meta: Row | None) -> SetupFinding:
    why = "pgstatkit's helper views are built for one pg_stat_statements version"
    if meta is None:
        return SetupFinding(
            "views",
            "info",
            f"not installed in schema {schema!r}",
            why + " (optional: for SQL over pg_stat_statements without Python)",
            f"to have them, run {INSTALL}",
            None,
        )
    built = str(meta["pgss_version"])
    if installed is not None and built != str(installed):
        return SetupFinding(
            "views",
            "warning",
            f"built for pg_stat_statements {built}, installed is {installed}",
            why,
            f"run {INSTALL} again to rebuild them",
            None,
        )
    return SetupFinding("views", "ok", f"built for pg_stat_statements {built}", why, None, None)


def _pgss_settings(settings: Mapping[str, Setting]) -> list[SetupFinding]:
    """The findings on pg_stat_statements' own settings (they exist when it is loaded)."""
    found: list[SetupFinding] = []
    if "pg_stat_statements.track" in settings:
        track = settings["pg_stat_statements.track"][0]
        found.append(
            _setting_finding(
                "pg_stat_statements.track",
                settings,
                track in ("top", "all"),
                "error",
                "'none' records nothing; 'top' records statements sent by clients, "
                "'all' also those run inside functions",
                "all",
            )
        )
        size = int(settings["pg_stat_statements.max"][0])
        found.append(
            _setting_finding(
                "pg_stat_statements.max",
                settings,
                size >= RECOMMENDED_MAX,
                "warning",
                "the number of distinct statements kept; when full, the least used are "
                "evicted and their statistics lost",
                str(RECOMMENDED_MAX),
            )
        )
        found.append(
            _setting_finding(
                "pg_stat_statements.track_planning",
                settings,
                settings["pg_stat_statements.track_planning"][0] == "on",
                "info",
                "without it plan times and plan counts are 0 (it adds a little overhead "
                "on very busy servers)",
                "on",
            )
        )
    return found


def _setting_findings(settings: Mapping[str, Setting]) -> list[SetupFinding]:
    """The findings on the settings besides ``shared_preload_libraries``, in report order."""
    return [*_pgss_settings(settings), *_server_settings(settings)]


def _server_settings(settings: Mapping[str, Setting]) -> list[SetupFinding]:
    """``track_io_timing``, ``compute_query_id`` (14+), ``log_min_duration_statement``,
    ``log_line_prefix``."""
    found: list[SetupFinding] = []
    found.append(
        _setting_finding(
            "track_io_timing",
            settings,
            settings["track_io_timing"][0] == "on",
            "warning",
            "without it the block read/write times are 0, so I/O-bound statements look CPU-bound",
            "on",
        )
    )
    if "compute_query_id" in settings:
        found.append(
            _setting_finding(
                "compute_query_id",
                settings,
                settings["compute_query_id"][0] != "off",
                "error",
                "pg_stat_statements needs query identifiers; 'off' disables it",
                "auto",
            )
        )
    log_ms = int(settings["log_min_duration_statement"][0])
    found.append(
        _setting_finding(
            "log_min_duration_statement",
            settings,
            0 <= log_ms <= RECOMMENDED_LOG_MS,
            "info",
            "logs each slow statement with its real parameters, which pg_stat_statements "
            "normalizes away",
            f"{RECOMMENDED_LOG_MS}ms",
        )
    )
    if "log_line_prefix" in settings:
        found.append(_log_line_prefix(settings))
    return found


def _log_line_prefix(settings: Mapping[str, Setting]) -> SetupFinding:
    prefix = settings["log_line_prefix"][0]
    missing = [
        label
        for label, codes in (
            ("time", ("%m", "%t", "%n")),
            ("user", ("%u",)),
            ("database", ("%d",)),
            ("client", ("%h", "%r")),
        )
        if not any(code in prefix for code in codes)
    ]
    finding = _setting_finding(
        "log_line_prefix",
        settings,
        not missing,
        "info",
        "slow-statement log lines are useful only with the time, user, database and "
        "client they came from",
        RECOMMENDED_PREFIX,
    )
    if not missing:
        return finding
    return SetupFinding(
        finding.check,
        finding.severity,
        f"{prefix!r} (no {', '.join(missing)})",
        finding.why,
        finding.fix,
        finding.restart_required,
        finding.recommended,
    )


EVICTIONS_WHY = "evicted statements lose their statistics (pg_stat_statements_info.dealloc)"


def _evictions_unknown(version: tuple[int, ...] | None, loaded: bool) -> SetupFinding | None:
    """The evictions finding when they cannot be counted (and what would let them be)."""
    if not loaded:
        found, fix = (
            "unknown: pg_stat_statements is not loaded",
            "load it: see shared_preload_libraries",
        )
    elif version is None:
        found, fix = "unknown: the extension is not created", "create it: see extension"
    elif version < (1, 9):
        found = "unknown: pg_stat_statements_info needs extension version 1.9+"
        fix = "`ALTER EXTENSION pg_stat_statements UPDATE;` (see extension)"
    else:
        return None
    return SetupFinding("evictions", "info", found, EVICTIONS_WHY, fix, None)


def _read_all_stats(state: Row) -> SetupFinding:
    why = "without pg_read_all_stats, other roles' statement texts show as NULL"
    role = str(state["role"])
    if state["read_all_stats"]:
        return SetupFinding("read_all_stats", "ok", f"{role} may", why, None, None)
    return SetupFinding(
        "read_all_stats",
        "warning",
        f"{role} is not a member of pg_read_all_stats",
        why,
        f"`GRANT pg_read_all_stats TO {_sql.quote_ident(role)};` (or pg_monitor)",
        None,
    )


def _evictions(state: Row, settings: Mapping[str, Setting]) -> Steps[SetupFinding]:
    installed = state["installed"]
    version = parse_version(str(installed)) if installed is not None else None
    unknown = _evictions_unknown(version, "pg_stat_statements.max" in settings)
    if unknown is not None:
        return unknown
    info = f"{_sql.quote_ident(str(state['pgss_schema']))}.pg_stat_statements_info"
    dealloc = int(str(_named((yield Query(f"SELECT dealloc FROM {info}")))[0]["dealloc"]))
    if dealloc == 0:
        return SetupFinding("evictions", "ok", "0", EVICTIONS_WHY, None, None)
    size = int(settings["pg_stat_statements.max"][0])
    return SetupFinding(
        "evictions",
        "warning",
        f"{dealloc} evictions since the last reset",
        EVICTIONS_WHY,
        _alter("pg_stat_statements.max", str(max(RECOMMENDED_MAX, 2 * size)), "postmaster"),
        True,
    )


def check_setup(
    *, schema: object = "pgstatkit", timeout_ms: object = None
) -> Operation[SetupReport]:
    """The check_setup operation; see :func:`pgstatkit.stats.check_setup`."""
    name = schema_name(schema)

    def steps(ctx: Context) -> Steps[SetupReport]:
        rows = _named((yield Query(_SETTINGS_SQL, (list(SETTINGS),))))
        settings: dict[str, Setting] = {
            str(r["name"]): (
                str(r["setting"]),
                None if r["unit"] is None else str(r["unit"]),
                str(r["context"]),
            )
            for r in rows
        }
        state = _named((yield Query(_state_sql(), (name, META_TABLE))))[0]
        meta = None
        if state["meta_exists"]:
            read = f"SELECT pgss_version FROM {_sql.quote_ident(name)}.{META_TABLE}"
            meta = next(iter(_named((yield Query(read)))), None)
        findings = [_preload(settings), _extension(state)]
        findings.append(_views(name, state["installed"], meta))
        findings += _setting_findings(settings)
        findings.append(_read_all_stats(state))
        findings.append((yield from _evictions(state, settings)))
        return SetupReport(tuple(findings))

    return Operation("check_setup", steps, _validate.timeout_ms(timeout_ms))

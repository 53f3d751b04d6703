"""``install`` / ``uninstall``: apply the plans of ``sql/queries/install.sql``.

What install and uninstall do is decided by the server, from its catalog, in the SQL
files (``sql/``): the ``*_plan`` queries of ``sql/queries/install.sql`` return the
statements to run, in order, or the refusal. This module only applies them, as
top-level statements (each carries pgstatkit's marker, :mod:`pgstatkit._own`), in the
operation's one transaction serialised on an advisory lock; the ``DO`` block of
``sql/plpgsql/apply.sql`` (``sql/install.sql``, :mod:`pgstatkit.migrations`) applies
the same plans without Python. Python does not run that ``DO`` block itself: with
``pg_stat_statements.track = all`` every PL/pgSQL expression becomes an entry of
pgstatkit's role that no marker can reach.

What install makes:

- ``CREATE EXTENSION pg_stat_statements`` in schema ``public`` (or the helper schema when
  there is no ``public``), only if it is not created yet;
- the helper schema, only if it does not exist;
- the migrations ``sql/schema/NNNN_*.sql`` newer than the schema version recorded in
  ``<schema>.pgstatkit_meta`` (all of them on a new install), in order, each once; the
  record (``schema_version``, ``created_extension``, ``created_schema``,
  ``pgss_version``) is written after them;
- the views ``slow_queries``, ``top_queries_by_total_time`` and
  ``queries_with_low_cache_hit``, rebuilt every time from ``sql/schema/views.sql``
  (generated from :func:`pgstatkit._columns.projection` by ``tools/gen_sql.py``) for the
  installed extension version.

Ownership. Every object install creates carries :data:`MARKER` as its ``COMMENT``. A
relation in the schema with one of pgstatkit's names but without the marker (or of
another kind) is not pgstatkit's: install refuses, naming it and changing nothing, and
uninstall leaves it alone. A comment, rather than OIDs recorded in ``pgstatkit_meta``,
because it survives ``pg_dump`` / restore and ``pg_upgrade`` (OIDs do not) and needs no
privilege beyond owning the object. Objects of schema version 1 (before the marker) are
recognised by an uncommented ``pgstatkit_meta`` with version 1's exact columns; the
next install applies migration 2, which marks them.

Grants. ``CREATE OR REPLACE VIEW`` keeps a view's grants when its columns are unchanged
(also across extension versions: the projection's columns and types are the same for
every version); when they changed it fails (SQLSTATE 42P16), and the plan
``rebuild_view`` drops and re-creates the view and grants again what it had (the owner
as grantor). ``grant_select_to`` grants ``SELECT`` on the views and ``USAGE`` on the
schema to the given roles.

Uninstall drops pgstatkit's views and ``pgstatkit_meta``; the extension only if install
created it and nothing else depends on it; the schema only if install created it and it
is empty. Everything is ``RESTRICT`` (never ``CASCADE``) inside a savepoint, classified by
SQLSTATE 2BP01 (dependent_objects_still_exist): objects of the user that depend on the
views make uninstall refuse, naming them (from ``pg_depend``); the extension or schema is
just kept.

Views over ``pg_stat_statements`` block ``ALTER EXTENSION pg_stat_statements UPDATE``
(its upgrade scripts drop and re-create the view). The procedure: ``uninstall``, then
``ALTER EXTENSION pg_stat_statements UPDATE``, then ``install`` (with ``grant_select_to``
to grant again: uninstall dropped the views and their grants).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pgstatkit import _sql, _validate
from pgstatkit._columns import Version
from pgstatkit._protocol import Context, Operation, Query, Result, ServerError, Steps
from pgstatkit.errors import (
    ExtensionTooOldError,
    InstallRefusedError,
    InvalidArgumentError,
    PgStatKitError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "LOCK_KEY",
    "MARKER",
    "META_TABLE",
    "SCHEMA_VERSION",
    "VIEWS",
    "Migration",
    "install",
    "load_migrations",
    "role_names",
    "schema_name",
    "uninstall",
    "view_definitions",
]

SCHEMA_VERSION = 4
"""The newest migration in ``sql/schema/`` (a unit test keeps them equal).

1: the record, ``pgstatkit_meta``. 2: it carries :data:`MARKER`, as every object does.
3: the tables of :mod:`pgstatkit.history` (:data:`HISTORY_TABLES`). 4: its hourly
roll-ups (``history_statements_hourly``, ``history_targets.rolled_up_until``)."""

LOCK_KEY = 0x70677374_6B697401
"""``pg_advisory_xact_lock`` key serialising install and uninstall (b'pgstkit\\x01')."""

META_TABLE = "pgstatkit_meta"

HISTORY_TABLES: dict[str, str] = {
    "history_targets": "r",
    "history_snapshots": "r",
    "history_statements": "p",
    "history_state": "r",
    "history_texts": "r",
    "history_names": "r",
    "history_databases": "r",
    "history_statements_hourly": "r",
}
"""The tables of schema versions 3 and 4 (``sql/schema/0003_history.sql``,
``0004_history_rollups.sql``) -> their relkind
(``p``: partitioned; its partitions go with it)."""

TABLES: tuple[str, ...] = (META_TABLE, *HISTORY_TABLES)
"""pgstatkit's tables (uninstall drops them with ``DROP TABLE``, the rest are views)."""

MARKER = "pgstatkit: created by pgstatkit install, dropped by pgstatkit uninstall"
"""The ``COMMENT`` on every object install creates: how pgstatkit knows its own."""

SLOW_THRESHOLD_MS = 1000.0
LOW_CACHE_HIT_RATIO = 0.9

VIEWS: dict[str, str] = {
    "slow_queries": (
        f"WHERE s.mean_exec_time_ms >= {SLOW_THRESHOLD_MS}\n"
        "ORDER BY s.mean_exec_time_ms DESC, s.calls DESC"
    ),
    "top_queries_by_total_time": "ORDER BY s.total_exec_time_ms DESC, s.calls DESC",
    "queries_with_low_cache_hit": (
        f"WHERE s.cache_hit_ratio IS NOT NULL AND s.cache_hit_ratio < {LOW_CACHE_HIT_RATIO}\n"
        "ORDER BY s.cache_hit_ratio ASC, s.shared_blks_read DESC"
    ),
}
"""The helper views: name -> filter and order over the normalized projection (what
``tools/gen_sql.py`` writes into ``sql/schema/views.sql``)."""

PGSS_SCHEMA_TOKEN = "@pgss_schema@"  # noqa: S105 - not a password
"""Stands for the extension's schema (quoted) in ``sql/schema/views.sql``; ``@schema@``
stands for the helper schema in the migrations (both replaced by the plan)."""

DEPENDENT_OBJECTS_STILL_EXIST = "2BP01"
INVALID_TABLE_DEFINITION = "42P16"

REFUSALS: dict[str, type[PgStatKitError]] = {
    "42710": InstallRefusedError,  # duplicate_object: an object that is not pgstatkit's
    "42704": InstallRefusedError,  # undefined_object: a role of grant_select_to
    DEPENDENT_OBJECTS_STILL_EXIST: InstallRefusedError,
    "55000": ExtensionTooOldError,  # object_not_in_prerequisite_state: before 1.8
    "0A000": PgStatKitError,  # feature_not_supported: a newer pgstatkit's schema version
}
"""The SQLSTATE of each refusal a plan returns (the ``DO`` block raises it) -> the error."""


def _identifier(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a str, got {type(value).__name__}")
    if not value:
        raise InvalidArgumentError(f"{what} must not be empty")
    if "\x00" in value:
        raise InvalidArgumentError(f"{what} must not contain NUL characters")
    if len(value.encode("utf-8")) > 63:
        raise InvalidArgumentError(
            f"{what} must be at most 63 bytes (PostgreSQL's identifier limit), got {value!r}"
        )
    return value


def schema_name(value: object) -> str:
    """A schema name pgstatkit may create: 1-63 bytes, no NUL, not ``pg_``-prefixed."""
    name = _identifier("schema", value)
    if name.lower().startswith("pg_"):
        raise InvalidArgumentError(
            f"schema must not start with 'pg_' (reserved for system schemas), got {name!r}"
        )
    return name


def role_name(value: object) -> str:
    """A role to grant to: 1-63 bytes, no NUL; exactly ``public`` means ``PUBLIC``."""
    return _identifier("a role name in grant_select_to", value)


def role_names(value: object) -> tuple[str, ...]:
    """``grant_select_to``: a list or tuple of role names, duplicates dropped, in order."""
    if not isinstance(value, list | tuple):
        raise InvalidArgumentError(
            f"grant_select_to must be a list or tuple of role names, got {type(value).__name__}"
        )
    return tuple(dict.fromkeys(role_name(v) for v in value))


def grantee_sql(role: str) -> str:
    """``role`` as a GRANT target: the quoted name, or ``PUBLIC`` for ``public``."""
    return "PUBLIC" if role == "public" else _sql.quote_ident(role)


def qualified(schema: str, name: str) -> str:
    return f"{_sql.quote_ident(schema)}.{_sql.quote_ident(name)}"


def grant_statements(schema: str, roles: Sequence[str]) -> list[str]:
    """``USAGE`` on the schema and ``SELECT`` on the views for ``roles`` (may be empty):
    the statements of the plan ``grant_plan``, written out for a migration."""
    if not roles:
        return []
    to = ", ".join(grantee_sql(r) for r in roles)
    views = ", ".join(qualified(schema, v) for v in VIEWS)
    return [
        f"GRANT USAGE ON SCHEMA {_sql.quote_ident(schema)} TO {to}",
        f"GRANT SELECT ON {views} TO {to}",
    ]


# ----------------------------------------------------------------------- the SQL files


@dataclass(frozen=True, slots=True)
class Migration:
    """One file ``sql/schema/NNNN_name.sql``: schema version ``NNNN``, its statements."""

    version: int
    name: str
    statements: tuple[str, ...]


_MIGRATION_FILE = re.compile(r"([0-9]{4})_([a-z0-9_]+)\.sql")
_STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)


def split_statements(text: str) -> tuple[str, ...]:
    """The statements of a migration: whole-line comments dropped, each ending with
    ``;`` at the end of a line (no dollar-quoted bodies in migrations)."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    parts = _STATEMENT_END.split("\n".join(lines))
    return tuple(part.strip() for part in parts if part.strip())


def load_migrations(directory: Path | None = None) -> tuple[Migration, ...]:
    """The migrations in ``directory`` (default: pgstatkit's ``sql/schema``), in order.

    Raises:
        RuntimeError: the versions are not 1, 2, 3... without a gap (a broken package).
    """
    return _migrations(str(directory) if directory is not None else None)


@functools.cache
def _migrations(directory: str | None) -> tuple[Migration, ...]:
    from pathlib import Path  # on first use, as in pgstatkit._sql

    folder = Path(directory) if directory is not None else _sql.root() / "schema"
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _MIGRATION_FILE.fullmatch(path.name)
        if match is not None:
            text = path.read_text(encoding="utf-8")
            found.append(Migration(int(match.group(1)), match.group(2), split_statements(text)))
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"the migrations in {folder} are not numbered 0001, 0002, ...")
    return tuple(found)


_DEFINITION = re.compile(r"([a-z_]+)_([0-9]+)_([0-9]+)")


@functools.cache
def definitions() -> tuple[tuple[str, str, str], ...]:
    """``sql/schema/views.sql``: (pg_stat_statements version, view, ``SELECT``), in order;
    the extension's schema is :data:`PGSS_SCHEMA_TOKEN`."""
    found = []
    for block, sql in _sql.blocks("schema/views.sql").items():
        match = _DEFINITION.fullmatch(block)
        if match is None or match.group(1) not in VIEWS:
            raise RuntimeError(f"unexpected block {block!r} in sql/schema/views.sql")
        found.append((f"{match.group(2)}.{match.group(3)}", match.group(1), sql))
    return tuple(found)


def view_definitions(version: Version, pgss_schema: str) -> dict[str, str]:
    """view name -> its ``SELECT`` for extension ``version``: the definitions of the newest
    version in ``sql/schema/views.sql`` not newer than it, as the plan chooses them."""
    usable = [d for d in definitions() if tuple(map(int, d[0].split("."))) <= version]
    newest = max((tuple(map(int, d[0].split("."))) for d in usable), default=None)
    schema = _sql.quote_ident(pgss_schema)
    return {
        view: sql.replace(PGSS_SCHEMA_TOKEN, schema)
        for text_version, view, sql in usable
        if tuple(map(int, text_version.split("."))) == newest
    }


def _block(name: str) -> str:
    """A block of ``sql/queries/install.sql`` without its comment lines (it is embedded)."""
    lines = _sql.load("install.sql", name).splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("--"))


def objects_sql(schema: str) -> str:
    """The ``objects`` query; ``schema`` is an SQL expression (``$1::text``, a variable)."""
    wanted = [(META_TABLE, "r"), *HISTORY_TABLES.items(), *((v, "v") for v in VIEWS)]
    values = ", ".join(f"({_sql.quote_literal(n)}, {_sql.quote_literal(k)})" for n, k in wanted)
    return _sql.render(
        _block("objects"),
        wanted=f"VALUES {values}",
        schema=schema,
        marker=_sql.quote_literal(MARKER),
    )


def dependents_sql(schema: str, views: str) -> str:
    """The ``dependents`` query; both arguments are SQL expressions."""
    return _sql.render(_block("dependents"), schema=schema, views=views)


def missing_roles_sql(roles: str) -> str:
    """The ``missing_roles`` query; ``roles`` is an SQL ``text[]`` expression."""
    return _sql.render(_block("missing_roles"), roles=roles)


PLANS = (
    "read_meta",
    "install_plan",
    "grant_plan",
    "rebuild_view",
    "uninstall_plan",
)


@functools.cache
def plan_sql(name: str) -> str:
    """A plan of ``sql/queries/install.sql`` (:data:`PLANS`), its markers filled."""
    sql = _block(name)
    views = "ARRAY[$2::text]" if name == "rebuild_view" else "s.mine"  # whose dependents
    fragments = {
        "objects": objects_sql("$1::text"),
        "missing_roles": missing_roles_sql("$2::text[]"),
        "dependents": dependents_sql("$1::text", views),
        "marker": _sql.quote_literal(MARKER),
        "tables": "ARRAY[" + ", ".join(_sql.quote_literal(t) for t in TABLES) + "]",
    }
    return _sql.render(sql, **{k: v for k, v in fragments.items() if "{{" + k + "}}" in sql})


Recorded = tuple[int, bool | None, bool | None]
"""``pgstatkit_meta``'s schema_version, created_extension, created_schema."""


def install_arguments(
    schema: str,
    roles: Sequence[str],
    recorded: Recorded | None,
    applied: Sequence[Migration],
    views: Sequence[tuple[str, str, str]],
) -> tuple[object, ...]:
    """The parameters of ``install_plan`` ($1-$10, in order)."""
    version, created_extension, created_schema = recorded or (None, None, None)
    statements = [(m.version, s) for m in applied for s in m.statements]
    return (
        schema,
        list(roles),
        version,
        created_extension,
        created_schema,
        [str(v) for v, _ in statements],
        [s for _, s in statements],
        [d[0] for d in views],
        [d[1] for d in views],
        [d[2] for d in views],
    )


# ----------------------------------------------------------------------- applying plans


def _lock() -> Query:
    return Query("SELECT pg_catalog.pg_advisory_xact_lock($1::int8)", (LOCK_KEY,))


def _named(result: Result) -> list[dict[str, object]]:
    """The rows of ``result`` as column name -> value."""
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def _sequence(value: object) -> Sequence[object]:
    """A ``text[]`` value as the driver returns it (a list)."""
    if not isinstance(value, list | tuple):
        raise TypeError(f"expected an array, got {type(value).__name__}")
    return value


def _try(sql: str, sqlstate: str) -> Steps[bool]:
    """Run ``sql`` in a savepoint; False (and rolled back) if it fails with ``sqlstate``.

    Classified by SQLSTATE, never by message text: servers speak other languages.
    """
    yield Query("SAVEPOINT pgstatkit_try")
    try:
        yield Query(sql)
    except ServerError as exc:
        if exc.sqlstate != sqlstate:
            raise
        yield Query("ROLLBACK TO SAVEPOINT pgstatkit_try")
        return False
    yield Query("RELEASE SAVEPOINT pgstatkit_try")
    return True


def _try_drop(sql: str) -> Steps[bool]:
    """Run ``sql`` (a RESTRICT drop) in a savepoint; False if dependents refused it."""
    return (yield from _try(sql, DEPENDENT_OBJECTS_STILL_EXIST))


def _apply(schema: str, rows: list[dict[str, object]]) -> Steps[None]:
    """Run the rows of a plan (see ``sql/queries/install.sql`` for the actions).

    Raises:
        InstallRefusedError, ExtensionTooOldError, PgStatKitError: a refusal
            (:data:`REFUSALS`); nothing is kept (the operation rolls back).
    """
    for row in rows:
        action, sql = row["action"], str(row["sql"])
        if action == "refuse":
            raise REFUSALS.get(str(row["alt"]), PgStatKitError)(sql)
        if action == "run":
            yield Query(sql)
        elif action == "try_drop":
            yield from _try_drop(sql)
        elif not (yield from _try(sql, INVALID_TABLE_DEFINITION)):  # a view, columns changed
            view = str(_sequence(row["names"])[0])
            rebuild = yield Query(plan_sql("rebuild_view"), (schema, view, row["alt"]))
            yield from _apply(schema, _named(rebuild))


def _recorded(schema: str) -> Steps[Recorded | None]:
    """pgstatkit's record in ``schema`` (plan ``read_meta``), or None without one."""
    reads = _named((yield Query(plan_sql("read_meta"), (schema,))))
    if not reads:
        return None
    row = _named((yield Query(str(reads[0]["sql"]))))[0]
    made_extension, made_schema = row["created_extension"], row["created_schema"]
    return (
        int(str(row["schema_version"])),
        None if made_extension is None else bool(made_extension),
        None if made_schema is None else bool(made_schema),
    )


def install(
    schema: object = "pgstatkit",
    *,
    grant_select_to: object = (),
    timeout_ms: object = None,
    migrations: Sequence[Migration] | None = None,
) -> Operation[None]:
    """The install operation; see the module docstring.

    ``migrations`` (tests): the migrations to apply instead of pgstatkit's own.
    """
    name = schema_name(schema)
    roles = role_names(grant_select_to)
    applied = tuple(migrations) if migrations is not None else load_migrations()

    def steps(ctx: Context) -> Steps[None]:
        yield _lock()
        recorded = yield from _recorded(name)
        arguments = install_arguments(name, roles, recorded, applied, definitions())
        yield from _apply(name, _named((yield Query(plan_sql("install_plan"), arguments))))
        if roles:
            grants = yield Query(plan_sql("grant_plan"), (name, list(roles), list(VIEWS)))
            yield from _apply(name, _named(grants))

    return Operation(
        "install",
        steps,
        _validate.timeout_ms(timeout_ms),
        read_only=False,
        commit=True,
        pin_search_path=True,
    )


def uninstall(
    schema: object = "pgstatkit",
    *,
    timeout_ms: object = None,
    migrations: Sequence[Migration] | None = None,
) -> Operation[None]:
    """The uninstall operation; a no-op when nothing of pgstatkit's is in ``schema``.

    ``migrations`` (tests): the migrations that define the newest schema version known.
    """
    name = schema_name(schema)
    applied = tuple(migrations) if migrations is not None else load_migrations()

    def steps(ctx: Context) -> Steps[None]:
        yield _lock()
        version, made_extension, made_schema = (yield from _recorded(name)) or (None,) * 3
        known = applied[-1].version
        arguments = (name, version, made_extension, made_schema, known)
        yield from _apply(name, _named((yield Query(plan_sql("uninstall_plan"), arguments))))

    return Operation(
        "uninstall",
        steps,
        _validate.timeout_ms(timeout_ms),
        read_only=False,
        commit=True,
        pin_search_path=True,
    )

"""``install`` / ``uninstall``: pgstatkit's helper schema, views and ownership record.

What install makes, in one transaction serialised on an advisory lock:

- ``CREATE EXTENSION pg_stat_statements`` in schema ``public`` (or the helper schema when
  there is no ``public``), only if it is not created yet;
- the helper schema, only if it does not exist;
- ``<schema>.pgstatkit_meta``: one row recording what install created
  (``created_extension``, ``created_schema``), the ``schema_version`` of the objects and
  the ``pg_stat_statements`` version the views were built for;
- the views ``slow_queries``, ``top_queries_by_total_time`` and
  ``queries_with_low_cache_hit`` over the current database, built from
  :func:`pgstatkit._columns.projection` for the installed extension version.

Ownership. Every object install makes carries :data:`MARKER` as its ``COMMENT``. A
relation in the schema with one of pgstatkit's names but without the marker (or of
another kind) is not pgstatkit's: install refuses, naming it and changing nothing, and
uninstall leaves it alone. A comment, rather than OIDs recorded in ``pgstatkit_meta``,
because it survives ``pg_dump`` / restore and ``pg_upgrade`` (OIDs do not), needs no
privilege beyond owning the object, and is read the same way by the migration ``DO``
blocks; ``pg_depend`` can only record such ownership for an extension. Objects of
schema version 1 (before the marker) are recognised by an uncommented ``pgstatkit_meta``
with version 1's exact columns, and get the marker on the next install.

Grants. A re-install keeps the views' grants: ``CREATE OR REPLACE VIEW`` keeps them when
the columns are unchanged (also across extension versions: the projection's columns and
types are the same for every version); when the columns changed it fails (SQLSTATE
42P16), and install reads the view's ACL, drops and re-creates it and grants the same
privileges again (the owner as grantor). ``grant_select_to`` grants ``SELECT`` on the
views and ``USAGE`` on the schema to the given roles.

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

from collections.abc import Sequence

from pgstatkit import _sql, _validate
from pgstatkit._columns import MIN_VERSION, Version, parse_version, projection
from pgstatkit._protocol import Context, Operation, Query, ServerError, Steps
from pgstatkit.errors import (
    ExtensionTooOldError,
    InstallRefusedError,
    InvalidArgumentError,
    PgStatKitError,
)

__all__ = [
    "LOCK_KEY",
    "MARKER",
    "META_TABLE",
    "SCHEMA_VERSION",
    "VIEWS",
    "install",
    "role_names",
    "schema_name",
    "uninstall",
    "view_definitions",
]

SCHEMA_VERSION = 2
"""Version of the objects install creates; a later pgstatkit upgrades older ones.

1: the first. 2: every object carries :data:`MARKER` as its comment."""

LOCK_KEY = 0x70677374_6B697401
"""``pg_advisory_xact_lock`` key serialising install and uninstall (b'pgstkit\\x01')."""

META_TABLE = "pgstatkit_meta"

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
"""The helper views: name -> filter and order over the normalized projection."""

DEPENDENT_OBJECTS_STILL_EXIST = "2BP01"
INVALID_TABLE_DEFINITION = "42P16"

# Messages, shared with the migration DO blocks (PL/pgSQL format(): each %s one value).
FOREIGN_OBJECTS = (
    "install refused, nothing changed: pgstatkit did not create %s (no pgstatkit "
    "ownership comment) and never replaces or drops what it did not create: install "
    "into another schema, or drop or rename it"
)
MISSING_ROLES = (
    "install refused, nothing changed: cannot grant SELECT to %s: no such role; "
    "create it first (CREATE ROLE), or correct the name"
)
DEPENDENTS = (
    "uninstall refused, nothing changed: other objects depend on pgstatkit's objects "
    "(%s), and pgstatkit never drops with CASCADE: drop them first, or keep pgstatkit "
    "installed"
)
REBUILD_DEPENDENTS = (
    "install refused, nothing changed: view %s must be re-created because its columns "
    "changed, but other objects depend on it (%s): drop them, run install, then create "
    "them again"
)

# What aclexplode() reports and GRANT takes on a view (MAINTAIN: PostgreSQL 17+).
_PRIVILEGES = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"}
)


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


def view_definitions(version: Version, pgss_schema: str) -> dict[str, str]:
    """view name -> its ``SELECT`` over the projection for ``version``."""
    source = projection(version, pgss_schema)
    return {name: f"SELECT s.*\nFROM {source} AS s\n{tail}" for name, tail in VIEWS.items()}


def grant_statements(schema: str, roles: Sequence[str]) -> list[str]:
    """``USAGE`` on the schema and ``SELECT`` on the views for ``roles`` (may be empty)."""
    if not roles:
        return []
    to = ", ".join(grantee_sql(r) for r in roles)
    views = ", ".join(qualified(schema, v) for v in VIEWS)
    return [
        f"GRANT USAGE ON SCHEMA {_sql.quote_ident(schema)} TO {to}",
        f"GRANT SELECT ON {views} TO {to}",
    ]


def regrant_statements(view: str, grants: Sequence[Sequence[object]]) -> list[str]:
    """GRANTs re-applying rows of the ``view_grants`` query to the quoted ``view``."""
    statements = []
    for privilege, to_public, grantee, grantable in grants:
        if str(privilege) not in _PRIVILEGES:  # never SQL from the catalog unchecked
            continue
        target = "PUBLIC" if to_public else _sql.quote_ident(str(grantee))
        option = " WITH GRANT OPTION" if grantable else ""
        statements.append(f"GRANT {privilege} ON {view} TO {target}{option}")
    return statements


def meta_statements(schema: str) -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` of the ownership record, and its marker comment."""
    q = _sql.quote_ident(schema)
    return [
        f"CREATE TABLE IF NOT EXISTS {q}.{META_TABLE} (\n"
        "    id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),\n"
        "    schema_version int NOT NULL,\n"
        "    created_extension bool NOT NULL,\n"
        "    created_schema bool NOT NULL,\n"
        "    pgss_version text NOT NULL,\n"
        "    installed_at timestamptz NOT NULL DEFAULT pg_catalog.now()\n"
        ")",
        f"COMMENT ON TABLE {q}.{META_TABLE} IS {_sql.quote_literal(MARKER)}",
    ]


def upsert_meta(schema: str) -> str:
    """Write the ownership row: $1 schema_version, $2/$3 created flags, $4 pgss version."""
    q = _sql.quote_ident(schema)
    return (
        f"INSERT INTO {q}.{META_TABLE}"
        " (id, schema_version, created_extension, created_schema, pgss_version)"
        " VALUES (1, $1::int4, $2::bool, $3::bool, $4::text)"
        " ON CONFLICT (id) DO UPDATE SET schema_version = EXCLUDED.schema_version,"
        " created_extension = EXCLUDED.created_extension,"
        " created_schema = EXCLUDED.created_schema,"
        " pgss_version = EXCLUDED.pgss_version, installed_at = pg_catalog.now()"
    )


# ----------------------------------------------------------------------- catalog SQL


def _block(name: str) -> str:
    """A block of ``sql/install.sql`` without its comment lines (it is embedded)."""
    lines = _sql.load("install.sql", name).splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("--"))


def objects_sql(schema: str) -> str:
    """The ``objects`` query; ``schema`` is an SQL expression (``$1::text``, a variable)."""
    wanted = [(META_TABLE, "r"), *((v, "v") for v in VIEWS)]
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


_STATE = """SELECT e.extversion AS pgss_version,
       en.nspname AS pgss_schema,
       EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1::text) AS schema_exists,
       EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'public') AS public_exists
FROM (VALUES (1)) AS one (x)
LEFT JOIN pg_catalog.pg_extension AS e ON e.extname = 'pg_stat_statements'
LEFT JOIN pg_catalog.pg_namespace AS en ON en.oid = e.extnamespace"""


def _lock() -> Query:
    return Query("SELECT pg_catalog.pg_advisory_xact_lock($1::int8)", (LOCK_KEY,))


def _read_meta(schema: str) -> Query:
    return Query(
        "SELECT schema_version, created_extension, created_schema, pgss_version"
        f" FROM {_sql.quote_ident(schema)}.{META_TABLE} WHERE id = 1"
    )


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


def _owned(schema: str) -> Steps[tuple[set[str], list[str]]]:
    """pgstatkit's own relations in ``schema`` (names), and the others' labels."""
    rows = (yield Query(objects_sql("$1::text"), (schema,))).rows
    owned = {str(r[0]) for r in rows if r[2]}
    return owned, [str(r[1]) for r in rows if not r[2]]


def _dependents(schema: str, views: Sequence[str]) -> Steps[str]:
    rows = (yield Query(dependents_sql("$1::text", "$2::text[]"), (schema, list(views)))).rows
    return ", ".join(str(r[0]) for r in rows)


def _refuse_conflicts(schema: str, exists: bool, roles: Sequence[str]) -> Steps[set[str]]:
    """pgstatkit's own relations in ``schema``; refuses foreign ones and unknown roles."""
    owned, foreign = (yield from _owned(schema)) if exists else (set(), [])
    if foreign:
        raise InstallRefusedError(FOREIGN_OBJECTS % ", ".join(foreign))
    if roles:
        rows = (yield Query(missing_roles_sql("$1::text[]"), (list(roles),))).rows
        if rows:
            names = ", ".join(_sql.quote_ident(str(r[0])) for r in rows)
            raise InstallRefusedError(MISSING_ROLES % names)
    return owned


def _recorded(schema: str, owned: set[str]) -> Steps[tuple[bool, bool] | None]:
    """The created flags of pgstatkit's record in ``schema``, or None without one."""
    if META_TABLE not in owned:
        return None
    rows = (yield _read_meta(schema)).rows
    if not rows:
        return None
    if int(str(rows[0][0])) > SCHEMA_VERSION:
        raise PgStatKitError(
            f"schema {schema!r} was installed by a newer pgstatkit (schema version "
            f"{rows[0][0]}, this one knows {SCHEMA_VERSION}): upgrade pgstatkit"
        )
    return bool(rows[0][1]), bool(rows[0][2])


def _build_view(schema: str, name: str, definition: str) -> Steps[None]:
    """``CREATE OR REPLACE`` the view (grants kept); if its columns changed, re-create
    it and grant again what it had. Then mark it as pgstatkit's."""
    view = qualified(schema, name)
    sql = f"CREATE OR REPLACE VIEW {view} AS\n{definition}"
    if not (yield from _try(sql, INVALID_TABLE_DEFINITION)):
        grants = (yield Query(_block("view_grants"), (schema, name))).rows
        if not (yield from _try_drop(f"DROP VIEW {view} RESTRICT")):
            found = yield from _dependents(schema, [name])
            raise InstallRefusedError(REBUILD_DEPENDENTS % (view, found))
        yield Query(f"CREATE VIEW {view} AS\n{definition}")
        for grant in regrant_statements(view, grants):
            yield Query(grant)
    yield Query(f"COMMENT ON VIEW {view} IS {_sql.quote_literal(MARKER)}")


def install(
    schema: object = "pgstatkit", *, grant_select_to: object = (), timeout_ms: object = None
) -> Operation[None]:
    """The install operation; see the module docstring."""
    name = schema_name(schema)
    roles = role_names(grant_select_to)
    q = _sql.quote_ident(name)

    def steps(ctx: Context) -> Steps[None]:
        yield _lock()
        pgss_version, pgss_schema, schema_exists, public_exists = (
            yield Query(_STATE, (name,))
        ).rows[0]
        owned = yield from _refuse_conflicts(name, bool(schema_exists), roles)
        recorded = yield from _recorded(name, owned)
        created_extension = recorded[0] if recorded else False
        created_schema = recorded[1] if recorded else not schema_exists
        if not schema_exists:
            yield Query(f"CREATE SCHEMA {q}")
            created_schema = True
        if pgss_version is None:
            target = "public" if public_exists else name
            # A role that may not create it gets InsufficientPrivilegeError from the
            # runner's translate_error, with the superuser hint.
            yield Query(
                "CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA "
                + _sql.quote_ident(target)
            )
            created_extension = True
            pgss_version, pgss_schema = (yield Query(_STATE, (name,))).rows[0][:2]
        version = parse_version(str(pgss_version))
        if version < MIN_VERSION:
            raise ExtensionTooOldError(
                f"pg_stat_statements {pgss_version} is installed; the pgstatkit views need "
                "1.8 (PostgreSQL 13) or later: run `ALTER EXTENSION pg_stat_statements UPDATE;`"
            )
        for sql in meta_statements(name):
            yield Query(sql)
        yield Query(
            upsert_meta(name),
            (SCHEMA_VERSION, created_extension, created_schema, str(pgss_version)),
        )
        for view, definition in view_definitions(version, str(pgss_schema)).items():
            yield from _build_view(name, view, definition)
        for sql in grant_statements(name, roles):
            yield Query(sql)

    return Operation(
        "install",
        steps,
        _validate.timeout_ms(timeout_ms),
        read_only=False,
        commit=True,
        pin_search_path=True,
    )


def uninstall(schema: object = "pgstatkit", *, timeout_ms: object = None) -> Operation[None]:
    """The uninstall operation; a no-op when nothing of pgstatkit's is in ``schema``."""
    name = schema_name(schema)
    q = _sql.quote_ident(name)

    def steps(ctx: Context) -> Steps[None]:
        yield _lock()
        pgss_version, _, schema_exists, _ = (yield Query(_STATE, (name,))).rows[0]
        if not schema_exists:
            return
        owned, _ = yield from _owned(name)
        recorded = yield from _recorded(name, owned)
        mine = [v for v in VIEWS if v in owned]
        drops = [f"DROP VIEW {qualified(name, v)} RESTRICT" for v in mine]
        if META_TABLE in owned:
            mine.append(META_TABLE)
            drops.append(f"DROP TABLE {q}.{META_TABLE} RESTRICT")
        for sql in drops:
            if not (yield from _try_drop(sql)):
                raise InstallRefusedError(DEPENDENTS % (yield from _dependents(name, mine)))
        if recorded is None:
            return
        created_extension, created_schema = recorded
        if created_extension and pgss_version is not None:
            yield from _try_drop("DROP EXTENSION pg_stat_statements RESTRICT")
        if created_schema:
            yield from _try_drop(f"DROP SCHEMA {q} RESTRICT")

    return Operation(
        "uninstall",
        steps,
        _validate.timeout_ms(timeout_ms),
        read_only=False,
        commit=True,
        pin_search_path=True,
    )

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
  :func:`pgstatkit._columns.projection` for the installed extension version. They are
  always dropped and re-created, so re-running install rebuilds them for the extension
  version installed now (and upgrades an older ``schema_version`` in place).

Uninstall drops the views and ``pgstatkit_meta``; the extension only if install created
it and nothing else depends on it; the schema only if install created it and it is
empty. Both use ``RESTRICT`` (never ``CASCADE``) inside a savepoint, so PostgreSQL's own
dependency records (``pg_depend``) decide, and a refusal just keeps the object.

Views over ``pg_stat_statements`` block ``ALTER EXTENSION pg_stat_statements UPDATE``
(its upgrade scripts drop and re-create the view). The procedure: ``uninstall``, then
``ALTER EXTENSION pg_stat_statements UPDATE``, then ``install``.
"""

from __future__ import annotations

from pgstatkit import _sql, _validate
from pgstatkit._columns import MIN_VERSION, Version, parse_version, projection
from pgstatkit._protocol import Context, Operation, Query, Steps
from pgstatkit.errors import (
    ExtensionTooOldError,
    InvalidArgumentError,
    PgStatKitError,
)

__all__ = [
    "LOCK_KEY",
    "META_TABLE",
    "SCHEMA_VERSION",
    "VIEWS",
    "install",
    "schema_name",
    "uninstall",
    "view_statements",
]

SCHEMA_VERSION = 1
"""Version of the objects install creates; a later pgstatkit upgrades older ones."""

LOCK_KEY = 0x70677374_6B697401
"""``pg_advisory_xact_lock`` key serialising install and uninstall (b'pgstkit\\x01')."""

META_TABLE = "pgstatkit_meta"

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


def schema_name(value: object) -> str:
    """A schema name pgstatkit may create: 1-63 bytes, no NUL, not ``pg_``-prefixed."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"schema must be a str, got {type(value).__name__}")
    if not value:
        raise InvalidArgumentError("schema must not be empty")
    if "\x00" in value:
        raise InvalidArgumentError("schema must not contain NUL characters")
    if len(value.encode("utf-8")) > 63:
        raise InvalidArgumentError(
            f"schema must be at most 63 bytes (PostgreSQL's identifier limit), got {value!r}"
        )
    if value.lower().startswith("pg_"):
        raise InvalidArgumentError(
            f"schema must not start with 'pg_' (reserved for system schemas), got {value!r}"
        )
    return value


def view_statements(schema: str, version: Version, pgss_schema: str) -> list[str]:
    """``DROP VIEW IF EXISTS`` + ``CREATE VIEW`` for every helper view."""
    q = _sql.quote_ident(schema)
    source = projection(version, pgss_schema)
    statements = [f"DROP VIEW IF EXISTS {q}.{_sql.quote_ident(name)}" for name in VIEWS]
    for name, tail in VIEWS.items():
        statements.append(
            f"CREATE VIEW {q}.{_sql.quote_ident(name)} AS\nSELECT s.*\nFROM {source} AS s\n{tail}"
        )
    return statements


def meta_statements(schema: str) -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` of the ownership record."""
    q = _sql.quote_ident(schema)
    return [
        f"CREATE TABLE IF NOT EXISTS {q}.{META_TABLE} (\n"
        "    id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),\n"
        "    schema_version int NOT NULL,\n"
        "    created_extension bool NOT NULL,\n"
        "    created_schema bool NOT NULL,\n"
        "    pgss_version text NOT NULL,\n"
        "    installed_at timestamptz NOT NULL DEFAULT pg_catalog.now()\n"
        ")"
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


_STATE = """SELECT e.extversion AS pgss_version,
       en.nspname AS pgss_schema,
       EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1::text) AS schema_exists,
       EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'public') AS public_exists,
       EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c
               JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
               WHERE n.nspname = $1::text AND c.relname = $2::text) AS meta_exists
FROM (VALUES (1)) AS one (x)
LEFT JOIN pg_catalog.pg_extension AS e ON e.extname = 'pg_stat_statements'
LEFT JOIN pg_catalog.pg_namespace AS en ON en.oid = e.extnamespace"""


def _lock() -> Query:
    return Query("SELECT pg_catalog.pg_advisory_xact_lock($1::int8)", (LOCK_KEY,))


def _state(schema: str) -> Query:
    return Query(_STATE, (schema, META_TABLE))


def _read_meta(schema: str) -> Query:
    return Query(
        "SELECT schema_version, created_extension, created_schema, pgss_version"
        f" FROM {_sql.quote_ident(schema)}.{META_TABLE} WHERE id = 1"
    )


def install(schema: object = "pgstatkit", *, timeout_ms: object = None) -> Operation[None]:
    """The install operation; see the module docstring."""
    name = schema_name(schema)
    q = _sql.quote_ident(name)

    def steps(ctx: Context) -> Steps[None]:
        yield _lock()
        state = (yield _state(name)).rows[0]
        pgss_version, pgss_schema, schema_exists, public_exists, meta_exists = state
        meta = None
        if meta_exists:
            rows = (yield _read_meta(name)).rows
            meta = rows[0] if rows else None
            if meta is not None and int(str(meta[0])) > SCHEMA_VERSION:
                raise PgStatKitError(
                    f"schema {name!r} was installed by a newer pgstatkit (schema version "
                    f"{meta[0]}, this one knows {SCHEMA_VERSION}): upgrade pgstatkit"
                )
        created_extension = bool(meta[1]) if meta is not None else False
        created_schema = bool(meta[2]) if meta is not None else not schema_exists
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
            state = (yield _state(name)).rows[0]
            pgss_version, pgss_schema = state[0], state[1]
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
        for sql in view_statements(name, version, str(pgss_schema)):
            yield Query(sql)

    return Operation(
        "install",
        steps,
        _validate.timeout_ms(timeout_ms),
        read_only=False,
        commit=True,
        pin_search_path=True,
    )


def _try_drop(sql: str) -> Steps[bool]:
    """Run ``sql`` (a RESTRICT drop) in a savepoint; False if dependents refused it."""
    yield Query("SAVEPOINT pgstatkit_drop")
    try:
        yield Query(sql)
    except Exception as exc:
        if "depend" not in str(exc).lower():
            raise
        yield Query("ROLLBACK TO SAVEPOINT pgstatkit_drop")
        return False
    yield Query("RELEASE SAVEPOINT pgstatkit_drop")
    return True


def uninstall(schema: object = "pgstatkit", *, timeout_ms: object = None) -> Operation[None]:
    """The uninstall operation; a no-op when nothing is installed in ``schema``."""
    name = schema_name(schema)
    q = _sql.quote_ident(name)

    def steps(ctx: Context) -> Steps[None]:
        yield _lock()
        state = (yield _state(name)).rows[0]
        if not state[4]:
            return
        rows = (yield _read_meta(name)).rows
        created_extension = bool(rows[0][1]) if rows else False
        created_schema = bool(rows[0][2]) if rows else False
        for view in VIEWS:
            yield Query(f"DROP VIEW IF EXISTS {q}.{_sql.quote_ident(view)}")
        yield Query(f"DROP TABLE {q}.{META_TABLE}")
        if created_extension and state[0] is not None:
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

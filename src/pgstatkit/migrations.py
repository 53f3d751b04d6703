"""The SQL of :func:`pgstatkit.stats.install` / ``uninstall``, for schema migrations.

An Alembic revision is then three lines each way::

    from pgstatkit.migrations import install_statements, uninstall_statements

    def upgrade() -> None:
        for sql in install_statements(schema="pgstatkit"):
            op.execute(sql)

    def downgrade() -> None:
        for sql in uninstall_statements(schema="pgstatkit"):
            op.execute(sql)

The statements make and remove exactly what ``install`` / ``uninstall`` do (the
objects, the ``<schema>.pgstatkit_meta`` ownership record, the advisory lock, never
``CASCADE``), and the two paths can be mixed. They are ``DO`` blocks (PL/pgSQL, present
in every database by default) so they decide at migration time: whether the extension
and the schema exist, and which ``pg_stat_statements`` version the views are built for.
By default the view definitions for every supported version are included and the one
matching the installed extension is chosen; pass ``pgss_version="1.10"`` to include only
that one (the migration then fails, changing nothing, on a database with another
version). Run them inside a transaction (Alembic's default on PostgreSQL).
"""

from __future__ import annotations

import secrets

from pgstatkit import _sql
from pgstatkit._columns import MIN_VERSION, SUPPORTED_VERSIONS, Version, parse_version
from pgstatkit._install import (
    LOCK_KEY,
    META_TABLE,
    SCHEMA_VERSION,
    VIEWS,
    meta_statements,
    schema_name,
    view_statements,
)
from pgstatkit.errors import InvalidArgumentError

__all__ = ["install_statements", "uninstall_statements"]

_lit = _sql.quote_literal


def _do(body: str) -> str:
    """``DO $tag$ body $tag$`` with a dollar-quote tag that does not occur in ``body``."""
    n = 0
    while f"$pgstatkit{n}$" in body:
        n += 1
    tag = f"$pgstatkit{n}$"
    return f"DO {tag}\n{body}\n{tag}"


def _version_arg(pgss_version: object) -> Version | None:
    if pgss_version is None:
        return None
    try:
        version = parse_version(str(pgss_version)) if isinstance(pgss_version, str) else None
    except ValueError:
        version = None
    if version is None or version < MIN_VERSION:
        raise InvalidArgumentError(
            f"pgss_version must be a pg_stat_statements version such as '1.10' "
            f"(1.8 or later) or None, got {pgss_version!r}"
        )
    return version


def _views_block(schema: str, version: Version) -> str:
    """EXECUTEs of the view DDL; the extension's schema is read at migration time."""
    token = "pgss_" + secrets.token_hex(16)
    while token in schema:  # pragma: no cover - 128 random bits
        token = "pgss_" + secrets.token_hex(16)
    lines = []
    for sql in view_statements(schema, version, token):
        parts = sql.split(_sql.quote_ident(token))
        expr = " || pg_catalog.quote_ident(ext_schema) || ".join(_lit(p) for p in parts)
        lines.append(f"    EXECUTE {expr};")
    return "\n".join(lines)


def install_statements(schema: str = "pgstatkit", *, pgss_version: str | None = None) -> list[str]:
    """The statements :func:`pgstatkit.stats.install` runs, as one ``DO`` block.

    Args:
        schema: the helper schema (validated like ``install``'s).
        pgss_version: build the views for this ``pg_stat_statements`` version only, or
            ``None`` to choose at migration time among every supported version.

    Raises:
        InvalidArgumentError: a bad schema name or version.
    """
    name = schema_name(schema)
    only = _version_arg(pgss_version)
    q = _sql.quote_ident(name)
    versions = [only] if only is not None else list(SUPPORTED_VERSIONS)
    branches = []
    for index, version in enumerate(reversed(versions)):
        text = f"{version[0]}.{version[1]}"
        if only is not None:
            cond = f"ver = {_lit(text)}"
        else:
            cond = f"(vmaj, vmin) >= ({version[0]}, {version[1]})"
        keyword = "IF" if index == 0 else "ELSIF"
        branches.append(f"  {keyword} {cond} THEN\n{_views_block(name, version)}")
    missing = (
        f"views for pg_stat_statements {pgss_version} only, installed is %"
        if only is not None
        else "pg_stat_statements % is older than 1.8"
    )
    meta = "\n".join(f"  EXECUTE {_lit(sql)};" for sql in meta_statements(name))
    create_schema = _lit(f"CREATE SCHEMA {q}")
    create_ext_here = _lit(f"CREATE EXTENSION pg_stat_statements SCHEMA {q}")
    read_meta = _lit(f"SELECT created_extension, created_schema FROM {q}.{META_TABLE}")
    clear_meta = _lit(f"DELETE FROM {q}.{META_TABLE}")
    write_meta = _lit(
        f"INSERT INTO {q}.{META_TABLE} (id, schema_version, created_extension, "
        "created_schema, pgss_version) VALUES (1, $1, $2, $3, $4)"
    )
    body = f"""DECLARE
  ext_schema text;
  ver text;
  vmaj int;
  vmin int;
  made_ext bool := false;
  made_schema bool := false;
  old record;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock({LOCK_KEY});
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = {_lit(name)}) THEN
    EXECUTE {create_schema};
    made_schema := true;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_stat_statements')
  THEN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'public') THEN
      CREATE EXTENSION pg_stat_statements SCHEMA public;
    ELSE
      EXECUTE {create_ext_here};
    END IF;
    made_ext := true;
  END IF;
  SELECT n.nspname, e.extversion INTO ext_schema, ver
    FROM pg_catalog.pg_extension AS e
    JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_stat_statements';
  vmaj := pg_catalog.split_part(ver, '.', 1)::int;
  vmin := pg_catalog.split_part(ver, '.', 2)::int;
{meta}
  EXECUTE {read_meta} INTO old;
  IF old IS NOT NULL THEN
    made_ext := made_ext OR old.created_extension;
    made_schema := made_schema OR old.created_schema;
  END IF;
  EXECUTE {clear_meta};
  EXECUTE {write_meta}
    USING {SCHEMA_VERSION}, made_ext, made_schema, ver;
{chr(10).join(branches)}
  ELSE
    RAISE EXCEPTION {_lit(missing)}, ver;
  END IF;
END"""
    return [_do(body)]


def uninstall_statements(schema: str = "pgstatkit") -> list[str]:
    """The statements :func:`pgstatkit.stats.uninstall` runs, as one ``DO`` block.

    Raises:
        InvalidArgumentError: a bad schema name.
    """
    name = schema_name(schema)
    q = _sql.quote_ident(name)
    read_meta = _lit(f"SELECT created_extension, created_schema FROM {q}.{META_TABLE}")
    drop_meta = _lit(f"DROP TABLE {q}.{META_TABLE}")
    drop_schema = _lit(f"DROP SCHEMA {q} RESTRICT")
    drops = "\n".join(
        f"  EXECUTE {_lit(f'DROP VIEW IF EXISTS {q}.{_sql.quote_ident(v)}')};" for v in VIEWS
    )
    body = f"""DECLARE
  old record;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock({LOCK_KEY});
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c
                 JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
                 WHERE n.nspname = {_lit(name)} AND c.relname = {_lit(META_TABLE)}) THEN
    RETURN;
  END IF;
  EXECUTE {read_meta} INTO old;
{drops}
  EXECUTE {drop_meta};
  IF old.created_extension
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_stat_statements')
  THEN
    BEGIN
      DROP EXTENSION pg_stat_statements RESTRICT;
    EXCEPTION WHEN dependent_objects_still_exist THEN
      NULL;
    END;
  END IF;
  IF old.created_schema THEN
    BEGIN
      EXECUTE {drop_schema};
    EXCEPTION WHEN dependent_objects_still_exist THEN
      NULL;
    END;
  END IF;
END"""
    return [_do(body)]

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
objects, their ownership comments and the ``<schema>.pgstatkit_meta`` record, the
advisory lock, never ``CASCADE``; refusing what is not pgstatkit's, keeping the views'
grants, refusing to drop what your objects depend on: the same catalog queries, from
``pgstatkit/sql/install.sql``), and the two paths can be mixed. They are ``DO`` blocks
(PL/pgSQL, present in every database by default) so they decide at migration time:
whether the extension and the schema exist, and which ``pg_stat_statements`` version the
views are built for. By default the view definitions for every supported version are
included and the one matching the installed extension is chosen; pass
``pgss_version="1.10"`` to include only that one (the migration then fails, changing
nothing, on a database with another version). Run them inside a transaction (Alembic's
default on PostgreSQL).

Where ``install`` raises :class:`~pgstatkit.errors.InstallRefusedError`, the ``DO`` block
raises a server error with the same message, SQLSTATE ``42710`` (duplicate_object: an
object with pgstatkit's name is not pgstatkit's), ``42704`` (undefined_object: a role of
``grant_select_to`` does not exist) or ``2BP01`` (dependent_objects_still_exist), and the
migration's transaction changes nothing.
"""

from __future__ import annotations

import secrets

from pgstatkit import _sql
from pgstatkit._columns import MIN_VERSION, SUPPORTED_VERSIONS, Version, parse_version
from pgstatkit._install import (
    DEPENDENTS,
    FOREIGN_OBJECTS,
    LOCK_KEY,
    MARKER,
    META_TABLE,
    MISSING_ROLES,
    REBUILD_DEPENDENTS,
    SCHEMA_VERSION,
    VIEWS,
    dependents_sql,
    grant_statements,
    meta_statements,
    missing_roles_sql,
    objects_sql,
    role_names,
    schema_name,
    view_definitions,
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


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(_lit(v) for v in values) + "]::text[]"


def _defs_assignment(version: Version) -> str:
    """``v_defs := ARRAY[...]``: the view definitions; the extension's schema is read at
    migration time (``ext_schema``)."""
    token = "pgss_" + secrets.token_hex(16)
    items = []
    for sql in view_definitions(version, token).values():
        parts = sql.split(_sql.quote_ident(token))
        items.append(" || pg_catalog.quote_ident(ext_schema) || ".join(_lit(p) for p in parts))
    return "    v_defs := ARRAY[\n      " + ",\n      ".join(items) + "];"


def _version_branches(pgss_version: object) -> str:
    """IF/ELSIF choosing the definitions for the installed version, ELSE RAISE."""
    only = _version_arg(pgss_version)
    versions = [only] if only is not None else list(SUPPORTED_VERSIONS)
    branches = []
    for index, version in enumerate(reversed(versions)):
        if only is not None:
            cond = f"ver = {_lit(f'{version[0]}.{version[1]}')}"
        else:
            cond = f"(vmaj, vmin) >= ({version[0]}, {version[1]})"
        keyword = "IF" if index == 0 else "ELSIF"
        branches.append(f"  {keyword} {cond} THEN\n{_defs_assignment(version)}")
    missing = (
        f"views for pg_stat_statements {pgss_version} only, installed is %"
        if only is not None
        else "pg_stat_statements % is older than 1.8"
    )
    return "\n".join(branches) + f"\n  ELSE\n    RAISE EXCEPTION {_lit(missing)}, ver;\n  END IF;"


def _refuse_conflicts(roles: tuple[str, ...]) -> str:
    """PL/pgSQL: refuse foreign objects and unknown roles, as install does; set
    ``v_meta`` when pgstatkit's record exists."""
    sql = f"""  SELECT pg_catalog.string_agg(o.label, ', ' ORDER BY o.label)
           FILTER (WHERE NOT o.owned),
         coalesce(pg_catalog.bool_or(o.owned AND o.relname = {_lit(META_TABLE)}), false)
    INTO v_list, v_meta
    FROM ({objects_sql("v_schema")}) AS o;
  IF v_list IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'duplicate_object',
      MESSAGE = pg_catalog.format({_lit(FOREIGN_OBJECTS)}, v_list);
  END IF;"""
    if roles:
        sql += f"""
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(m.name), ', ') INTO v_list
    FROM ({missing_roles_sql(_array(list(roles)))}) AS m;
  IF v_list IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'undefined_object',
      MESSAGE = pg_catalog.format({_lit(MISSING_ROLES)}, v_list);
  END IF;"""
    return sql


_READ_META = """  IF v_meta THEN
    EXECUTE {read} INTO v_version, v_made_ext, v_made_schema;
    IF v_version > {known} THEN
      RAISE EXCEPTION 'schema % was installed by a newer pgstatkit (schema version %, '
        'this one knows {known}): upgrade pgstatkit', v_schema, v_version;
    END IF;
  END IF;"""


def _read_meta(q: str) -> str:
    read = _lit(f"SELECT schema_version, created_extension, created_schema FROM {q}.{META_TABLE}")
    return _READ_META.format(read=read, known=SCHEMA_VERSION)


_BUILD_VIEWS = """  FOR i IN 1 .. pg_catalog.array_length(v_views, 1) LOOP
    v_view := pg_catalog.quote_ident(v_schema) || '.' || pg_catalog.quote_ident(v_views[i]);
    BEGIN
      EXECUTE 'CREATE OR REPLACE VIEW ' || v_view || ' AS ' || v_defs[i];
    EXCEPTION WHEN invalid_table_definition THEN
      SELECT c.relacl, c.relowner INTO v_acl, v_owner
        FROM pg_catalog.pg_class AS c WHERE c.oid = v_view::pg_catalog.regclass;
      BEGIN
        EXECUTE 'DROP VIEW ' || v_view || ' RESTRICT';
      EXCEPTION WHEN dependent_objects_still_exist THEN
        SELECT pg_catalog.string_agg(d.object, ', ') INTO v_list
          FROM ({dependents}) AS d;
        RAISE EXCEPTION USING ERRCODE = 'dependent_objects_still_exist',
          MESSAGE = pg_catalog.format({message}, v_view, v_list);
      END;
      EXECUTE 'CREATE VIEW ' || v_view || ' AS ' || v_defs[i];
      FOR g IN SELECT a.privilege_type, a.grantee, a.is_grantable
               FROM pg_catalog.aclexplode(v_acl) AS a WHERE a.grantee <> v_owner LOOP
        EXECUTE pg_catalog.format('GRANT %s ON %s TO %s%s', g.privilege_type, v_view,
          CASE WHEN g.grantee = 0 THEN 'PUBLIC'
               ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END,
          CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
      END LOOP;
    END;
    EXECUTE 'COMMENT ON VIEW ' || v_view || ' IS ' || {marker};
  END LOOP;"""


def _build_views() -> str:
    """PL/pgSQL: CREATE OR REPLACE each view, else re-create it with its grants; mark it."""
    return _BUILD_VIEWS.format(
        dependents=dependents_sql("v_schema", "ARRAY[v_views[i]]"),
        message=_lit(REBUILD_DEPENDENTS),
        marker=_lit(_lit(MARKER)),
    )


def install_statements(
    schema: str = "pgstatkit",
    *,
    pgss_version: str | None = None,
    grant_select_to: list[str] | tuple[str, ...] = (),
) -> list[str]:
    """The statements :func:`pgstatkit.stats.install` runs, as one ``DO`` block.

    Args:
        schema: the helper schema (validated like ``install``'s).
        pgss_version: build the views for this ``pg_stat_statements`` version only, or
            ``None`` to choose at migration time among every supported version.
        grant_select_to: roles to grant ``SELECT`` on the views and ``USAGE`` on the
            schema, as for ``install``.

    Raises:
        InvalidArgumentError: a bad schema name, version or role name.
    """
    name = schema_name(schema)
    roles = role_names(grant_select_to)
    branches = _version_branches(pgss_version)
    q = _sql.quote_ident(name)
    meta = "\n".join(f"  EXECUTE {_lit(sql)};" for sql in meta_statements(name))
    grants = "\n".join(f"  EXECUTE {_lit(sql)};" for sql in grant_statements(name, roles))
    write_meta = _lit(
        f"INSERT INTO {q}.{META_TABLE} (id, schema_version, created_extension, "
        "created_schema, pgss_version) VALUES (1, $1, $2, $3, $4)"
    )
    body = f"""DECLARE
  v_schema constant text := {_lit(name)};
  v_views constant text[] := {_array(list(VIEWS))};
  ext_schema text;
  ver text;
  vmaj int;
  vmin int;
  made_ext bool := false;
  made_schema bool := false;
  v_meta bool;
  v_version int;
  v_made_ext bool;
  v_made_schema bool;
  v_list text;
  v_defs text[];
  v_view text;
  v_acl aclitem[];
  v_owner oid;
  g record;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock({LOCK_KEY});
{_refuse_conflicts(roles)}
{_read_meta(q)}
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = v_schema) THEN
    EXECUTE {_lit(f"CREATE SCHEMA {q}")};
    made_schema := true;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_stat_statements')
  THEN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'public') THEN
      CREATE EXTENSION pg_stat_statements SCHEMA public;
    ELSE
      EXECUTE {_lit(f"CREATE EXTENSION pg_stat_statements SCHEMA {q}")};
    END IF;
    made_ext := true;
  END IF;
  SELECT n.nspname, e.extversion INTO ext_schema, ver
    FROM pg_catalog.pg_extension AS e
    JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_stat_statements';
  vmaj := pg_catalog.split_part(ver, '.', 1)::int;
  vmin := pg_catalog.split_part(ver, '.', 2)::int;
{branches}
{meta}
  made_ext := made_ext OR coalesce(v_made_ext, false);
  made_schema := made_schema OR coalesce(v_made_schema, false);
  EXECUTE {_lit(f"DELETE FROM {q}.{META_TABLE}")};
  EXECUTE {write_meta}
    USING {SCHEMA_VERSION}, made_ext, made_schema, ver;
{_build_views()}
{grants}
END"""
    return [_do(body)]


def uninstall_statements(schema: str = "pgstatkit") -> list[str]:
    """The statements :func:`pgstatkit.stats.uninstall` runs, as one ``DO`` block.

    Raises:
        InvalidArgumentError: a bad schema name.
    """
    name = schema_name(schema)
    q = _sql.quote_ident(name)
    drop_schema = _lit(f"DROP SCHEMA {q} RESTRICT")
    body = f"""DECLARE
  v_schema constant text := {_lit(name)};
  v_order constant text[] := {_array([*VIEWS, META_TABLE])};
  v_mine text[];
  v_meta bool;
  v_version int;
  v_made_ext bool;
  v_made_schema bool;
  v_list text;
  v_rel text;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock({LOCK_KEY});
  SELECT coalesce(pg_catalog.array_agg(o.relname) FILTER (WHERE o.owned), '{{}}')
    INTO v_mine FROM ({objects_sql("v_schema")}) AS o;
  v_meta := {_lit(META_TABLE)} = ANY (v_mine);
{_read_meta(q)}
  FOREACH v_rel IN ARRAY v_order LOOP
    CONTINUE WHEN NOT v_rel = ANY (v_mine);
    BEGIN
      EXECUTE 'DROP ' || CASE WHEN v_rel = {_lit(META_TABLE)} THEN 'TABLE ' ELSE 'VIEW ' END
        || pg_catalog.quote_ident(v_schema) || '.' || pg_catalog.quote_ident(v_rel)
        || ' RESTRICT';
    EXCEPTION WHEN dependent_objects_still_exist THEN
      SELECT pg_catalog.string_agg(d.object, ', ') INTO v_list
        FROM ({dependents_sql("v_schema", "v_mine")}) AS d;
      RAISE EXCEPTION USING ERRCODE = 'dependent_objects_still_exist',
        MESSAGE = pg_catalog.format({_lit(DEPENDENTS)}, v_list);
    END;
  END LOOP;
  IF coalesce(v_made_ext, false)
     AND EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_stat_statements')
  THEN
    BEGIN
      DROP EXTENSION pg_stat_statements RESTRICT;
    EXCEPTION WHEN dependent_objects_still_exist THEN
      NULL;
    END;
  END IF;
  IF coalesce(v_made_schema, false) THEN
    BEGIN
      EXECUTE {drop_schema};
    EXCEPTION WHEN dependent_objects_still_exist THEN
      NULL;
    END;
  END IF;
END"""
    return [_do(body)]

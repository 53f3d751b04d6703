"""The SQL of :func:`pgstatkit.stats.install` / ``uninstall``, for schema migrations.

An Alembic revision is then three lines each way::

    from pgstatkit.migrations import install_statements, uninstall_statements

    def upgrade() -> None:
        for sql in install_statements(schema="pgstatkit"):
            op.execute(sql)

    def downgrade() -> None:
        for sql in uninstall_statements(schema="pgstatkit"):
            op.execute(sql)

Each is one ``DO`` block (PL/pgSQL, present in every database by default): the block of
``sql/plpgsql/apply.sql``, which applies the plans of ``sql/queries/install.sql`` with
the migrations of ``sql/schema/`` and the view definitions of ``sql/schema/views.sql``
written in, exactly as ``install`` / ``uninstall`` apply them, so the paths can be mixed.
``sql/install.sql`` and ``sql/uninstall.sql`` are the same block for ``psql -f``,
Flyway or sqitch, reading the schema and the roles from the settings
``pgstatkit.schema`` and ``pgstatkit.grant_select_to`` (:func:`render`, run by
``tools/gen_sql.py``).

By default the view definitions for every supported version are included and the one
matching the installed extension is chosen at migration time; pass
``pgss_version="1.10"`` to include only that one (the migration then fails, changing
nothing, on a database with another version). Run them inside a transaction (Alembic's
default on PostgreSQL).

Where ``install`` raises :class:`~pgstatkit.errors.InstallRefusedError`, the ``DO`` block
raises a server error with the same message, SQLSTATE ``42710`` (duplicate_object: an
object with pgstatkit's name is not pgstatkit's), ``42704`` (undefined_object: a role of
``grant_select_to`` does not exist) or ``2BP01`` (dependent_objects_still_exist);
``55000`` for a ``pg_stat_statements`` before 1.8 and ``0A000`` for a schema installed by
a newer pgstatkit; the migration's transaction changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pgstatkit import _sql
from pgstatkit._columns import MIN_VERSION, Version, parse_version
from pgstatkit._install import (
    LOCK_KEY,
    VIEWS,
    Migration,
    definitions,
    grant_statements,
    load_migrations,
    plan_sql,
    role_names,
    schema_name,
)
from pgstatkit.errors import InvalidArgumentError

__all__ = ["install_statements", "render", "sql_path", "uninstall_statements"]

_lit = _sql.quote_literal

SETTINGS_DECLARE = """\
  -- psql -c "SET pgstatkit.schema = 'perf'" -f sql/install.sql (default: pgstatkit)
  v_schema constant text := coalesce(
    nullif(pg_catalog.current_setting('pgstatkit.schema', true), ''), 'pgstatkit');
  -- pgstatkit.grant_select_to: role names, comma-separated ('grafana, pg_monitor')
  v_roles constant text[] := ARRAY(
    SELECT t.name
    FROM (SELECT pg_catalog.btrim(u.x) AS name, u.i
          FROM pg_catalog.unnest(pg_catalog.string_to_array(
                 pg_catalog.current_setting('pgstatkit.grant_select_to', true), ','))
               WITH ORDINALITY AS u (x, i)) AS t
    WHERE t.name <> ''
    GROUP BY t.name
    ORDER BY pg_catalog.min(t.i));"""

SETTINGS_CHECK = """\
  IF pg_catalog.lower(v_schema) LIKE 'pg\\_%' OR pg_catalog.octet_length(v_schema) > 63 THEN
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = pg_catalog.format(
      'pgstatkit.schema must be 1-63 bytes and not start with pg_, got %L', v_schema);
  END IF;"""

FIXED_VERSION_CHECK = """\
  SELECT coalesce(e.extversion, a.default_version) INTO ver
    FROM pg_catalog.pg_available_extensions AS a
    LEFT JOIN pg_catalog.pg_extension AS e ON e.extname = a.name
    WHERE a.name = 'pg_stat_statements';
  IF NOT coalesce(ver = {version}, false) THEN
    RAISE EXCEPTION {message}, ver;
  END IF;"""

GRANT_PLAN = """\
  FOR r IN EXECUTE {plan} USING v_schema, v_roles, {views} LOOP
    EXECUTE r.sql;
  END LOOP;"""


def _do(body: str) -> str:
    """``DO $tag$ body $tag$`` with a dollar-quote tag that does not occur in ``body``."""
    return f"DO {_tag(body, 'pgstatkit')}\n{body}\n{_tag(body, 'pgstatkit')}"


def _tag(text: str, base: str) -> str:
    """The first ``$<base>N$`` that does not occur in ``text``."""
    n = 0
    while f"${base}{n}$" in text:
        n += 1
    return f"${base}{n}$"


def _dollar(text: str) -> str:
    """``text`` as a dollar-quoted string constant."""
    tag = _tag(text, "q")
    return f"{tag}{text}{tag}"


def _texts(values: Sequence[str]) -> str:
    if not values:
        return "'{}'::text[]"
    return "ARRAY[\n      " + ",\n      ".join(_dollar(v) for v in values) + "]::text[]"


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


def _literal_declare(schema: str, roles: Sequence[str], fixed: bool) -> str:
    array = "ARRAY[" + ", ".join(_lit(r) for r in roles) + "]::text[]" if roles else "'{}'::text[]"
    lines = [
        f"  v_schema constant text := {_lit(schema)};",
        f"  v_roles constant text[] := {array};",
    ]
    if fixed:
        lines.append("  ver text;")
    return "\n".join(lines)


def _install_arguments(applied: Sequence[Migration], only: Version | None) -> str:
    """The USING list of ``install_plan``: PL/pgSQL variables and constants."""
    statements = [(m.version, s) for m in applied for s in m.statements]
    views = [d for d in definitions() if only is None or parse_version(d[0]) == only]
    constants = [
        _texts([str(v) for v, _ in statements]),
        _texts([s for _, s in statements]),
        _texts([d[0] for d in views]),
        _texts([d[1] for d in views]),
        _texts([d[2] for d in views]),
    ]
    return "v_schema, v_roles, v_version, v_made_extension, v_made_schema,\n    " + (
        ",\n    ".join(constants)
    )


def _grants(schema: str | None, roles: Sequence[str]) -> str:
    if schema is None:  # the roles come from the setting
        return GRANT_PLAN.format(plan=_dollar(plan_sql("grant_plan")), views=_texts(list(VIEWS)))
    return "\n".join(f"  EXECUTE {_lit(sql)};" for sql in grant_statements(schema, roles))


def render(
    kind: str,
    *,
    schema: str | None = None,
    roles: Sequence[str] = (),
    pgss_version: Version | None = None,
    migrations: Sequence[Migration] | None = None,
) -> str:
    """The ``DO`` block of ``kind`` (``"install"`` or ``"uninstall"``).

    ``schema`` None: the schema and the roles are read from the settings
    ``pgstatkit.schema`` (default ``pgstatkit``) and ``pgstatkit.grant_select_to`` when it
    runs, as in ``sql/install.sql``; otherwise they are written in (validate them first).
    ``pgss_version``: only that version's view definitions. ``migrations`` (tests): instead
    of pgstatkit's own.
    """
    applied = tuple(migrations) if migrations is not None else load_migrations()
    template = _sql.read("plpgsql/apply.sql")
    body = template[template.index("\nDECLARE\n") + 1 :].rstrip()
    if schema is None:
        declare, check = SETTINGS_DECLARE, SETTINGS_CHECK
    else:
        declare, check = _literal_declare(schema, roles, pgss_version is not None), ""
    if pgss_version is not None:
        text = f"{pgss_version[0]}.{pgss_version[1]}"
        message = _lit(f"views for pg_stat_statements {text} only, installed is %")
        check = FIXED_VERSION_CHECK.format(version=_lit(text), message=message)
    if kind == "install":
        plan, arguments = "install_plan", _install_arguments(applied, pgss_version)
        grants = _grants(schema, roles)
    else:
        plan, grants = "uninstall_plan", ""
        arguments = f"v_schema, v_version, v_made_extension, v_made_schema, {applied[-1].version}"
    return _do(
        _sql.render(
            body,
            declare=declare,
            check=check,
            lock=str(LOCK_KEY),
            read_meta=_dollar(plan_sql("read_meta")),
            plan=_dollar(plan_sql(plan)),
            arguments=arguments,
            rebuild_view=_dollar(plan_sql("rebuild_view")),
            grants=grants,
        )
    )


def sql_path(name: str) -> Path:
    """The path of one of pgstatkit's SQL files: ``sql_path("install.sql")``,
    ``sql_path("uninstall.sql")``, ``sql_path("schema/0001_views.sql")``...

    In an installed pgstatkit they are in the package (``pgstatkit/sql/``), in a source
    checkout in the top-level ``sql/``; for ``psql -f`` and other tools.

    Raises:
        FileNotFoundError: no such file.
    """
    path = _sql.root() / name
    if not path.is_file():
        raise FileNotFoundError(f"pgstatkit has no SQL file {name!r} (in {_sql.root()})")
    return path


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
    only = _version_arg(pgss_version)
    return [render("install", schema=name, roles=roles, pgss_version=only)]


def uninstall_statements(schema: str = "pgstatkit") -> list[str]:
    """The statements :func:`pgstatkit.stats.uninstall` runs, as one ``DO`` block.

    Raises:
        InvalidArgumentError: a bad schema name.
    """
    return [render("uninstall", schema=schema_name(schema))]

-- What install and uninstall do, decided by the server from its catalog: every path
-- that installs pgstatkit (stats.install / uninstall in Python, the DO blocks of
-- sql/install.sql and sql/uninstall.sql for psql -f, Flyway or sqitch, and
-- pgstatkit.migrations for Alembic) runs these queries and applies what they return.
--
-- The *_plan queries return the statements to run, in order, as rows
-- (action, sql, names, alt):
--   refuse    refuse, changing nothing: sql is the message, alt the SQLSTATE; only
--             refusals are returned when there is one, and the first is raised
--   run       run sql
--   try_drop  run sql (a RESTRICT drop); if other objects depend on it (2BP01), keep it
--   view      run sql (CREATE OR REPLACE VIEW); if the columns changed (42P16), apply
--             the rows of rebuild_view for names[1] and alt (its CREATE VIEW)
-- A drop of pgstatkit's own objects is refused beforehand, naming what depends on them
-- (the dependents query: what makes DROP ... RESTRICT fail).
-- Python applies them as top-level statements (each carries pgstatkit's marker, so its
-- own statements stay out of the results); the DO block applies them with EXECUTE.
-- Values are bound parameters ($n); the double-brace markers are filled with other
-- blocks of this file and pgstatkit's constants (pgstatkit._install) when the file is
-- read, and in the generated sql/install.sql.

-- name: objects
-- Every relation of the helper schema that has one of pgstatkit's names (wanted: name,
-- expected relkind), whether it is pgstatkit's own, and how to name it in a message.
-- pgstatkit's own: the expected kind and pgstatkit's ownership comment;
-- or, left by pgstatkit schema version 1 (before the comments), no comment at all next
-- to an uncommented pgstatkit_meta with version 1's exact columns.
SELECT f.relname,
       f.label,
       f.relkind = f.wanted_kind
           AND (f.note IS NOT DISTINCT FROM {{marker}} OR (f.note IS NULL AND l.is_legacy)) AS owned
FROM (
    SELECT c.relname::text AS relname,
           c.relkind::text AS relkind,
           w.relkind AS wanted_kind,
           pg_catalog.obj_description(c.oid, 'pg_class') AS note,
           pg_catalog.format('%s %I.%I', CASE c.relkind
               WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
               WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
               WHEN 'f' THEN 'foreign table' WHEN 'i' THEN 'index'
               WHEN 'I' THEN 'partitioned index' WHEN 'S' THEN 'sequence'
               WHEN 'c' THEN 'composite type' ELSE 'relation' END,
               n.nspname, c.relname) AS label
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    JOIN ({{wanted}}) AS w (relname, relkind) ON w.relname = c.relname::text
    WHERE n.nspname = {{schema}}
) AS f
CROSS JOIN (
    SELECT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_class AS c
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = {{schema}} AND c.relname = 'pgstatkit_meta' AND c.relkind = 'r'
          AND pg_catalog.obj_description(c.oid, 'pg_class') IS NULL
          AND ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute AS a
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                    ORDER BY a.attnum)
              = ARRAY['id', 'schema_version', 'created_extension', 'created_schema',
                      'pgss_version', 'installed_at']
    ) AS is_legacy
) AS l
ORDER BY f.label;

-- name: dependents
-- What depends on the given views (text[]) of the helper schema, as PostgreSQL
-- records it (pg_depend; a view or materialized view through its rewrite rule), named
-- for a message; the views' own rules and the relations' own constraints (the CHECK of
-- pgstatkit_meta) are not dependents.
SELECT DISTINCT CASE
           WHEN rw.oid IS NOT NULL THEN pg_catalog.format('%s %I.%I',
               CASE dc.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,
               dn.nspname, dc.relname)
           ELSE pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)
       END AS object
FROM pg_catalog.pg_depend AS d
JOIN pg_catalog.pg_class AS c ON c.oid = d.refobjid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_rewrite AS rw
    ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND rw.oid = d.objid
LEFT JOIN pg_catalog.pg_class AS dc ON dc.oid = rw.ev_class
LEFT JOIN pg_catalog.pg_namespace AS dn ON dn.oid = dc.relnamespace
WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
  AND d.deptype = 'n'
  AND n.nspname = {{schema}}
  AND c.relname::text = ANY ({{views}})
  AND (rw.oid IS NULL OR rw.ev_class <> c.oid)
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
                  WHERE d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
                    AND k.oid = d.objid AND k.conrelid = c.oid)
ORDER BY 1;

-- name: missing_roles
-- The given names (text[]) that are no role, with their position; 'public' stands for
-- PUBLIC.
SELECT r.name, r.i
FROM pg_catalog.unnest({{roles}}) WITH ORDINALITY AS r (name, i)
WHERE r.name <> 'public'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS x WHERE x.rolname = r.name)
ORDER BY r.i;

-- name: read_meta
-- $1 schema: the statement reading pgstatkit's record in it (schema_version,
-- created_extension, created_schema), if pgstatkit's pgstatkit_meta is there; a record
-- without its row reads as schema version 1 (the table is), created nothing.
SELECT pg_catalog.format(
           'SELECT schema_version, created_extension, created_schema FROM %1$I.pgstatkit_meta'
           ' WHERE id = 1 UNION ALL SELECT 1, NULL, NULL WHERE NOT EXISTS'
           ' (SELECT FROM %1$I.pgstatkit_meta WHERE id = 1)', $1::text) AS sql
FROM ({{objects}}) AS o
WHERE o.relname = 'pgstatkit_meta' AND o.owned;

-- name: install_plan
-- install, from the record read by read_meta and the files it applies:
-- $1 schema, $2 roles to grant to (text[]: the missing ones are refused here),
-- $3 recorded schema version (NULL: none), $4 / $5 recorded created_extension /
-- created_schema; $6 / $7 the migrations' statements (sql/schema/NNNN_*.sql): their
-- schema versions and texts (text[]: asyncpg would look an int4[] up in the catalog,
-- a statement pgstatkit cannot mark), in order; $8 / $9 / $10 the views'
-- definitions (sql/schema/views.sql): pg_stat_statements version ('1.10'), view name,
-- SELECT with @pgss_schema@ for the extension's schema. It creates the schema and the
-- extension (in public, or the helper schema without one) if missing, applies the
-- migrations newer than the record, records what it did, and builds every view
-- (CREATE OR REPLACE keeps its grants) from the definitions of the newest version not
-- newer than the extension's, marked as pgstatkit's. Refused: an object with
-- pgstatkit's name that is not pgstatkit's (42710), a role that does not exist (42704),
-- a record newer than the migrations (0A000), pg_stat_statements before 1.8 (55000).
SELECT q.action, q.sql, q.names, q.alt
FROM (
    SELECT p.pos, p.action, p.sql, p.names, p.alt,
           pg_catalog.count(*) FILTER (WHERE p.action = 'refuse') OVER () AS refusals
    FROM (
        SELECT e.extversion AS installed,
               coalesce(e.extversion, a.default_version) AS version,
               coalesce(en.nspname, CASE WHEN EXISTS (
                   SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'public')
                   THEN 'public' ELSE $1::text END) AS pgss_schema,
               EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1::text)
                   AS schema_exists,
               (SELECT pg_catalog.string_agg(o.label, ', ' ORDER BY o.label)
                FROM ({{objects}}) AS o WHERE NOT o.owned) AS foreign_objects,
               (SELECT pg_catalog.string_agg(
                           '"' || pg_catalog.replace(m.name, '"', '""') || '"', ', ' ORDER BY m.i)
                FROM ({{missing_roles}}) AS m) AS missing_roles,
               (SELECT pg_catalog.max(v::int4) FROM pg_catalog.unnest($6::text[]) AS v) AS known
        FROM (VALUES (1)) AS one (x)
        LEFT JOIN pg_catalog.pg_extension AS e ON e.extname = 'pg_stat_statements'
        LEFT JOIN pg_catalog.pg_namespace AS en ON en.oid = e.extnamespace
        LEFT JOIN pg_catalog.pg_available_extensions AS a ON a.name = 'pg_stat_statements'
    ) AS s
    CROSS JOIN LATERAL (
        SELECT (SELECT d.version
                FROM pg_catalog.unnest($8::text[]) AS d (version)
                WHERE pg_catalog.string_to_array(d.version, '.')::int4[]
                      <= pg_catalog.string_to_array(s.version, '.')::int4[]
                ORDER BY pg_catalog.string_to_array(d.version, '.')::int4[] DESC
                LIMIT 1) AS views_version,
               coalesce($4::bool, false) OR s.installed IS NULL AS created_extension,
               coalesce($5::bool, false) OR NOT s.schema_exists AS created_schema
    ) AS c
    CROSS JOIN LATERAL (
        SELECT 1, 'refuse', pg_catalog.format(
                   'install refused, nothing changed: pgstatkit did not create %s (no '
                   'pgstatkit ownership comment) and never replaces or drops what it did not '
                   'create: install into another schema, or drop or rename it',
                   s.foreign_objects), NULL::text[], '42710'
        WHERE s.foreign_objects IS NOT NULL
        UNION ALL
        SELECT 2, 'refuse', pg_catalog.format(
                   'install refused, nothing changed: cannot grant SELECT to %s: no such '
                   'role; create it first (CREATE ROLE), or correct the name',
                   s.missing_roles), NULL, '42704'
        WHERE s.missing_roles IS NOT NULL
        UNION ALL
        SELECT 3, 'refuse', pg_catalog.format(
                   'schema %L was installed by a newer pgstatkit (schema version %s, this '
                   'one knows %s): upgrade pgstatkit', $1::text, $3::int4, s.known), NULL, '0A000'
        WHERE $3::int4 > s.known
        UNION ALL
        SELECT 4, 'refuse', pg_catalog.format(
                   'pg_stat_statements %s is installed; the pgstatkit views need 1.8 '
                   '(PostgreSQL 13) or later: run `ALTER EXTENSION pg_stat_statements UPDATE;`',
                   s.version), NULL, '55000'
        WHERE pg_catalog.string_to_array(s.version, '.')::int4[] < ARRAY[1, 8]
        UNION ALL
        SELECT 10, 'run', pg_catalog.format('CREATE SCHEMA %I', $1::text), NULL, NULL
        WHERE NOT s.schema_exists
        UNION ALL
        SELECT 20, 'run', pg_catalog.format(
                   'CREATE EXTENSION pg_stat_statements SCHEMA %I', s.pgss_schema), NULL, NULL
        WHERE s.installed IS NULL
        UNION ALL
        SELECT 100 + m.i, 'run',
               pg_catalog.replace(m.statement, '@schema@', pg_catalog.quote_ident($1::text)),
               NULL, NULL
        FROM ROWS FROM (pg_catalog.unnest($6::text[]), pg_catalog.unnest($7::text[]))
            WITH ORDINALITY AS m (version, statement, i)
        WHERE m.version::int4 > coalesce($3::int4, 0)
        UNION ALL
        SELECT 10000, 'run', pg_catalog.format(
                   'INSERT INTO %I.pgstatkit_meta (id, schema_version, created_extension, '
                   'created_schema, pgss_version) VALUES (1, %s, %L, %L, %L) ON CONFLICT (id) '
                   'DO UPDATE SET schema_version = EXCLUDED.schema_version, created_extension '
                   '= EXCLUDED.created_extension, created_schema = EXCLUDED.created_schema, '
                   'pgss_version = EXCLUDED.pgss_version, installed_at = pg_catalog.now()',
                   $1::text, s.known, c.created_extension, c.created_schema, s.version),
               NULL, NULL
        UNION ALL
        SELECT 20000 + 2 * d.i, 'view', pg_catalog.format(
                   'CREATE OR REPLACE VIEW %I.%I AS %s', $1::text, d.name, v.definition),
               ARRAY[d.name], pg_catalog.format('CREATE VIEW %I.%I AS %s', $1::text, d.name,
                                                v.definition)
        FROM ROWS FROM (pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]),
                        pg_catalog.unnest($10::text[]))
            WITH ORDINALITY AS d (version, name, definition, i)
        CROSS JOIN LATERAL (
            SELECT pg_catalog.replace(d.definition, '@pgss_schema@',
                                      pg_catalog.quote_ident(s.pgss_schema)) AS definition
        ) AS v
        WHERE d.version = c.views_version
        UNION ALL
        SELECT 20001 + 2 * d.i, 'run', pg_catalog.format(
                   'COMMENT ON VIEW %I.%I IS %L', $1::text, d.name, {{marker}}), NULL, NULL
        FROM ROWS FROM (pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::text[]))
            WITH ORDINALITY AS d (version, name, i)
        WHERE d.version = c.views_version
    ) AS p (pos, action, sql, names, alt)
) AS q
WHERE q.refusals = 0 OR q.action = 'refuse'
ORDER BY q.pos;

-- name: grant_plan
-- $1 schema, $2 roles (text[], 'public' for PUBLIC), $3 the views (text[]): USAGE on the
-- schema and SELECT on the views for the roles (no row without roles).
SELECT 'run' AS action, g.sql, NULL::text[] AS names, NULL::text AS alt
FROM (
    SELECT pg_catalog.string_agg(CASE WHEN r.name = 'public' THEN 'PUBLIC'
                                      ELSE pg_catalog.quote_ident(r.name) END,
                                 ', ' ORDER BY r.i) AS grantees,
           (SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', $1::text, v.name),
                                         ', ' ORDER BY v.i)
            FROM pg_catalog.unnest($3::text[]) WITH ORDINALITY AS v (name, i)) AS views
    FROM pg_catalog.unnest($2::text[]) WITH ORDINALITY AS r (name, i)
    HAVING pg_catalog.count(*) > 0
) AS t
CROSS JOIN LATERAL (
    VALUES (1, pg_catalog.format('GRANT USAGE ON SCHEMA %I TO %s', $1::text, t.grantees)),
           (2, pg_catalog.format('GRANT SELECT ON %s TO %s', t.views, t.grantees))
) AS g (pos, sql)
ORDER BY g.pos;

-- name: rebuild_view
-- $1 schema, $2 view, $3 its CREATE VIEW: re-create a view of pgstatkit's whose columns
-- changed, granting again what it had (privileges other than its owner's, with the
-- owner as grantor; only privileges GRANT takes on a view are ever sent). Refused while
-- other objects depend on it (what makes DROP VIEW ... RESTRICT fail).
SELECT q.action, q.sql, q.names, q.alt
FROM (
    SELECT r.pos, r.action, r.sql, r.names, r.alt,
           pg_catalog.count(*) FILTER (WHERE r.action = 'refuse') OVER () AS refusals
    FROM (
        SELECT 0 AS pos, 'refuse' AS action, pg_catalog.format(
                   'install refused, nothing changed: view %s must be re-created because its '
                   'columns changed, but other objects depend on it (%s): drop them, run '
                   'install, then create them again',
                   pg_catalog.format('%I.%I', $1::text, $2::text),
                   pg_catalog.string_agg(d.object, ', ' ORDER BY d.object)) AS sql,
               NULL::text[] AS names, '2BP01' AS alt
        FROM ({{dependents}}) AS d
        HAVING pg_catalog.count(*) > 0
        UNION ALL
        SELECT 1, 'run', pg_catalog.format('DROP VIEW %I.%I RESTRICT', $1::text, $2::text),
               NULL, NULL
        UNION ALL
        SELECT 2, 'run', $3::text, NULL, NULL
        UNION ALL
        SELECT 3, 'run', pg_catalog.format('GRANT %s ON %I.%I TO %s%s', a.privilege_type,
                   $1::text, $2::text,
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                        ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
                   CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), NULL, NULL
        FROM pg_catalog.pg_class AS c
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) AS a
        WHERE n.nspname = $1::text AND c.relname = $2::text AND a.grantee <> c.relowner
          AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                   'REFERENCES', 'TRIGGER', 'MAINTAIN')
    ) AS r
) AS q
WHERE q.refusals = 0 OR q.action = 'refuse'
ORDER BY q.pos, q.sql;

-- name: uninstall_plan
-- uninstall: $1 schema, $2 recorded schema version (NULL: none), $3 / $4 recorded
-- created_extension / created_schema, $5 the newest schema version of the migrations.
-- Drops pgstatkit's views and tables (pgstatkit_meta, the history tables: the tables marker),
-- refused while other objects depend on
-- them; then the extension and the schema if install created them and nothing depends
-- on them (else they stay). Refused: a record newer than the migrations (0A000).
SELECT q.action, q.sql, q.names, q.alt
FROM (
    SELECT p.pos, p.action, p.sql, p.names, p.alt,
           pg_catalog.count(*) FILTER (WHERE p.action = 'refuse') OVER () AS refusals
    FROM (
        SELECT (SELECT pg_catalog.array_agg(o.relname ORDER BY o.relname = 'pgstatkit_meta',
                                            o.relname)
                FROM ({{objects}}) AS o WHERE o.owned) AS mine
    ) AS s
    CROSS JOIN LATERAL (
        SELECT (SELECT pg_catalog.string_agg(d.object, ', ' ORDER BY d.object)
                FROM ({{dependents}}) AS d) AS dependents
    ) AS u
    CROSS JOIN LATERAL (
        SELECT 0, 'refuse', pg_catalog.format(
                   'schema %L was installed by a newer pgstatkit (schema version %s, this '
                   'one knows %s): upgrade pgstatkit', $1::text, $2::int4, $5::int4),
               NULL::text[], '0A000'
        WHERE $2::int4 > $5::int4
        UNION ALL
        SELECT 1, 'refuse', pg_catalog.format(
                   'uninstall refused, nothing changed: other objects depend on '
                   'pgstatkit''s objects (%s), and pgstatkit never drops with CASCADE: '
                   'drop them first, or keep pgstatkit installed', u.dependents),
               NULL, '2BP01'
        WHERE u.dependents IS NOT NULL
        UNION ALL
        SELECT 10 + m.i, 'run', pg_catalog.format('DROP %s %I.%I RESTRICT',
                   CASE WHEN m.name = ANY ({{tables}}) THEN 'TABLE' ELSE 'VIEW' END,
                   $1::text, m.name),
               NULL, NULL
        FROM pg_catalog.unnest(s.mine) WITH ORDINALITY AS m (name, i)
        UNION ALL
        SELECT 1000, 'try_drop', 'DROP EXTENSION pg_stat_statements RESTRICT', NULL, NULL
        WHERE $3::bool
          AND EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_stat_statements')
        UNION ALL
        SELECT 1001, 'try_drop', pg_catalog.format('DROP SCHEMA %I RESTRICT', $1::text),
               NULL, NULL
        WHERE $4::bool AND EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1::text)
    ) AS p (pos, action, sql, names, alt)
) AS q
WHERE q.refusals = 0 OR q.action = 'refuse'
ORDER BY q.pos;

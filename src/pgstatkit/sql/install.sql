-- Catalog queries of install / uninstall (pgstatkit._install) and of their migration DO
-- blocks (pgstatkit.migrations). The double-brace markers are filled by pgstatkit._install
-- with bound parameters for the Python path, or PL/pgSQL variables and quoted constants
-- for the DO blocks, so both paths ask the server exactly the same question.

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
-- for a message; the views' own rules are not dependents.
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
ORDER BY 1;

-- name: missing_roles
-- The given names (text[]) that are no role; 'public' stands for PUBLIC.
SELECT r.name
FROM pg_catalog.unnest({{roles}}) WITH ORDINALITY AS r (name, i)
WHERE r.name <> 'public'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS x WHERE x.rolname = r.name)
ORDER BY r.i;

-- name: view_grants
-- The grants on a view other than its owner's own: what a re-created view
-- must be granted again.
SELECT a.privilege_type,
       a.grantee = 0 AS to_public,
       pg_catalog.pg_get_userbyid(a.grantee)::text AS grantee,
       a.is_grantable
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) AS a
WHERE n.nspname = $1::text AND c.relname = $2::text AND a.grantee <> c.relowner
ORDER BY a.grantee, a.privilege_type;

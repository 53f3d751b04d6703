-- Queries of the index advisor (pgstatkit/advisor.py, pgstatkit/_advisor.py).
-- The advisor's call keeps the caller's search_path (the statements it explains were
-- written for it), so every name here is schema-qualified. {{schema}} / {{hypopg}} are
-- pgstatkit's quoted schema names of pg_stat_statements / hypopg; values are bound as $n.

-- name: window_1_9
-- The span the pg_stat_statements counters cover (since its last reset), and seconds.
SELECT i.stats_reset AS since, pg_catalog.now() AS until,
       EXTRACT(epoch FROM pg_catalog.now() - i.stats_reset)::float8 AS seconds
FROM {{schema}}.pg_stat_statements_info AS i;

-- name: window
-- Before pg_stat_statements 1.9 the reset time is not kept: since the server started.
SELECT pg_catalog.pg_postmaster_start_time() AS since, pg_catalog.now() AS until,
       EXTRACT(epoch FROM pg_catalog.now() - pg_catalog.pg_postmaster_start_time())::float8
           AS seconds;

-- name: database
-- The current database's OID: the dbid of its statements in the history.
SELECT d.oid::int8 AS dbid
FROM pg_catalog.pg_database AS d
WHERE d.datname = pg_catalog.current_database();

-- name: hypopg
-- The schema of the hypopg extension in this database, if it is created, and whether
-- this role may use it: read its hypopg_list_indexes view and run hypopg_create_index
-- (a monitoring role often may not: the advisor then estimates, unvalidated).
SELECT n.nspname::text AS schema,
       coalesce(pg_catalog.has_schema_privilege(n.oid, 'USAGE')
                AND pg_catalog.has_table_privilege(
                        pg_catalog.to_regclass(pg_catalog.format('%I.hypopg_list_indexes', n.nspname)),
                        'SELECT')
                AND pg_catalog.has_function_privilege(
                        pg_catalog.to_regprocedure(
                            pg_catalog.format('%I.hypopg_create_index(text)', n.nspname)),
                        'EXECUTE'),
                false) AS usable
FROM pg_catalog.pg_extension AS e
JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
WHERE e.extname = 'hypopg';

-- name: tables
-- $1 relation names (quoted identifiers, qualified as the statements wrote them),
-- resolved with the caller's search_path; only ordinary and partitioned tables. The
-- write counters are since the table statistics were reset (the database's
-- stats_reset, else the server's start).
SELECT r.name,
       c.oid::int8 AS oid,
       n.nspname::text AS schema,
       c.relname::text AS "table",
       GREATEST(c.reltuples, 0)::float8 AS reltuples,
       c.relpages::int8 AS relpages,
       coalesce(s.n_tup_ins, 0)::int8 AS n_tup_ins,
       coalesce(s.n_tup_upd, 0)::int8 AS n_tup_upd,
       coalesce(s.n_tup_hot_upd, 0)::int8 AS n_tup_hot_upd,
       coalesce(s.n_tup_del, 0)::int8 AS n_tup_del,
       EXTRACT(epoch FROM pg_catalog.now() - coalesce(
           (SELECT d.stats_reset FROM pg_catalog.pg_stat_database AS d
            WHERE d.datname = pg_catalog.current_database()),
           pg_catalog.pg_postmaster_start_time()))::float8 AS stats_seconds
FROM pg_catalog.unnest($1::text[]) AS r(name)
JOIN pg_catalog.pg_class AS c ON c.oid = pg_catalog.to_regclass(r.name)
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_stat_all_tables AS s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p', 'm');

-- name: columns
-- $1 table oids: each column, its planner statistics (pg_stats: NULL when the table was
-- never analyzed or the role may not read them) and whether a btree can index its type
-- (a default btree operator class for the type, its domain's base type, or text for
-- varchar and char).
SELECT a.attrelid::int8 AS oid,
       a.attname::text AS "column",
       st.n_distinct::float8 AS n_distinct,
       st.avg_width::int8 AS avg_width,
       st.correlation::float8 AS correlation,
       EXISTS (
           SELECT 1
           FROM pg_catalog.pg_opclass AS oc
           JOIN pg_catalog.pg_am AS am ON am.oid = oc.opcmethod
           JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
           WHERE am.amname = 'btree' AND oc.opcdefault
             AND (oc.opcintype = a.atttypid
                  OR oc.opcintype = t.typbasetype
                  OR (oc.opcintype = 'pg_catalog.text'::pg_catalog.regtype
                      AND a.atttypid IN ('pg_catalog.varchar'::pg_catalog.regtype,
                                         'pg_catalog.bpchar'::pg_catalog.regtype))
                  OR (oc.opcintype = 'pg_catalog.anyarray'::pg_catalog.regtype
                      AND t.typcategory = 'A')
                  OR (oc.opcintype = 'pg_catalog.anyenum'::pg_catalog.regtype
                      AND t.typtype = 'e'))
       ) AS btree
FROM pg_catalog.pg_attribute AS a
JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_stats AS st
       ON st.schemaname = n.nspname AND st.tablename = c.relname AND st.attname = a.attname
      AND NOT st.inherited
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped;

-- name: indexes
-- $1 table oids: their indexes, key columns in order (NULL for an expression).
SELECT i.indrelid::int8 AS oid,
       ic.relname::text AS index,
       am.amname::text AS method,
       i.indisvalid AND i.indisready AS valid,
       i.indpred IS NOT NULL AS partial,
       ARRAY(
           SELECT a.attname::text
           FROM pg_catalog.generate_subscripts(i.indkey, 1) AS k(pos)
           LEFT JOIN pg_catalog.pg_attribute AS a
                  ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.pos]
           WHERE k.pos < i.indnkeyatts
           ORDER BY k.pos
       ) AS columns
FROM pg_catalog.pg_index AS i
JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_am AS am ON am.oid = ic.relam
WHERE i.indrelid = ANY($1::oid[]);

-- name: hypothetical_indexes
-- The hypothetical indexes of this session (hypopg): the advisor removes only its own.
SELECT h.indexrelid::int8 AS oid FROM {{hypopg}}.hypopg_list_indexes AS h;

-- name: create_hypothetical
-- $1 the CREATE INDEX statement (identifiers quoted by pgstatkit); in this session only.
SELECT h.indexrelid::int8 AS oid, h.indexname::text AS name,
       {{hypopg}}.hypopg_relation_size(h.indexrelid)::int8 AS size_bytes
FROM {{hypopg}}.hypopg_create_index($1::text) AS h;

-- name: drop_hypothetical
-- $1 oid of a hypothetical index of the advisor's.
SELECT {{hypopg}}.hypopg_drop_index($1::oid) AS dropped;

-- name: drop_new_hypothetical
-- $1 the oids that existed before the advisor ran: every other one is the advisor's.
SELECT {{hypopg}}.hypopg_drop_index(h.indexrelid) AS dropped
FROM {{hypopg}}.hypopg_list_indexes AS h
WHERE h.indexrelid::int8 <> ALL($1::int8[]);

-- name: generic_plans
SELECT pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true) AS mode;

-- The health checks of stats.health (pgstatkit/_health.py). Read-only catalog and
-- statistics queries; search_path is pinned to pg_catalog by the guard, so catalog
-- names need no schema. Relation names come out as regclass::text: schema-qualified
-- (pg_catalog is the only schema on the path) and quoted where needed, ready to paste
-- into the fix. Sizes are relpages * block_size (no relation lock is taken, unlike
-- pg_relation_size, so a table locked by someone else never stalls the check).

-- name: environment
-- What the checks need to know (the call's lock timeout is set by the guard).
SELECT pg_catalog.current_database()::text AS database,
       pg_catalog.current_setting('server_version_num')::int4 AS server_version_num,
       r.rolsuper AS superuser,
       pg_catalog.pg_has_role(CURRENT_USER, 'pg_read_all_stats', 'MEMBER') AS read_all_stats,
       CURRENT_USER::text AS role,
       pg_catalog.pg_is_in_recovery() AS in_recovery,
       pg_catalog.current_setting('block_size')::int8 AS block_size,
       pg_catalog.current_setting('max_connections')::int8 AS max_connections,
       pg_catalog.current_setting('superuser_reserved_connections')::int8
         + coalesce(pg_catalog.current_setting('reserved_connections', true), '0')::int8
         AS reserved_connections,
       pg_catalog.current_setting('autovacuum_freeze_max_age')::int8 AS autovacuum_freeze_max_age,
       pg_catalog.current_setting('autovacuum_multixact_freeze_max_age')::int8
         AS autovacuum_multixact_freeze_max_age,
       pg_catalog.current_setting('autovacuum_vacuum_threshold')::float8 AS vacuum_threshold,
       pg_catalog.current_setting('autovacuum_vacuum_scale_factor')::float8 AS vacuum_scale_factor,
       pg_catalog.current_setting('autovacuum_analyze_threshold')::float8 AS analyze_threshold,
       pg_catalog.current_setting('autovacuum_analyze_scale_factor')::float8
         AS analyze_scale_factor,
       pg_catalog.current_setting('autovacuum_vacuum_insert_threshold', true)::float8
         AS insert_threshold,
       pg_catalog.current_setting('autovacuum_vacuum_insert_scale_factor', true)::float8
         AS insert_scale_factor,
       pg_catalog.current_setting('pg_stat_statements.max', true) AS pgss_max,
       pg_catalog.current_setting('shared_buffers') AS shared_buffers,
       (SELECT EXTRACT(EPOCH FROM pg_catalog.now()
                       - coalesce(d.stats_reset, pg_catalog.pg_postmaster_start_time()))::float8
        FROM pg_catalog.pg_stat_database AS d
        WHERE d.datname = pg_catalog.current_database()) AS stats_age_s
FROM pg_catalog.pg_roles AS r
WHERE r.rolname = CURRENT_USER;

-- name: unused_indexes
-- Indexes never scanned since the statistics were reset: not unique, not backing a
-- constraint (primary key, unique, exclusion), valid, at least $1 bytes.
SELECT i.indexrelid::regclass::text AS index,
       i.indrelid::regclass::text AS "table",
       s.idx_scan,
       c.relpages::int8 * pg_catalog.current_setting('block_size')::int8 AS size_bytes,
       pg_catalog.pg_get_indexdef(i.indexrelid) AS definition
FROM pg_catalog.pg_stat_user_indexes AS s
JOIN pg_catalog.pg_index AS i ON i.indexrelid = s.indexrelid
JOIN pg_catalog.pg_class AS c ON c.oid = i.indexrelid
WHERE s.idx_scan = 0
  AND NOT i.indisunique
  AND NOT i.indisprimary
  AND i.indisvalid
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS k WHERE k.conindid = i.indexrelid)
  AND c.relpages::int8 * pg_catalog.current_setting('block_size')::int8 >= $1
ORDER BY size_bytes DESC, index
LIMIT $2;

-- name: duplicate_indexes
-- Btree indexes whose key columns (with their opclasses, collations and options) are
-- a prefix of another valid btree index's on the same table, with the same predicate
-- and the same expressions. A unique index is only redundant beside an identical
-- unique one; an index that backs a constraint is never the one to drop; of two
-- identical indexes, the younger (higher OID) is reported.
WITH idx AS (
    SELECT i.indexrelid, i.indrelid, i.indisunique,
           (pg_catalog.string_to_array(i.indkey::text, ' ')::int4[])[1:i.indnkeyatts] AS keys,
           (pg_catalog.string_to_array(i.indclass::text, ' ')::oid[])[1:i.indnkeyatts] AS classes,
           (pg_catalog.string_to_array(i.indcollation::text, ' ')::oid[])[1:i.indnkeyatts]
             AS collations,
           (pg_catalog.string_to_array(i.indoption::text, ' ')::int4[])[1:i.indnkeyatts]
             AS options,
           i.indnatts = i.indnkeyatts AS no_include,
           pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS predicate,
           pg_catalog.pg_get_expr(i.indexprs, i.indrelid) AS expressions,
           EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
                   WHERE k.conindid = i.indexrelid) AS backs_constraint,
           c.relpages
    FROM pg_catalog.pg_index AS i
    JOIN pg_catalog.pg_class AS c ON c.oid = i.indexrelid
    JOIN pg_catalog.pg_am AS am ON am.oid = c.relam
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE am.amname = 'btree' AND i.indisvalid AND i.indislive
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast'
)
SELECT a.indexrelid::regclass::text AS index,
       b.indexrelid::regclass::text AS covered_by,
       a.indrelid::regclass::text AS "table",
       a.keys = b.keys AS identical,
       a.relpages::int8 * pg_catalog.current_setting('block_size')::int8 AS size_bytes,
       pg_catalog.pg_get_indexdef(a.indexrelid) AS definition,
       pg_catalog.pg_get_indexdef(b.indexrelid) AS covered_by_definition
FROM idx AS a
JOIN idx AS b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
WHERE a.no_include
  AND NOT a.backs_constraint
  AND pg_catalog.cardinality(a.keys) <= pg_catalog.cardinality(b.keys)
  AND b.keys[1:pg_catalog.cardinality(a.keys)] = a.keys
  AND b.classes[1:pg_catalog.cardinality(a.keys)] = a.classes
  AND b.collations[1:pg_catalog.cardinality(a.keys)] = a.collations
  AND b.options[1:pg_catalog.cardinality(a.keys)] = a.options
  AND a.predicate IS NOT DISTINCT FROM b.predicate
  AND a.expressions IS NOT DISTINCT FROM b.expressions
  AND (NOT a.indisunique OR (b.indisunique AND a.keys = b.keys))
  AND (a.keys <> b.keys
       OR b.backs_constraint
       OR (b.indisunique AND NOT a.indisunique)
       OR (a.indisunique = b.indisunique AND a.indexrelid > b.indexrelid))
ORDER BY size_bytes DESC, index, covered_by
LIMIT $1;

-- name: invalid_indexes
-- Indexes left invalid (a failed CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY),
-- except those being built right now.
SELECT i.indexrelid::regclass::text AS index,
       i.indrelid::regclass::text AS "table",
       c.relpages::int8 * pg_catalog.current_setting('block_size')::int8 AS size_bytes,
       pg_catalog.pg_get_indexdef(i.indexrelid) AS definition
FROM pg_catalog.pg_index AS i
JOIN pg_catalog.pg_class AS c ON c.oid = i.indexrelid
WHERE NOT i.indisvalid
  AND c.relpersistence <> 't'
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_stat_progress_create_index AS p
                  WHERE p.index_relid = i.indexrelid OR p.relid = i.indrelid)
ORDER BY index
LIMIT $1;

-- name: foreign_keys_without_index
-- Foreign keys whose referencing columns are not the leading key columns (in any
-- order) of a valid, non-partial index on the referencing table.
SELECT k.conname::text AS "constraint",
       k.conrelid::regclass::text AS "table",
       k.confrelid::regclass::text AS referenced,
       c.relkind::text AS relkind,
       ARRAY(SELECT pg_catalog.quote_ident(a.attname)
             FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY AS u (attnum, ord)
             JOIN pg_catalog.pg_attribute AS a
               ON a.attrelid = k.conrelid AND a.attnum = u.attnum
             ORDER BY u.ord) AS columns,
       c.relpages::int8 * pg_catalog.current_setting('block_size')::int8 AS table_bytes,
       greatest(c.reltuples, 0)::float8 AS table_rows
FROM pg_catalog.pg_constraint AS k
JOIN pg_catalog.pg_class AS c ON c.oid = k.conrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE k.contype = 'f'
  AND k.conparentid = 0
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_index AS i
      WHERE i.indrelid = k.conrelid
        AND i.indisvalid
        AND i.indpred IS NULL
        AND i.indnkeyatts >= pg_catalog.cardinality(k.conkey)
        AND (pg_catalog.string_to_array(i.indkey::text, ' ')::int2[])
              [1:pg_catalog.cardinality(k.conkey)] @> k.conkey
        AND (pg_catalog.string_to_array(i.indkey::text, ' ')::int2[])
              [1:pg_catalog.cardinality(k.conkey)] <@ k.conkey)
ORDER BY table_bytes DESC, "table", "constraint"
LIMIT $1;

-- name: bloat
-- An estimate from catalog statistics alone (no extension): the pages a relation
-- would need for reltuples rows of the average width pg_stats gives (tuple header 24
-- bytes, MAXALIGN 8, line pointer 4, page header 24, the fillfactor), against the
-- pages it has. Tables (and materialized views) whose every column has statistics,
-- and btree indexes on plain columns; relations of at least $1 bytes. Like PgHero's
-- and check_postgres' estimates it ignores TOAST and null bitmaps: a rough figure.
WITH rels AS (
    SELECT c.oid, c.relkind, c.relpages::int8 AS relpages, greatest(c.reltuples, 0) AS reltuples,
           CASE WHEN c.relkind = 'i' THEN i.indrelid ELSE c.oid END AS tableoid,
           CASE WHEN c.relkind = 'i'
                THEN (pg_catalog.string_to_array(i.indkey::text, ' ')::int2[])[1:i.indnkeyatts]
           END AS keys,
           coalesce((SELECT (pg_catalog.regexp_match(o, '^fillfactor=(\d+)$'))[1]::int4
                     FROM pg_catalog.unnest(c.reloptions) AS o
                     WHERE o LIKE 'fillfactor=%'),
                    CASE WHEN c.relkind = 'i' THEN 90 ELSE 100 END) AS fillfactor
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_index AS i ON i.indexrelid = c.oid
    LEFT JOIN pg_catalog.pg_am AS am ON am.oid = c.relam
    WHERE c.relpages::int8 * pg_catalog.current_setting('block_size')::int8 >= $1
      AND c.relpersistence <> 't'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast'
      AND (c.relkind IN ('r', 'm')
           OR (c.relkind = 'i' AND am.amname = 'btree' AND i.indexprs IS NULL))
),
cols AS (
    SELECT r.oid, tn.nspname AS schemaname, tc.relname AS tablename, a.attname
    FROM rels AS r
    JOIN pg_catalog.pg_class AS tc ON tc.oid = r.tableoid
    JOIN pg_catalog.pg_namespace AS tn ON tn.oid = tc.relnamespace
    JOIN pg_catalog.pg_attribute AS a
      ON a.attrelid = r.tableoid AND a.attnum > 0 AND NOT a.attisdropped
     AND (r.keys IS NULL OR a.attnum = ANY (r.keys))
),
stats AS MATERIALIZED (
    -- pg_stats shows only the columns this role may read: others count as missing.
    -- Read once (a join into the view per column costs seconds on large catalogs).
    SELECT s.schemaname, s.tablename, s.attname, s.avg_width
    FROM pg_catalog.pg_stats AS s
    WHERE NOT s.inherited
),
widths AS (
    SELECT c.oid, count(*) AS columns, count(s.avg_width) AS with_stats,
           sum(s.avg_width)::float8 AS width
    FROM cols AS c
    LEFT JOIN stats AS s
      ON s.schemaname = c.schemaname AND s.tablename = c.tablename
     AND s.attname = c.attname
    GROUP BY c.oid
)
SELECT r.oid::regclass::text AS relation,
       r.tableoid::regclass::text AS "table",
       r.relkind::text AS relkind,
       r.relpages * pg_catalog.current_setting('block_size')::int8 AS size_bytes,
       r.reltuples::float8 AS reltuples,
       w.width,
       r.fillfactor
FROM rels AS r
JOIN widths AS w ON w.oid = r.oid
WHERE w.columns > 0 AND w.with_stats = w.columns
ORDER BY size_bytes DESC
LIMIT $2;

-- name: wraparound_databases
-- Transaction ID and multixact ages of every database's oldest unfrozen row.
SELECT d.datname::text AS database,
       pg_catalog.age(d.datfrozenxid)::int8 AS xid_age,
       pg_catalog.mxid_age(d.datminmxid)::int8 AS mxid_age,
       d.datallowconn AS allows_connections
FROM pg_catalog.pg_database AS d
ORDER BY d.datname;

-- name: xid_tables
-- Tables of the current database whose relfrozenxid age is at least $1 (a TOAST table
-- counts for its main table), oldest first, at most $2. The system catalogs are left
-- to the per-database age (datfrozenxid), which counts them and which a database-wide
-- VACUUM FREEZE fixes.
SELECT coalesce(m.oid, c.oid)::regclass::text AS "table",
       pg_catalog.age(c.relfrozenxid)::int8 AS age
FROM pg_catalog.pg_class AS c
LEFT JOIN pg_catalog.pg_class AS m ON m.reltoastrelid = c.oid AND c.relkind = 't'
JOIN pg_catalog.pg_namespace AS n ON n.oid = coalesce(m.relnamespace, c.relnamespace)
WHERE c.relkind IN ('r', 'm', 't')
  AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND pg_catalog.age(c.relfrozenxid) >= $1
ORDER BY age DESC, 1
LIMIT $2;

-- name: mxid_tables
-- The same for the multixact age of relminmxid.
SELECT coalesce(m.oid, c.oid)::regclass::text AS "table",
       pg_catalog.mxid_age(c.relminmxid)::int8 AS age
FROM pg_catalog.pg_class AS c
LEFT JOIN pg_catalog.pg_class AS m ON m.reltoastrelid = c.oid AND c.relkind = 't'
JOIN pg_catalog.pg_namespace AS n ON n.oid = coalesce(m.relnamespace, c.relnamespace)
WHERE c.relkind IN ('r', 'm', 't')
  AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND pg_catalog.mxid_age(c.relminmxid) >= $1
ORDER BY age DESC, 1
LIMIT $2;

-- name: sequences
-- Every sequence of the current database with the integer columns it feeds (its
-- owner column, an identity column, or a column whose DEFAULT calls it). last_value
-- is NULL where the role may not read the sequence (or it was never used).
WITH seqs AS (
    SELECT c.oid, c.oid::regclass::text AS sequence,
           s.seqtypid::regtype::text AS sequence_type,
           s.seqmin, s.seqmax, s.seqincrement, s.seqcycle,
           pg_catalog.has_sequence_privilege(c.oid, 'SELECT,USAGE') AS readable,
           CASE WHEN pg_catalog.has_sequence_privilege(c.oid, 'SELECT,USAGE')
                THEN pg_catalog.pg_sequence_last_value(c.oid) END AS last_value
    FROM pg_catalog.pg_sequence AS s
    JOIN pg_catalog.pg_class AS c ON c.oid = s.seqrelid
    WHERE c.relpersistence <> 't'
),
feeds AS (
    SELECT d.objid AS seq, d.refobjid AS rel, d.refobjsubid::int2 AS attnum,
           d.deptype = 'i' AS identity
    FROM pg_catalog.pg_depend AS d
    WHERE d.classid = 'pg_catalog.pg_class'::regclass
      AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
    UNION
    SELECT d.refobjid, ad.adrelid, ad.adnum, false
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_attrdef AS ad ON ad.oid = d.objid
    WHERE d.classid = 'pg_catalog.pg_attrdef'::regclass
      AND d.refclassid = 'pg_catalog.pg_class'::regclass
)
SELECT s.sequence, s.sequence_type, s.seqmin, s.seqmax, s.seqincrement, s.seqcycle,
       s.readable, s.last_value,
       f.rel::regclass::text AS "table",
       pg_catalog.quote_ident(a.attname) AS "column",
       a.atttypid::regtype::text AS column_type,
       coalesce(bool_or(f.identity) OVER (PARTITION BY s.oid), false) AS identity
FROM seqs AS s
LEFT JOIN feeds AS f ON f.seq = s.oid
LEFT JOIN pg_catalog.pg_attribute AS a
  ON a.attrelid = f.rel AND a.attnum = f.attnum AND NOT a.attisdropped
ORDER BY s.sequence, "table", "column";

-- name: activity
-- Every other session the role may see, with the sessions blocking it.
SELECT a.pid,
       a.usename::text AS role,
       a.datname::text AS database,
       a.state,
       a.backend_type,
       EXTRACT(EPOCH FROM pg_catalog.now() - a.query_start)::float8 * 1000 AS query_ms,
       EXTRACT(EPOCH FROM pg_catalog.now() - a.xact_start)::float8 * 1000 AS xact_ms,
       EXTRACT(EPOCH FROM pg_catalog.now() - a.state_change)::float8 * 1000 AS state_ms,
       pg_catalog.left(a.query, 300) AS query,
       pg_catalog.pg_blocking_pids(a.pid) AS blocked_by
FROM pg_catalog.pg_stat_activity AS a
WHERE a.pid <> pg_catalog.pg_backend_pid()
ORDER BY a.pid;

-- name: vacuum
-- Tables with at least $1 dead rows, or never vacuumed or never analyzed with at
-- least $1 rows changed; with their autovacuum settings (reloptions).
SELECT s.relid::regclass::text AS "table",
       s.n_live_tup,
       s.n_dead_tup,
       s.n_mod_since_analyze,
       (pg_catalog.to_jsonb(s) ->> 'n_ins_since_vacuum')::int8 AS n_ins_since_vacuum,
       (s.last_vacuum IS NOT NULL OR s.last_autovacuum IS NOT NULL) AS vacuumed,
       (s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL) AS analyzed,
       greatest(c.reltuples, 0)::float8 AS reltuples,
       coalesce(c.reloptions, '{}') AS reloptions
FROM pg_catalog.pg_stat_user_tables AS s
JOIN pg_catalog.pg_class AS c ON c.oid = s.relid
WHERE c.relkind IN ('r', 'm')
  AND (s.n_dead_tup >= $1 OR s.n_mod_since_analyze >= $1
       OR (pg_catalog.to_jsonb(s) ->> 'n_ins_since_vacuum')::int8 >= $1)
ORDER BY s.n_dead_tup DESC, 1
LIMIT $2;

-- name: replication_slots
-- Every replication slot with the WAL it keeps from removal (bytes from restart_lsn
-- to the current WAL position; on a standby, the last replayed one).
SELECT s.slot_name::text AS slot,
       s.slot_type::text AS slot_type,
       s.database::text AS database,
       s.active,
       pg_catalog.pg_wal_lsn_diff(
           CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
                ELSE pg_catalog.pg_current_wal_lsn() END,
           s.restart_lsn)::int8 AS retained_bytes,
       pg_catalog.to_jsonb(s) ->> 'wal_status' AS wal_status
FROM pg_catalog.pg_replication_slots AS s
ORDER BY s.slot_name;

-- name: replicas
-- On a primary: each standby streaming from it, its lag in bytes and time; the time
-- columns are NULL while the standby is idle and caught up.
SELECT r.pid,
       coalesce(nullif(r.application_name, ''), r.client_addr::text, 'pid ' || r.pid)::text
         AS replica,
       r.state,
       CASE WHEN NOT pg_catalog.pg_is_in_recovery()
            THEN pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.replay_lsn)::int8
       END AS lag_bytes,
       EXTRACT(EPOCH FROM r.replay_lag)::float8 * 1000 AS replay_lag_ms
FROM pg_catalog.pg_stat_replication AS r
ORDER BY replica;

-- name: standby_lag
-- On a standby: how far behind the primary its replay is (NULL on a primary).
SELECT CASE WHEN pg_catalog.pg_is_in_recovery()
            THEN EXTRACT(EPOCH FROM pg_catalog.now()
                         - pg_catalog.pg_last_xact_replay_timestamp())::float8 * 1000
       END AS replay_delay_ms,
       CASE WHEN pg_catalog.pg_is_in_recovery()
            THEN pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(),
                                            pg_catalog.pg_last_wal_replay_lsn())::int8
       END AS replay_backlog_bytes;

-- name: prepared_transactions
SELECT p.gid,
       p.database::text AS database,
       p.owner::text AS owner,
       EXTRACT(EPOCH FROM pg_catalog.now() - p.prepared)::float8 * 1000 AS age_ms,
       pg_catalog.age(p.transaction)::int8 AS xid_age
FROM pg_catalog.pg_prepared_xacts AS p
ORDER BY p.prepared;

-- name: pg_stat_statements
-- {{schema}}: the extension's schema, quoted. The entries, and whether this role may
-- call pg_stat_file (the EXECUTE check happens when a statement is planned, whatever
-- a CASE would take, so the file is read by a statement of its own).
SELECT (SELECT count(*) FROM {{schema}}.pg_stat_statements(false)) AS entries,
       pg_catalog.has_function_privilege('pg_catalog.pg_stat_file(text, boolean)', 'EXECUTE')
         AS may_stat_file;

-- name: pgss_text_file
-- The size of pg_stat_statements' query-text file (NULL if it does not exist).
SELECT (pg_catalog.pg_stat_file('pg_stat_tmp/pgss_query_texts.stat', true)).size
         AS text_file_bytes;

-- name: pg_stat_statements_info
-- pg_stat_statements 1.9+: deallocations since the last full reset.
SELECT i.dealloc, i.stats_reset FROM {{schema}}.pg_stat_statements_info AS i;

-- name: cache_hit
-- Buffer cache hits of the current database since its statistics were reset.
SELECT d.blks_hit, d.blks_read
FROM pg_catalog.pg_stat_database AS d
WHERE d.datname = pg_catalog.current_database();

-- name: pgstattuple_schema
-- Where the pgstattuple extension is (no row: not created in this database).
SELECT n.nspname::text AS schema
FROM pg_catalog.pg_extension AS e
JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
WHERE e.extname = 'pgstattuple';

-- name: pgstattuple_table
-- Exact figures of one table ($1: its name as regclass text); reads all of it.
SELECT t.table_len, t.dead_tuple_len, t.free_space
FROM {{schema}}.pgstattuple($1::text::regclass) AS t;

-- name: pgstattuple_index
-- Exact figures of one btree index ($1: its name as regclass text); reads all of it.
SELECT i.index_size, i.avg_leaf_density
FROM {{schema}}.pgstatindex($1::text::regclass) AS i;

-- name: cache_history
-- pgstatkit's history store in this database, if any: the schema that holds
-- history_databases beside pgstatkit_meta, and whether this role may read it.
SELECT n.nspname::text AS schema,
       pg_catalog.has_table_privilege(c.oid, 'SELECT') AS readable
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relname = 'history_databases' AND c.relkind IN ('r', 'p')
  AND EXISTS (SELECT FROM pg_catalog.pg_class AS m
              WHERE m.relnamespace = c.relnamespace AND m.relname = 'pgstatkit_meta')
ORDER BY n.nspname = 'pgstatkit' DESC, n.nspname
LIMIT 1;

-- name: cache_trend
-- {{schema}}: the history store's schema, quoted. This database's oldest snapshot of
-- the last $1 hours (pg_stat_database's blks_hit and blks_read then), per target that
-- recorded it under this database's OID and name; the caller compares with now.
SELECT count(*) OVER () AS targets,
       d.captured_at,
       EXTRACT(EPOCH FROM pg_catalog.now() - d.captured_at)::float8 AS age_s,
       (d.stats ->> 'blks_hit')::int8 AS blks_hit,
       (d.stats ->> 'blks_read')::int8 AS blks_read
FROM (
    SELECT DISTINCT ON (h.target_id) h.target_id, h.captured_at, h.stats
    FROM {{schema}}.history_databases AS h
    WHERE h.datid = (SELECT oid FROM pg_catalog.pg_database
                     WHERE datname = pg_catalog.current_database())
      AND h.stats ->> 'datname' = pg_catalog.current_database()
      AND h.captured_at >= pg_catalog.now() - pg_catalog.make_interval(hours => $1::int4)
    ORDER BY h.target_id, h.captured_at
) AS d;

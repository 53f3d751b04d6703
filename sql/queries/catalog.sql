-- Queries over PostgreSQL's cumulative statistics views.
-- Columns that only some server versions have are read through to_jsonb(row) ->> 'name',
-- which is NULL where the column does not exist: one text for every supported version.
-- Ratios are 0..1 fractions (NULL when there is nothing to divide); times are ms; sizes bytes.

-- name: database_statistics
SELECT d.datname::text AS database,
       pg_catalog.pg_database_size(d.datid) AS size_bytes,
       d.numbackends::int8 AS backends,
       d.xact_commit AS commits,
       d.xact_rollback AS rollbacks,
       d.blks_read,
       d.blks_hit,
       CASE WHEN d.blks_hit + d.blks_read > 0
            THEN d.blks_hit::float8 / (d.blks_hit + d.blks_read) END AS cache_hit_ratio,
       d.tup_returned,
       d.tup_fetched,
       d.tup_inserted,
       d.tup_updated,
       d.tup_deleted,
       d.conflicts,
       d.temp_files,
       d.temp_bytes,
       d.deadlocks,
       d.checksum_failures,
       d.blk_read_time AS blk_read_time_ms,
       d.blk_write_time AS blk_write_time_ms,
       (j ->> 'session_time')::float8 AS session_time_ms,
       (j ->> 'active_time')::float8 AS active_time_ms,
       (j ->> 'idle_in_transaction_time')::float8 AS idle_in_transaction_time_ms,
       (j ->> 'sessions')::int8 AS sessions,
       (j ->> 'sessions_abandoned')::int8 AS sessions_abandoned,
       (j ->> 'sessions_fatal')::int8 AS sessions_fatal,
       (j ->> 'sessions_killed')::int8 AS sessions_killed,
       (j ->> 'parallel_workers_to_launch')::int8 AS parallel_workers_to_launch,
       (j ->> 'parallel_workers_launched')::int8 AS parallel_workers_launched,
       d.stats_reset
FROM pg_catalog.pg_stat_database AS d
CROSS JOIN LATERAL pg_catalog.to_jsonb(d) AS j
WHERE d.datname = pg_catalog.current_database();

-- name: table_statistics
-- $1 row limit; {{order_by}} is one of the fixed ORDER BY clauses in pgstatkit/_operations.py.
-- $2 true to include pgstatkit's own tables; $3 their names (pgstatkit/_own.py), the first
-- being pgstatkit_meta: a table of those names is pgstatkit's when its schema holds
-- pgstatkit_meta.
SELECT t.schemaname::text AS schema,
       t.relname::text AS "table",
       t.seq_scan,
       t.seq_tup_read,
       t.idx_scan,
       t.idx_tup_fetch,
       t.n_tup_ins,
       t.n_tup_upd,
       t.n_tup_del,
       t.n_tup_hot_upd,
       t.n_live_tup,
       t.n_dead_tup,
       CASE WHEN t.n_live_tup + t.n_dead_tup > 0
            THEN t.n_dead_tup::float8 / (t.n_live_tup + t.n_dead_tup) END AS dead_tuple_ratio,
       t.n_mod_since_analyze,
       t.n_ins_since_vacuum,
       t.last_vacuum,
       t.last_autovacuum,
       t.last_analyze,
       t.last_autoanalyze,
       t.vacuum_count,
       t.autovacuum_count,
       t.analyze_count,
       t.autoanalyze_count,
       (j ->> 'last_seq_scan')::timestamptz AS last_seq_scan,
       (j ->> 'last_idx_scan')::timestamptz AS last_idx_scan,
       pg_catalog.pg_total_relation_size(t.relid) AS total_size_bytes,
       pg_catalog.pg_relation_size(t.relid) AS table_size_bytes,
       pg_catalog.pg_indexes_size(t.relid) AS indexes_size_bytes,
       io.heap_blks_read,
       io.heap_blks_hit,
       CASE WHEN io.heap_blks_hit + io.heap_blks_read > 0
            THEN io.heap_blks_hit::float8 / (io.heap_blks_hit + io.heap_blks_read) END
           AS cache_hit_ratio
FROM pg_catalog.pg_stat_user_tables AS t
CROSS JOIN LATERAL pg_catalog.to_jsonb(t) AS j
LEFT JOIN pg_catalog.pg_statio_user_tables AS io ON io.relid = t.relid
WHERE $2::bool
   OR NOT EXISTS (SELECT FROM pg_catalog.pg_class AS c
                  JOIN pg_catalog.pg_class AS meta ON meta.relnamespace = c.relnamespace
                  WHERE c.oid = t.relid AND meta.relname = ($3::text[])[1]
                    AND meta.relkind = 'r'
                    AND (c.relname = ANY ($3::text[])
                         OR EXISTS (SELECT FROM pg_catalog.pg_inherits AS h
                                    JOIN pg_catalog.pg_class AS parent
                                      ON parent.oid = h.inhparent
                                    WHERE h.inhrelid = c.oid
                                      AND parent.relname = ANY ($3::text[]))))
ORDER BY {{order_by}}
LIMIT $1;

-- name: index_usage
-- $1 row limit. Unused: never scanned and not backing a unique, primary-key or
-- exclusion constraint (those are used by every write even without scans).
-- $2, $3: pgstatkit's own tables, whose indexes are left out, as in table_statistics.
SELECT i.schemaname::text AS schema,
       i.relname::text AS "table",
       i.indexrelname::text AS index,
       i.idx_scan,
       i.idx_tup_read,
       i.idx_tup_fetch,
       pg_catalog.pg_relation_size(i.indexrelid) AS size_bytes,
       x.indisunique AS is_unique,
       x.indisprimary AS is_primary,
       (i.idx_scan = 0 AND NOT x.indisunique AND NOT x.indisprimary AND NOT x.indisexclusion)
           AS unused,
       (j ->> 'last_idx_scan')::timestamptz AS last_idx_scan,
       pg_catalog.pg_get_indexdef(i.indexrelid) AS definition
FROM pg_catalog.pg_stat_user_indexes AS i
JOIN pg_catalog.pg_index AS x ON x.indexrelid = i.indexrelid
CROSS JOIN LATERAL pg_catalog.to_jsonb(i) AS j
WHERE $2::bool
   OR NOT EXISTS (SELECT FROM pg_catalog.pg_class AS c
                  JOIN pg_catalog.pg_class AS meta ON meta.relnamespace = c.relnamespace
                  WHERE c.oid = i.relid AND meta.relname = ($3::text[])[1]
                    AND meta.relkind = 'r'
                    AND (c.relname = ANY ($3::text[])
                         OR EXISTS (SELECT FROM pg_catalog.pg_inherits AS h
                                    JOIN pg_catalog.pg_class AS parent
                                      ON parent.oid = h.inhparent
                                    WHERE h.inhrelid = c.oid
                                      AND parent.relname = ANY ($3::text[]))))
ORDER BY unused DESC, i.idx_scan ASC, size_bytes DESC, schema, "table", index
LIMIT $1;

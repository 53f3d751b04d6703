-- Queries over pg_stat_statements.
-- {{statements}} is replaced by pgstatkit with a normalized projection of the
-- pg_stat_statements view for the extension version installed in the database
-- (pgstatkit/_columns.py): every column has the name and unit of the matching
-- pgstatkit.models.QueryStat field, and a column the version lacks is a typed NULL.
-- The projection already computes cache_hit_ratio and percent_of_total_time.
-- Only that generated, quoted text is substituted: values are always bound as $n.

-- name: slow_queries
-- $1 min mean execution time in ms, $2 row limit.
SELECT s.*
FROM {{statements}} AS s
WHERE s.mean_exec_time_ms >= $1
ORDER BY s.mean_exec_time_ms DESC, s.calls DESC
LIMIT $2;

-- name: top_queries_by_total_time
-- $1 row limit.
SELECT s.*
FROM {{statements}} AS s
ORDER BY s.total_exec_time_ms DESC, s.calls DESC
LIMIT $1;

-- name: queries_with_low_cache_hit
-- $1 max cache hit ratio (0..1), $2 row limit. Only statements that touched blocks.
SELECT s.*
FROM {{statements}} AS s
WHERE s.cache_hit_ratio IS NOT NULL
  AND s.cache_hit_ratio <= $1
ORDER BY s.cache_hit_ratio ASC, s.shared_blks_read DESC
LIMIT $2;

-- name: reset_all
SELECT NULL::timestamptz AS stats_reset
FROM (SELECT {{schema}}.pg_stat_statements_reset()) AS r;

-- name: reset_all_1_11
SELECT {{schema}}.pg_stat_statements_reset() AS stats_reset;

-- name: reset_query
-- $1 queryid: every entry with that queryid (any user, any database).
SELECT NULL::timestamptz AS stats_reset
FROM (SELECT {{schema}}.pg_stat_statements_reset(0, 0, $1::int8)) AS r;

-- name: reset_query_1_11
SELECT {{schema}}.pg_stat_statements_reset(0, 0, $1::int8) AS stats_reset;

-- name: reset_minmax_1_11
-- $1 queryid, 0 for every statement: only the min/max times and minmax_stats_since.
SELECT {{schema}}.pg_stat_statements_reset(0, 0, $1::int8, true) AS stats_reset;

-- name: count_query
-- $1 queryid: how many entries reset_query would reset (any user, any database), as far
-- as this role can see (another user's queryid is NULL without pg_read_all_stats).
SELECT count(*) AS entries,
       pg_catalog.pg_has_role(CURRENT_USER, 'pg_read_all_stats', 'MEMBER') AS sees_all
FROM {{schema}}.pg_stat_statements(false) AS s
WHERE s.queryid = $1::int8;

-- name: statement_totals
-- The statement metrics (pgstatkit/prometheus.py). Only what they export is read:
-- pg_stat_statements($2) reads the query-text file only when $2 (texts for the query
-- label, or to learn which statements are pgstatkit's own); only the exported columns;
-- no window function. Every entry of a (queryid, dbid, userid) is summed (top-level and
-- nested) *before* the top $1 by total execution time are picked, so an exported
-- counter never goes down without a reset; database and role names are looked up for
-- those $1 rows only. $3: leave out the groups whose text carries pgstatkit's marker
-- ({{own_filter}}, the fixed condition of pgstatkit/_own.py; only with $2). $4: return
-- the texts (the query label). $5: queryids known to be pgstatkit's own, comma-separated
-- (left out without reading texts; text, not int8[], in and out: asyncpg would
-- introspect an int8[] type with statements of its own). $6: every database, not only
-- the current one.
-- own_queryids (only when $2 and $3): every queryid in scope whose text carries the
-- marker, for the caller to leave out next time without reading texts. (The outer
-- SELECT only makes the block a SELECT, as every bundled block is.)
SELECT top.*
FROM (
    WITH g AS (
        SELECT p.queryid,
               p.dbid,
               p.userid,
               pg_catalog.sum(p.calls)::int8 AS calls,
               pg_catalog.sum(p.rows)::int8 AS rows,
               pg_catalog.sum(p.total_exec_time)::float8 AS total_exec_time_ms,
               pg_catalog.sum(p.total_plan_time)::float8 AS total_plan_time_ms,
               pg_catalog.sum(p.shared_blks_hit)::int8 AS shared_blks_hit,
               pg_catalog.sum(p.shared_blks_read)::int8 AS shared_blks_read,
               pg_catalog.sum(p.temp_blks_written)::int8 AS temp_blks_written,
               CASE WHEN $4::bool THEN pg_catalog.min(p.query) END AS query,
               CASE WHEN $3::bool THEN pg_catalog.bool_or(NOT {{own_filter}}) END AS own
        FROM {{schema}}.pg_stat_statements($2::bool) AS p
        WHERE ($6::bool OR p.dbid = (SELECT db.oid FROM pg_catalog.pg_database AS db
                                     WHERE db.datname = pg_catalog.current_database()))
          AND p.queryid IS NOT NULL
          AND p.queryid <> ALL (ARRAY(
                SELECT pg_catalog.unnest(pg_catalog.string_to_array($5::text, ','))::int8))
        GROUP BY p.queryid, p.dbid, p.userid
    )
    SELECT t.queryid,
           d.datname::text AS database,
           r.rolname::text AS username,
           t.calls,
           t.rows,
           t.total_exec_time_ms,
           t.total_plan_time_ms,
           t.shared_blks_hit,
           t.shared_blks_read,
           t.temp_blks_written,
           t.query,
           CASE WHEN $2::bool AND $3::bool
                THEN (SELECT pg_catalog.string_agg(DISTINCT o.queryid::text, ',')
                      FROM g AS o WHERE o.own)
           END AS own_queryids
    FROM (
        SELECT g.*
        FROM g
        WHERE g.own IS NOT TRUE
        ORDER BY g.total_exec_time_ms DESC, g.calls DESC, g.queryid
        LIMIT $1
    ) AS t
    LEFT JOIN pg_catalog.pg_database AS d ON d.oid = t.dbid
    LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = t.userid
) AS top
ORDER BY top.total_exec_time_ms DESC, top.calls DESC, top.queryid;

-- name: deallocations
-- The metrics' pgstatkit_pg_stat_statements_deallocations_total: how many times
-- pg_stat_statements evicted its least-executed entries since its last reset
-- (pg_stat_statements_info, 1.9+; the caller checks the version).
SELECT dealloc FROM {{schema}}.pg_stat_statements_info;

-- name: statement_counters
-- The pytest plugin's per-test delta (pgstatkit.pytest_plugin): the cumulative counters
-- of every entry of the current database, WITHOUT texts (pg_stat_statements(false) does
-- not read the query text file), as ONE row of parallel arrays: thousands of rows cost
-- the client far more to receive than their arrays, and grouping them here costs the
-- server more than the client's summing of the few entries that changed.
-- {{toplevel}} is p.toplevel (1.9+) or NULL::bool (1.8); {{schema}} the extension's
-- quoted schema.
SELECT pg_catalog.array_agg(p.userid::int8) AS userid,
       pg_catalog.array_agg(p.queryid) AS queryid,
       pg_catalog.array_agg({{toplevel}}) AS toplevel,
       pg_catalog.array_agg(p.calls) AS calls,
       pg_catalog.array_agg(p.rows) AS rows,
       pg_catalog.array_agg(p.shared_blks_hit) AS shared_blks_hit,
       pg_catalog.array_agg(p.shared_blks_read) AS shared_blks_read,
       pg_catalog.array_agg(p.total_exec_time) AS total_exec_time_ms,
       pg_catalog.array_agg(p.total_plan_time) AS total_plan_time_ms
FROM {{schema}}.pg_stat_statements(false) AS p
WHERE p.dbid = (SELECT db.oid FROM pg_catalog.pg_database AS db
                WHERE db.datname = pg_catalog.current_database())
  AND p.queryid IS NOT NULL;

-- name: statement_texts
-- $1 queryids (int8[]): one text per queryid of the current database (the plugin asks
-- only for statements it has not seen yet).
SELECT p.queryid, pg_catalog.min(p.query) AS query
FROM {{schema}}.pg_stat_statements(true) AS p
WHERE p.dbid = (SELECT db.oid FROM pg_catalog.pg_database AS db
                WHERE db.datname = pg_catalog.current_database())
  AND p.queryid = ANY ($1::int8[])
GROUP BY p.queryid;

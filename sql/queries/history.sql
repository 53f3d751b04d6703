-- pgstatkit.history: snapshots of pg_stat_statements without reset, exact per-interval
-- deltas, in the tables of schema version 3 (sql/schema/0003_history.sql).
--
-- Two roles: the TARGET is the server whose statistics are read (read-only), the STORE
-- the database whose helper schema keeps them (often the same connection). Markers
-- filled by pgstatkit._history with fixed, generated SQL: {{schema}} the helper schema
-- and {{pgss}} the extension's schema (quoted identifiers); {{counters}} and its
-- relatives the counter columns of history_statements / history_state, in table order;
-- {{toplevel}}, {{stats_since}}, {{info}} what the extension version has. Values are
-- always bound as $n.

-- name: read_target
-- TARGET. The entries whose counters moved since the store's last snapshot, and what a
-- snapshot needs besides. $1 the store's fingerprint: for every entry it knows, one
-- int8 hash of (dbid, userid, queryid, toplevel, calls, plans, stats_since)
-- ({{fingerprint}}, the same expression the store computes in store_previous). An
-- entry whose hash is in $1 did not move (counted in `unchanged`); every other one is
-- returned whole in `moved`, a JSON array of rows (keys, stats_since as microseconds
-- since 1970, then the counters in the order of history_state): new, moved, or
-- re-created. The entries the store knows that are neither unchanged nor moved are
-- gone; the caller counts them and asks read_keys which ones only when there are any.
-- $2 true, or a stats_reset different from $3 (the store's last): every entry is
-- returned (baseline, or the instance was reset).
-- One pass over pg_stat_statements(false), no join, no sort: the query-text file is
-- never read here, and each row costs a hash and a lookup in the hashed $1 (the
-- subquery is kept apart, OFFSET 0, so the hash is computed once per row).
WITH i AS MATERIALIZED (
    SELECT pg_catalog.clock_timestamp() AS captured_at, x.stats_reset, x.dealloc,
           $2::bool OR x.stats_reset IS DISTINCT FROM $3::timestamptz AS full_read
    FROM {{info}} AS x
)
SELECT i.captured_at, i.stats_reset, i.dealloc, i.full_read,
       pg_catalog.current_setting('server_version_num')::int4 AS server_version_num,
       (SELECT d.oid::int8 FROM pg_catalog.pg_database AS d
        WHERE d.datname = pg_catalog.current_database()) AS datid,
       (SELECT pg_catalog.to_jsonb(d)::text FROM pg_catalog.pg_stat_database AS d
        WHERE d.datname = pg_catalog.current_database()) AS database_stats,
       a.unchanged, a.moved
FROM i
CROSS JOIN (
    SELECT pg_catalog.count(*) FILTER (WHERE p.unchanged)::int4 AS unchanged,
           (pg_catalog.json_agg(pg_catalog.json_build_array(
               p.dbid::int8, p.userid::int8, p.queryid, {{toplevel}},
               {{stats_since_us}},
               {{counters}})) FILTER (WHERE NOT p.unchanged))::text AS moved
    FROM (
        SELECT p.*, NOT (SELECT i.full_read FROM i)
                    AND {{fingerprint}} = ANY ($1::int8[]) AS unchanged
        FROM {{pgss}}.pg_stat_statements(false) AS p
        WHERE p.queryid IS NOT NULL
        OFFSET 0
    ) AS p
) AS a;

-- name: read_keys
-- TARGET. The keys of every entry now, as arrays: asked only when entries the store
-- knows are gone (evicted, reset, their database or role dropped), to tell which.
SELECT pg_catalog.array_agg(p.dbid::int8) AS dbid, pg_catalog.array_agg(p.userid::int8) AS userid,
       pg_catalog.array_agg(p.queryid) AS queryid, pg_catalog.array_agg({{toplevel}}) AS toplevel
FROM {{pgss}}.pg_stat_statements(false) AS p
WHERE p.queryid IS NOT NULL;

-- name: read_texts
-- TARGET. The texts of the entries of $1 dbid[] / $2 queryid[] (pairs), each distinct
-- text once: the only statement of a snapshot that reads the query-text file, sent only
-- when the store lacks a text (a new statement) or an entry was re-created or reset.
SELECT pg_catalog.array_agg(t.dbid) AS dbid, pg_catalog.array_agg(t.queryid) AS queryid,
       pg_catalog.array_agg(t.query) AS query
FROM (
    SELECT DISTINCT p.dbid::int8 AS dbid, p.queryid, p.query
    FROM {{pgss}}.pg_stat_statements(true) AS p
    JOIN ROWS FROM (pg_catalog.unnest($1::int8[]), pg_catalog.unnest($2::int8[]))
        AS k (dbid, queryid) ON k.dbid = p.dbid AND k.queryid = p.queryid
    WHERE p.query IS NOT NULL AND p.query <> '<insufficient privilege>'
) AS t;

-- name: read_names
-- TARGET. Database and role names by OID (a dropped role keeps the name stored before).
SELECT pg_catalog.array_agg(n.kind) AS kind, pg_catalog.array_agg(n.oid) AS oid,
       pg_catalog.array_agg(n.name) AS name
FROM (
    SELECT 'database' AS kind, d.oid::int8 AS oid, d.datname::text AS name
    FROM pg_catalog.pg_database AS d
    UNION ALL
    SELECT 'role', r.oid::int8, r.rolname::text FROM pg_catalog.pg_roles AS r
) AS n;

-- name: store_ready
-- STORE. $1 helper schema: whether the tables of schema versions 3 and 4 are there.
SELECT pg_catalog.to_regclass(pg_catalog.format('%I.history_snapshots', $1::text)) IS NOT NULL
       AND pg_catalog.to_regclass(pg_catalog.format('%I.history_state', $1::text)) IS NOT NULL
       AND pg_catalog.to_regclass(
               pg_catalog.format('%I.history_statements_hourly', $1::text)) IS NOT NULL
       AS ready;

-- name: partitions
-- STORE. $1 helper schema, $2 a time: the statements that create the missing daily
-- partitions of history_statements (UTC days) for the day before, of and after $2.
SELECT pg_catalog.format(
           'CREATE TABLE IF NOT EXISTS %I.%I PARTITION OF %I.history_statements '
           'FOR VALUES FROM (%L) TO (%L)', $1::text, g.name, $1::text,
           pg_catalog.to_char(g.day, 'YYYY-MM-DD') || ' 00:00:00+00',
           pg_catalog.to_char(g.day + 1, 'YYYY-MM-DD') || ' 00:00:00+00') AS sql
FROM (
    SELECT d.day, 'history_statements_p' || pg_catalog.to_char(d.day, 'YYYYMMDD') AS name
    FROM (
        SELECT (pg_catalog.date_trunc('day', $2::timestamptz AT TIME ZONE 'UTC'))::date + k AS day
        FROM pg_catalog.generate_series(-1, 1) AS k
    ) AS d
) AS g
WHERE pg_catalog.to_regclass(pg_catalog.format('%I.%I', $1::text, g.name)) IS NULL
ORDER BY g.day;

-- name: store_target
-- STORE. $1 target name: its id, the target created if new.
WITH made AS (
    INSERT INTO {{schema}}.history_targets (name) VALUES ($1::text)
    ON CONFLICT (name) DO NOTHING
    RETURNING id
)
SELECT id FROM made
UNION ALL
SELECT t.id FROM {{schema}}.history_targets AS t WHERE t.name = $1::text;

-- name: store_lock
-- STORE. The target's advisory lock ($1 pgstatkit's key space, $2 target id), held
-- until the snapshot's transaction ends; false when another collector holds it.
SELECT pg_catalog.pg_try_advisory_xact_lock($1::int4, $2::int4) AS locked;

-- name: store_previous
-- STORE. $1 target id: its last snapshot, and every entry it knows: its key and the
-- hash of its key and calls, plans and stats_since ({{fingerprint}}, as in read_target).
SELECT s.captured_at, s.stats_reset, s.dealloc, s.pgss_version,
       f.dbid, f.userid, f.queryid, f.toplevel, f.fingerprint
FROM (VALUES (1)) AS one (x)
LEFT JOIN LATERAL (
    SELECT s.captured_at, s.stats_reset, s.dealloc, s.pgss_version
    FROM {{schema}}.history_snapshots AS s
    WHERE s.target_id = $1::int4
    ORDER BY s.captured_at DESC, s.id DESC
    LIMIT 1
) AS s ON true
CROSS JOIN (
    SELECT pg_catalog.array_agg(h.dbid) AS dbid, pg_catalog.array_agg(h.userid) AS userid,
           pg_catalog.array_agg(h.queryid) AS queryid,
           pg_catalog.array_agg(h.toplevel) AS toplevel,
           pg_catalog.array_agg({{fingerprint}}) AS fingerprint
    FROM {{schema}}.history_state AS h
    WHERE h.target_id = $1::int4
) AS f;

-- name: store_last
-- STORE. $1 target id: when its last snapshot was captured (NULL: none), and its
-- roll-up frontier (NULL: nothing rolled up yet), so the snapshot knows whether the
-- hour it closes needs a roll-up run.
SELECT (SELECT s.captured_at FROM {{schema}}.history_snapshots AS s
        WHERE s.target_id = $1::int4
        ORDER BY s.captured_at DESC, s.id DESC
        LIMIT 1) AS captured_at,
       (SELECT t.rolled_up_until FROM {{schema}}.history_targets AS t
        WHERE t.id = $1::int4) AS rolled_up_until;

-- name: store_snapshot
-- STORE. The snapshot's row: $1 target id, $2 captured_at, $3 previous captured_at,
-- $4 status, $5 evictions, $6 stats_reset, $7 dealloc, $8 pg_stat_statements version,
-- $9 server_version_num, $10 entries read, $11 the previous snapshot's version (an
-- interval that spans ALTER EXTENSION ... UPDATE has a column only partly). Counts are
-- set by store_finish.
INSERT INTO {{schema}}.history_snapshots (target_id, captured_at, previous_captured_at,
    status, evictions, stats_reset, dealloc, pgss_version, server_version_num, entries_read,
    previous_pgss_version, entries_stored, entries_new, entries_recreated, entries_gone)
VALUES ($1::int4, $2::timestamptz, $3::timestamptz, $4::text, $5::int8, $6::timestamptz,
        $7::int8, $8::text, $9::int4, $10::int4, $11::text, 0, 0, 0, 0)
RETURNING id;

-- name: store_statements
-- STORE. The deltas of one snapshot and the new state, from the target's rows:
-- $1 target id, $2 snapshot id, $3 captured_at, $4 reset (the instance was reset: every
-- counter counts from the reset, within the interval), $5 baseline (no interval yet:
-- only the state is written), then the arrays of read_target ($6 dbid ... in order).
-- An entry not in the state (new), or re-created (its stats_since changed, or a counter
-- went down), counts whole: everything it holds happened since the last snapshot.
-- Otherwise the delta is the difference. A column the extension version lacks is NULL,
-- a zero delta too (sparse rows); rows only for entries whose calls or plans moved.
-- Returns the counts and the (dbid, queryid) pairs whose texts the store should read.
WITH cur AS (
    SELECT *
    FROM ROWS FROM ({{unnest}})
        AS c (dbid, userid, queryid, toplevel, gone, stats_since, {{counters}})
), d AS (
    SELECT c.*, p.target_id IS NULL AS is_new,
           p.target_id IS NOT NULL AND NOT $4::bool AND (
               c.stats_since IS DISTINCT FROM p.stats_since OR c.calls < p.calls
               OR c.plans < p.plans OR c.rows < p.rows
               OR c.total_exec_time_ms < p.total_exec_time_ms) AS recreated,
           {{previous}}
    FROM cur AS c
    LEFT JOIN {{schema}}.history_state AS p
        ON p.target_id = $1::int4 AND p.dbid = c.dbid AND p.userid = c.userid
       AND p.queryid = c.queryid AND p.toplevel = c.toplevel
    WHERE NOT c.gone
), w AS (
    SELECT d.*, d.is_new OR d.recreated OR $4::bool AS whole FROM d
), ins AS (
    INSERT INTO {{schema}}.history_statements (snapshot_id, target_id, captured_at, dbid,
        userid, queryid, toplevel, recreated, {{counters}})
    SELECT $2::int8, $1::int4, $3::timestamptz, w.dbid, w.userid, w.queryid, w.toplevel,
           w.recreated, {{deltas}}
    FROM w
    WHERE NOT $5::bool
      AND CASE WHEN w.whole THEN w.calls > 0 OR w.plans > 0
               ELSE w.calls <> w.prev_calls OR w.plans <> w.prev_plans END
    RETURNING 1
), up AS (
    INSERT INTO {{schema}}.history_state AS h (target_id, dbid, userid, queryid, toplevel,
        stats_since, {{counters}})
    SELECT $1::int4, w.dbid, w.userid, w.queryid, w.toplevel, w.stats_since, {{w_counters}}
    FROM w
    ON CONFLICT (target_id, dbid, userid, queryid, toplevel) DO UPDATE
    SET stats_since = EXCLUDED.stats_since, {{updates}}
    RETURNING 1
), gone AS (
    DELETE FROM {{schema}}.history_state AS h
    USING cur AS c
    WHERE c.gone AND h.target_id = $1::int4 AND h.dbid = c.dbid AND h.userid = c.userid
      AND h.queryid = c.queryid AND h.toplevel = c.toplevel
    RETURNING 1
), texts AS (
    SELECT DISTINCT w.dbid, w.queryid
    FROM w
    WHERE w.recreated OR $4::bool
       OR (w.is_new AND NOT EXISTS (
               SELECT FROM {{schema}}.history_texts AS t
               WHERE t.target_id = $1::int4 AND t.dbid = w.dbid AND t.queryid = w.queryid))
)
SELECT (SELECT pg_catalog.count(*) FROM ins)::int4 AS stored,
       (SELECT pg_catalog.count(*) FROM w WHERE w.is_new)::int4 AS new,
       (SELECT pg_catalog.count(*) FROM w WHERE w.recreated)::int4 AS recreated,
       (SELECT pg_catalog.count(*) FROM gone)::int4 AS gone,
       (SELECT pg_catalog.count(*) FROM up)::int4 AS updated,
       (SELECT pg_catalog.array_agg(t.dbid) FROM texts AS t) AS text_dbid,
       (SELECT pg_catalog.array_agg(t.queryid) FROM texts AS t) AS text_queryid;

-- name: store_texts
-- STORE. $1 target id, $2 captured_at, $3 dbid[], $4 queryid[], $5 query[]: each text
-- kept once per (dbid, queryid) and SHA-256; a new text under a known queryid is a new
-- row. Returns how many were new.
WITH t AS (
    SELECT DISTINCT k.dbid, k.queryid, k.query
    FROM ROWS FROM (pg_catalog.unnest($3::int8[]), pg_catalog.unnest($4::int8[]),
                    pg_catalog.unnest($5::text[])) AS k (dbid, queryid, query)
), made AS (
    INSERT INTO {{schema}}.history_texts (target_id, dbid, queryid, text_sha256, query,
        first_seen_at)
    SELECT $1::int4, t.dbid, t.queryid, pg_catalog.sha256(pg_catalog.convert_to(t.query, 'UTF8')),
           t.query, $2::timestamptz
    FROM t
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT pg_catalog.count(*)::int4 AS made FROM made;

-- name: store_names
-- STORE. $1 target id, $2 kind[], $3 oid[], $4 name[]: written only when changed.
INSERT INTO {{schema}}.history_names AS n (target_id, kind, oid, name)
SELECT $1::int4, k.kind, k.oid, k.name
FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::int8[]),
                pg_catalog.unnest($4::text[])) AS k (kind, oid, name)
ON CONFLICT (target_id, kind, oid) DO UPDATE SET name = EXCLUDED.name
WHERE n.name IS DISTINCT FROM EXCLUDED.name;

-- name: store_database
-- STORE. $1 snapshot id, $2 target id, $3 captured_at, $4 datid, $5 the row of
-- pg_stat_database as JSON (its columns differ between versions).
INSERT INTO {{schema}}.history_databases (snapshot_id, target_id, captured_at, datid, stats)
VALUES ($1::int8, $2::int4, $3::timestamptz, $4::int8, $5::text::jsonb);

-- name: store_finish
-- STORE. $1 snapshot id, $2 stored, $3 new, $4 re-created, $5 gone, $6 texts read.
-- An interval that lost entries (re-created, gone) without a reset is lossy.
UPDATE {{schema}}.history_snapshots AS s
SET entries_stored = $2::int4, entries_new = $3::int4, entries_recreated = $4::int4,
    entries_gone = $5::int4, texts_read = $6::int4,
    status = CASE WHEN s.status = 'complete' AND ($4::int4 > 0 OR $5::int4 > 0)
                  THEN 'lossy' ELSE s.status END
WHERE s.id = $1::int8
RETURNING s.status;

-- name: window_summary
-- STORE. The snapshots of a window: $1 target name (NULL: every target), $2 since,
-- $3 until (captured_at in ($2, $3]); baselines open no interval and are not counted.
SELECT pg_catalog.count(*)::int4 AS snapshots,
       (pg_catalog.count(*) FILTER (WHERE s.status = 'complete'))::int4 AS complete,
       (pg_catalog.count(*) FILTER (WHERE s.status = 'reset'))::int4 AS reset,
       (pg_catalog.count(*) FILTER (WHERE s.status = 'lossy'))::int4 AS lossy,
       pg_catalog.sum(s.evictions)::int8 AS evictions,
       pg_catalog.array_cat(pg_catalog.array_agg(DISTINCT s.pgss_version),
                            pg_catalog.array_agg(DISTINCT s.previous_pgss_version))
           AS pgss_versions
FROM {{schema}}.history_snapshots AS s
JOIN {{schema}}.history_targets AS t ON t.id = s.target_id
WHERE ($1::text IS NULL OR t.name = $1::text)
  AND s.captured_at > $2::timestamptz AND s.captured_at <= $3::timestamptz
  AND s.status <> 'baseline';

-- name: changes
-- STORE. Per entry, the sum of its deltas over the window ($1 target name or NULL,
-- $2 since, $3 until: captured_at in ($2, $3]), with its latest text and names;
-- $4 row limit, $5 also pgstatkit's own statements, $6 a queryid or NULL, $7 a dbid
-- (the database's OID on the target) or NULL. {{order}} is a column of the result
-- (fixed SQL).
-- Per target, the window is read in three parts whose sums compose: raw deltas
-- captured in ($2, h1), the hourly roll-ups of [h1, hmid), raw deltas in [hmid, $3],
-- where h1 is the first whole UTC hour after $2 and hmid the end of the whole hours
-- both rolled up (before rolled_up_until) and inside the window (NULL frontier: h1,
-- all raw). An hourly row holds exactly the raw rows of its hour (written once the
-- hour was closed), so the sums are those of the raw rows alone; intervals is the sum
-- of the rows' counts. LATERAL: each target's bounds reach its scans as parameters
-- (index ranges, partitions pruned at run time).
WITH t AS (
    SELECT t.id, t.name, b.h1,
           GREATEST(b.h1, LEAST(
               pg_catalog.date_trunc('hour', $3::timestamptz, 'UTC'),
               coalesce(t.rolled_up_until, '-infinity'::timestamptz))) AS hmid
    FROM {{schema}}.history_targets AS t
    CROSS JOIN (
        SELECT pg_catalog.date_trunc('hour', $2::timestamptz, 'UTC')
               + '1 hour'::interval AS h1
    ) AS b
    WHERE $1::text IS NULL OR t.name = $1::text
), u AS (
    SELECT t.id AS target_id, p.*
    FROM t
    CROSS JOIN LATERAL (
        SELECT h.dbid, h.userid, h.queryid, h.toplevel, 1 AS intervals, h.recreated,
               {{h_counters}}
        FROM {{schema}}.history_statements AS h
        WHERE h.target_id = t.id AND h.captured_at > $2::timestamptz
          AND h.captured_at <= $3::timestamptz AND h.captured_at < t.h1
          AND ($6::int8 IS NULL OR h.queryid = $6::int8)
          AND ($7::int8 IS NULL OR h.dbid = $7::int8)
        UNION ALL
        SELECT r.dbid, r.userid, r.queryid, r.toplevel, r.intervals, r.recreated,
               {{r_counters}}
        FROM {{schema}}.history_statements_hourly AS r
        WHERE r.target_id = t.id AND r.hour >= t.h1 AND r.hour < t.hmid
          AND ($6::int8 IS NULL OR r.queryid = $6::int8)
          AND ($7::int8 IS NULL OR r.dbid = $7::int8)
        UNION ALL
        SELECT h.dbid, h.userid, h.queryid, h.toplevel, 1 AS intervals, h.recreated,
               {{h_counters}}
        FROM {{schema}}.history_statements AS h
        WHERE h.target_id = t.id AND h.captured_at >= t.hmid
          AND h.captured_at <= $3::timestamptz
          AND ($6::int8 IS NULL OR h.queryid = $6::int8)
          AND ($7::int8 IS NULL OR h.dbid = $7::int8)
    ) AS p
), a AS (
    SELECT u.target_id, u.dbid, u.userid, u.queryid, u.toplevel,
           pg_catalog.sum(u.intervals)::int4 AS intervals,
           pg_catalog.bool_or(u.recreated) AS recreated,
           {{sums}}
    FROM u
    GROUP BY u.target_id, u.dbid, u.userid, u.queryid, u.toplevel
)
SELECT t.name AS target, a.dbid, dn.name AS database, a.userid, rn.name AS username,
       a.queryid, a.toplevel, x.query, a.intervals, a.recreated, {{a_sums}}
FROM a
JOIN t ON t.id = a.target_id
LEFT JOIN {{schema}}.history_names AS dn
    ON dn.target_id = a.target_id AND dn.kind = 'database' AND dn.oid = a.dbid
LEFT JOIN {{schema}}.history_names AS rn
    ON rn.target_id = a.target_id AND rn.kind = 'role' AND rn.oid = a.userid
LEFT JOIN LATERAL (
    SELECT x.query FROM {{schema}}.history_texts AS x
    WHERE x.target_id = a.target_id AND x.dbid = a.dbid AND x.queryid = a.queryid
    ORDER BY x.first_seen_at DESC
    LIMIT 1
) AS x ON true
WHERE $5::bool OR {{own_filter}}
ORDER BY {{order}} DESC NULLS LAST, a.calls DESC NULLS LAST, a.queryid, a.userid, a.dbid
LIMIT $4::int4;

-- name: timeline
-- STORE. One row per interval of the window (every snapshot but baselines), the
-- deltas of queryid $4 summed over its entries (users, databases, nesting levels; $5
-- dbid and $6 userid narrow them), zero where it did not run. $1 target name or NULL,
-- $2 since, $3 until.
SELECT t.name AS target, s.captured_at, s.previous_captured_at, s.status, s.evictions,
       s.pgss_version, s.previous_pgss_version, pg_catalog.count(h.queryid)::int4 AS intervals,
       coalesce(pg_catalog.bool_or(h.recreated), false) AS recreated,
       {{sums}}
FROM {{schema}}.history_snapshots AS s
JOIN {{schema}}.history_targets AS t ON t.id = s.target_id
LEFT JOIN {{schema}}.history_statements AS h
    ON h.target_id = s.target_id AND h.captured_at = s.captured_at AND h.snapshot_id = s.id
   AND h.queryid = $4::int8 AND ($5::int8 IS NULL OR h.dbid = $5::int8)
   AND ($6::int8 IS NULL OR h.userid = $6::int8)
WHERE ($1::text IS NULL OR t.name = $1::text)
  AND s.captured_at > $2::timestamptz AND s.captured_at <= $3::timestamptz
  AND s.status <> 'baseline'
GROUP BY t.name, s.id, s.captured_at, s.previous_captured_at, s.status, s.evictions,
         s.pgss_version, s.previous_pgss_version
ORDER BY t.name, s.captured_at;

-- name: database_timeline
-- STORE. The pg_stat_database rows of the snapshots in ($2, $3] of target $1 (NULL:
-- every target), each with the row of the snapshot before it (its previous).
SELECT w.target, w.captured_at, w.previous_captured_at, w.stats, w.previous
FROM (
    SELECT t.name AS target, s.captured_at,
           pg_catalog.lag(s.captured_at) OVER w AS previous_captured_at,
           d.stats::text AS stats, (pg_catalog.lag(d.stats) OVER w)::text AS previous
    FROM {{schema}}.history_snapshots AS s
    JOIN {{schema}}.history_targets AS t ON t.id = s.target_id
    JOIN {{schema}}.history_databases AS d ON d.snapshot_id = s.id
    WHERE ($1::text IS NULL OR t.name = $1::text) AND s.captured_at <= $3::timestamptz
    WINDOW w AS (PARTITION BY s.target_id, d.datid ORDER BY s.captured_at, s.id)
) AS w
WHERE w.captured_at > $2::timestamptz AND w.previous IS NOT NULL
ORDER BY w.target, w.captured_at;

-- name: snapshots
-- STORE. The snapshots of ($2, $3] of target $1 (NULL: every target), oldest first.
SELECT t.name AS target, s.captured_at, s.previous_captured_at, s.status, s.evictions,
       s.stats_reset, s.pgss_version, s.server_version_num, s.entries_read,
       s.entries_stored, s.entries_new, s.entries_recreated, s.entries_gone, s.texts_read
FROM {{schema}}.history_snapshots AS s
JOIN {{schema}}.history_targets AS t ON t.id = s.target_id
WHERE ($1::text IS NULL OR t.name = $1::text)
  AND s.captured_at > $2::timestamptz AND s.captured_at <= $3::timestamptz
ORDER BY s.captured_at, s.id;

-- name: prune_partitions
-- STORE. $1 helper schema, $2 keep (seconds): the cutoff (the start of the UTC day
-- that holds now - keep) and a DROP TABLE for each daily partition wholly before it.
SELECT c.cutoff, p.sql
FROM (
    SELECT pg_catalog.date_trunc('day', (pg_catalog.now() - pg_catalog.make_interval(
               secs => $2::float8)) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS cutoff
) AS c
LEFT JOIN LATERAL (
    SELECT k.relname::text AS relname,
           pg_catalog.format('DROP TABLE %I.%I', $1::text, k.relname) AS sql
    FROM pg_catalog.pg_inherits AS i
    JOIN pg_catalog.pg_class AS k ON k.oid = i.inhrelid
    WHERE i.inhparent = pg_catalog.to_regclass(
              pg_catalog.format('%I.history_statements', $1::text))
      AND k.relname ~ '^history_statements_p[0-9]{8}$'
      AND pg_catalog.to_date(pg_catalog.substr(k.relname, 21), 'YYYYMMDD') + 1
          <= (c.cutoff AT TIME ZONE 'UTC')::date
) AS p ON true
ORDER BY p.relname;

-- name: prune_rows
-- STORE. $1 cutoff (the start of a UTC day): the snapshots, database rows and hourly
-- roll-ups before it (the raw deltas of those hours are in the partitions dropped).
WITH s AS (
    DELETE FROM {{schema}}.history_snapshots AS s WHERE s.captured_at < $1::timestamptz
    RETURNING 1
), d AS (
    DELETE FROM {{schema}}.history_databases AS d WHERE d.captured_at < $1::timestamptz
    RETURNING 1
), r AS (
    DELETE FROM {{schema}}.history_statements_hourly AS r WHERE r.hour < $1::timestamptz
    RETURNING 1
)
SELECT (SELECT pg_catalog.count(*) FROM s)::int4 AS snapshots,
       (SELECT pg_catalog.count(*) FROM d)::int4 AS databases,
       (SELECT pg_catalog.count(*) FROM r)::int4 AS hourly;

-- name: prune_texts
-- STORE. After prune_rows (and the partitions dropped): texts nothing refers to.
WITH x AS (
    DELETE FROM {{schema}}.history_texts AS x
    WHERE NOT EXISTS (SELECT FROM {{schema}}.history_state AS h
                      WHERE h.target_id = x.target_id AND h.dbid = x.dbid
                        AND h.queryid = x.queryid)
      AND NOT EXISTS (SELECT FROM {{schema}}.history_statements AS h
                      WHERE h.target_id = x.target_id AND h.queryid = x.queryid
                        AND h.dbid = x.dbid)
    RETURNING 1
)
SELECT pg_catalog.count(*)::int4 AS texts FROM x;

-- name: rollup_targets
-- STORE. The targets to roll up: $1 a name, or NULL for every target.
SELECT t.name FROM {{schema}}.history_targets AS t
WHERE $1::text IS NULL OR t.name = $1::text
ORDER BY t.name;

-- name: rollup_plan
-- STORE. $1 target name: its id, its roll-up frontier (rolled_up_until), closed_until
-- (the UTC hour of its latest snapshot: every hour before it is closed, since later
-- snapshots of the target have later captured_at, so no delta row can join it) and
-- first_hour (the UTC hour of its first delta row at or after the frontier: the hours
-- between the frontier and it are empty). No row: no such target.
SELECT t.id, t.rolled_up_until,
       (SELECT pg_catalog.date_trunc('hour', s.captured_at, 'UTC')
        FROM {{schema}}.history_snapshots AS s
        WHERE s.target_id = t.id
        ORDER BY s.captured_at DESC
        LIMIT 1) AS closed_until,
       (SELECT pg_catalog.date_trunc('hour', h.captured_at, 'UTC')
        FROM {{schema}}.history_statements AS h
        WHERE h.target_id = t.id
          AND h.captured_at >= coalesce(t.rolled_up_until, '-infinity'::timestamptz)
        ORDER BY h.captured_at
        LIMIT 1) AS first_hour
FROM {{schema}}.history_targets AS t
WHERE t.name = $1::text;

-- name: rollup_hour
-- STORE. $1 target id, $2 a closed UTC hour: its delta rows summed per entry into
-- history_statements_hourly (count and bool_or, each counter's sum); a row already
-- there stays (a roll-up run twice writes nothing twice). Returns the rows written and
-- the delta rows they sum.
WITH ins AS (
    INSERT INTO {{schema}}.history_statements_hourly (target_id, hour, dbid, userid,
        queryid, toplevel, intervals, recreated, {{counters}})
    SELECT h.target_id, $2::timestamptz, h.dbid, h.userid, h.queryid, h.toplevel,
           pg_catalog.count(*)::int4, pg_catalog.bool_or(h.recreated),
           {{sums}}
    FROM {{schema}}.history_statements AS h
    WHERE h.target_id = $1::int4 AND h.captured_at >= $2::timestamptz
      AND h.captured_at < $2::timestamptz + '1 hour'::interval
    GROUP BY h.target_id, h.dbid, h.userid, h.queryid, h.toplevel
    ON CONFLICT DO NOTHING
    RETURNING intervals
)
SELECT pg_catalog.count(*)::int4 AS written,
       coalesce(pg_catalog.sum(ins.intervals), 0)::int8 AS summed
FROM ins;

-- name: rollup_advance
-- STORE. $1 target id, $2 the new frontier (never moved back).
UPDATE {{schema}}.history_targets AS t
SET rolled_up_until = GREATEST(t.rolled_up_until, $2::timestamptz)
WHERE t.id = $1::int4
RETURNING t.rolled_up_until;

-- Session guard: two statements run first inside pgstatkit's own transaction or savepoint
-- (these comments stay out of the blocks, so they are not sent on every call).
--
-- setup reads no catalog: a statement's timeout is armed when the statement starts, so
-- a catalog read in the statement that sets the timeouts would run under the caller's
-- settings and could wait without end for a lock (an open transaction that ran
-- LOCK TABLE pg_catalog.pg_extension, for example). Parameters: $1 the statement
-- timeout (text, e.g. '5000ms'); $4 the lock timeout (the same unless the operation
-- names its own); $2 'on' to make the transaction read-only or NULL to leave it; $3
-- search_path to pin or NULL to leave it; $5 / $6 the names / values of the operation's
-- own settings (planner, JIT, work_mem...), NULL for none.
-- Every setting is SET LOCAL (set_config(..., true)): it ends with the transaction or
-- savepoint, so the caller's session settings are never touched. The previous values
-- are returned (of the operation's own settings too, with their names) so a committed
-- savepoint can put them back (restore: $4 / $5 those names / values). The inner query carries
-- OFFSET 0 so it is evaluated (and the old values read) before set_config runs.
--
-- probe runs next, under those timeouts: what the operations need to know about the
-- server: the extension's version and schema in this database, and, when the extension
-- is not created, whether the library is loaded (pg_stat_statements defines its
-- settings only when preloaded), so that the error names both fixes. When the
-- extension exists that is NULL: reading pg_stat_statements then fails with SQLSTATE
-- 55000 if the library is not loaded. (A pg_stat_statements.max placeholder in
-- postgresql.conf without the library looks loaded here; pg_settings would tell, but
-- planning it costs ~45 us on every call.)

-- name: setup
SELECT prev.statement_timeout AS prev_statement_timeout,
       prev.lock_timeout AS prev_lock_timeout,
       prev.search_path AS prev_search_path,
       $5::text[] AS setting_names,
       prev.settings AS prev_settings,
       pg_catalog.set_config('statement_timeout', $1, true) AS statement_timeout,
       pg_catalog.set_config('lock_timeout', $4, true) AS lock_timeout,
       CASE WHEN $2::text IS NOT NULL
            THEN pg_catalog.set_config('transaction_read_only', $2::text, true) END AS read_only,
       CASE WHEN $3::text IS NOT NULL
            THEN pg_catalog.set_config('search_path', $3::text, true) END AS search_path,
       (SELECT pg_catalog.count(pg_catalog.set_config(s.name, s.value, true))
        FROM ROWS FROM (pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]))
            AS s (name, value)) AS settings
FROM (
    SELECT pg_catalog.current_setting('statement_timeout') AS statement_timeout,
           pg_catalog.current_setting('lock_timeout') AS lock_timeout,
           pg_catalog.current_setting('search_path') AS search_path,
           (SELECT pg_catalog.array_agg(pg_catalog.current_setting(s.name) ORDER BY s.n)
            FROM pg_catalog.unnest($5::text[]) WITH ORDINALITY AS s (name, n)) AS settings
    OFFSET 0
) AS prev;

-- name: probe
SELECT e.extversion AS pgss_version,
       n.nspname AS pgss_schema,
       CASE WHEN e.extversion IS NULL
            THEN pg_catalog.current_setting('pg_stat_statements.max', true) IS NOT NULL
       END AS pgss_loaded
FROM (VALUES (1)) AS one (x)
LEFT JOIN pg_catalog.pg_extension AS e ON e.extname = 'pg_stat_statements'
LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace;

-- name: restore
-- After a committed savepoint: put back the values the caller had.
SELECT pg_catalog.set_config('statement_timeout', $1, true),
       pg_catalog.set_config('lock_timeout', $2, true),
       pg_catalog.set_config('search_path', $3, true),
       (SELECT pg_catalog.count(pg_catalog.set_config(s.name, s.value, true))
        FROM ROWS FROM (pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]))
            AS s (name, value)) AS settings;

-- name: prepared_statement
-- Cleanup of a generic plan: is the statement $1 prepared in this session?
SELECT p.name FROM pg_catalog.pg_prepared_statements AS p WHERE p.name = $1;

-- name: advisory_locks
-- Before EXPLAIN ANALYZE: the advisory locks this session holds, one text key per lock
-- and mode (the form release_new_advisory_locks compares with).
SELECT pg_catalog.concat_ws(':', l.classid, l.objid, l.objsubid, l.mode) AS lock
FROM pg_catalog.pg_locks AS l
WHERE l.locktype = 'advisory' AND l.pid = pg_catalog.pg_backend_pid() AND l.granted;

-- name: new_advisory_locks
-- After EXPLAIN ANALYZE, before the rollback: does the session hold an advisory lock
-- (of either level) that is not in $1 (advisory_locks' keys from before)?
SELECT pg_catalog.concat_ws(':', l.classid, l.objid, l.objsubid, l.mode) AS lock
FROM pg_catalog.pg_locks AS l
WHERE l.locktype = 'advisory' AND l.pid = pg_catalog.pg_backend_pid() AND l.granted
  AND NOT (pg_catalog.concat_ws(':', l.classid, l.objid, l.objsubid, l.mode) = ANY ($1::text[]))
LIMIT 1;

-- name: release_new_advisory_locks
-- After the guard's rollback (transaction-level locks are gone by then): release, once
-- each, the session-level advisory locks that are not in $1 (advisory_locks' keys from
-- before). A lock is listed only while it is held, so every unlock succeeds (no
-- "you don't own a lock" warning); the runner repeats until no row comes back, since a
-- session lock taken twice needs two unlocks. objsubid 1: one bigint key, split in
-- classid (high half) and objid (low half); 2: two int4 keys (oids are unsigned, hence
-- the bit(32) casts back to int4).
SELECT CASE
         WHEN l.objsubid = 1 AND l.mode = 'ExclusiveLock'
           THEN pg_catalog.pg_advisory_unlock((l.classid::int8 << 32) | l.objid::int8)
         WHEN l.objsubid = 1
           THEN pg_catalog.pg_advisory_unlock_shared((l.classid::int8 << 32) | l.objid::int8)
         WHEN l.mode = 'ExclusiveLock'
           THEN pg_catalog.pg_advisory_unlock(l.classid::int8::bit(32)::int4,
                                              l.objid::int8::bit(32)::int4)
         ELSE pg_catalog.pg_advisory_unlock_shared(l.classid::int8::bit(32)::int4,
                                                   l.objid::int8::bit(32)::int4)
       END AS released
FROM pg_catalog.pg_locks AS l
WHERE l.locktype = 'advisory' AND l.pid = pg_catalog.pg_backend_pid() AND l.granted
  AND NOT (pg_catalog.concat_ws(':', l.classid, l.objid, l.objsubid, l.mode) = ANY ($1::text[]));

-- pgstatkit schema version 3: history (pgstatkit.history). Snapshots of
-- pg_stat_statements, pg_stat_database and pg_stat_statements_info, taken without ever
-- resetting anything, stored as exact per-interval deltas of the entries whose counters
-- moved (sparse), for one or many targets (servers) per store database.
--
--   history_targets     one row per target: a stable name given by the collector
--   history_snapshots   one row per snapshot: its interval (previous_captured_at,
--                       captured_at], status (baseline / complete / reset / lossy) and
--                       what pg_stat_statements_info said (stats_reset, dealloc)
--   history_statements  per-entry deltas of one interval, only entries that moved;
--                       partitioned by capture time (a partition per UTC day, created by
--                       the snapshot, dropped whole by prune)
--   history_state       per target and entry, the cumulative counters last seen: what
--                       the next snapshot subtracts (never read by changes)
--   history_texts       query texts, once per (dbid, queryid) and text hash
--   history_names       database and role names by OID, per target
--   history_databases   pg_stat_database of the target's database, per snapshot
--
-- No foreign keys: uninstall drops pgstatkit's relations one by one with RESTRICT.
CREATE TABLE @schema@.history_targets (
    id int4 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE TABLE @schema@.history_snapshots (
    id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id int4 NOT NULL,
    captured_at timestamptz NOT NULL,
    previous_captured_at timestamptz,
    status text NOT NULL,
    evictions int8,
    stats_reset timestamptz,
    dealloc int8,
    pgss_version text NOT NULL,
    previous_pgss_version text,
    server_version_num int4 NOT NULL,
    entries_read int4 NOT NULL,
    entries_stored int4 NOT NULL,
    entries_new int4 NOT NULL,
    entries_recreated int4 NOT NULL,
    entries_gone int4 NOT NULL,
    texts_read int4 NOT NULL DEFAULT 0
);
CREATE INDEX history_snapshots_target_time ON @schema@.history_snapshots (target_id, captured_at);
CREATE TABLE @schema@.history_statements (
    snapshot_id int8 NOT NULL,
    target_id int4 NOT NULL,
    captured_at timestamptz NOT NULL,
    dbid int8 NOT NULL,
    userid int8 NOT NULL,
    queryid int8 NOT NULL,
    toplevel bool NOT NULL,
    recreated bool NOT NULL,
    calls int8,
    rows int8,
    total_exec_time_ms float8,
    exec_time_sumsq float8,
    plans int8,
    total_plan_time_ms float8,
    plan_time_sumsq float8,
    shared_blks_hit int8,
    shared_blks_read int8,
    shared_blks_dirtied int8,
    shared_blks_written int8,
    local_blks_hit int8,
    local_blks_read int8,
    local_blks_dirtied int8,
    local_blks_written int8,
    temp_blks_read int8,
    temp_blks_written int8,
    shared_blk_read_time_ms float8,
    shared_blk_write_time_ms float8,
    local_blk_read_time_ms float8,
    local_blk_write_time_ms float8,
    temp_blk_read_time_ms float8,
    temp_blk_write_time_ms float8,
    wal_records int8,
    wal_fpi int8,
    wal_bytes int8,
    wal_buffers_full int8,
    jit_functions int8,
    jit_generation_time_ms float8,
    jit_inlining_count int8,
    jit_inlining_time_ms float8,
    jit_optimization_count int8,
    jit_optimization_time_ms float8,
    jit_emission_count int8,
    jit_emission_time_ms float8,
    jit_deform_count int8,
    jit_deform_time_ms float8,
    parallel_workers_to_launch int8,
    parallel_workers_launched int8
) PARTITION BY RANGE (captured_at);
CREATE INDEX history_statements_target_time ON @schema@.history_statements (target_id, captured_at);
CREATE INDEX history_statements_target_query ON @schema@.history_statements (target_id, queryid, captured_at);
CREATE TABLE @schema@.history_state (
    target_id int4 NOT NULL,
    dbid int8 NOT NULL,
    userid int8 NOT NULL,
    queryid int8 NOT NULL,
    toplevel bool NOT NULL,
    stats_since timestamptz,
    calls int8,
    rows int8,
    total_exec_time_ms float8,
    exec_time_sumsq float8,
    plans int8,
    total_plan_time_ms float8,
    plan_time_sumsq float8,
    shared_blks_hit int8,
    shared_blks_read int8,
    shared_blks_dirtied int8,
    shared_blks_written int8,
    local_blks_hit int8,
    local_blks_read int8,
    local_blks_dirtied int8,
    local_blks_written int8,
    temp_blks_read int8,
    temp_blks_written int8,
    shared_blk_read_time_ms float8,
    shared_blk_write_time_ms float8,
    local_blk_read_time_ms float8,
    local_blk_write_time_ms float8,
    temp_blk_read_time_ms float8,
    temp_blk_write_time_ms float8,
    wal_records int8,
    wal_fpi int8,
    wal_bytes int8,
    wal_buffers_full int8,
    jit_functions int8,
    jit_generation_time_ms float8,
    jit_inlining_count int8,
    jit_inlining_time_ms float8,
    jit_optimization_count int8,
    jit_optimization_time_ms float8,
    jit_emission_count int8,
    jit_emission_time_ms float8,
    jit_deform_count int8,
    jit_deform_time_ms float8,
    parallel_workers_to_launch int8,
    parallel_workers_launched int8,
    PRIMARY KEY (target_id, dbid, userid, queryid, toplevel)
);
CREATE TABLE @schema@.history_texts (
    target_id int4 NOT NULL,
    dbid int8 NOT NULL,
    queryid int8 NOT NULL,
    text_sha256 bytea NOT NULL,
    query text NOT NULL,
    first_seen_at timestamptz NOT NULL,
    PRIMARY KEY (target_id, dbid, queryid, text_sha256)
);
CREATE TABLE @schema@.history_names (
    target_id int4 NOT NULL,
    kind text NOT NULL,
    oid int8 NOT NULL,
    name text NOT NULL,
    PRIMARY KEY (target_id, kind, oid)
);
CREATE TABLE @schema@.history_databases (
    snapshot_id int8 PRIMARY KEY,
    target_id int4 NOT NULL,
    captured_at timestamptz NOT NULL,
    datid int8 NOT NULL,
    stats jsonb NOT NULL
);
CREATE INDEX history_databases_target_time ON @schema@.history_databases (target_id, captured_at);
COMMENT ON TABLE @schema@.history_targets IS 'pgstatkit: created by pgstatkit install, dropped by pgstatkit uninstall';
COMMENT ON TABLE @schema@.history_snapshots IS 'pgstatkit: created by pgstatkit install, dropped by pgstatkit uninstall';
COMMENT ON TABLE @schema@.history_statements IS 'pgstatkit: created by pgstatkit install, dropped by pgstatkit uninstall';
COMMENT ON TABLE @schema@.history_state IS 'pgstatkit: created by pgstatkit install, dropped by pgstatkit uninstall';
COMMENT ON TABLE @schema@.history_texts IS 'pgstatkit: created by pgstatkit install, dropped by pgstatkit uninstall';
COMMENT ON TABLE @schema@.history_names IS 'pgstatkit: created by pgstatkit install, dropped by pgstatkit uninstall';
COMMENT ON TABLE @schema@.history_databases IS 'pgstatkit: created by pgstatkit install, dropped by pgstatkit uninstall';

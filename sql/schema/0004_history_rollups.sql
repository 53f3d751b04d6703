-- pgstatkit schema version 4: hourly roll-ups of history (pgstatkit.history.roll_up).
-- history.changes() over a long window reads whole closed hours from here and only the
-- raw deltas at the window's edges, with the same sums as from the raw deltas alone.
--
--   history_statements_hourly  per target, UTC hour and entry, the sum of the entry's
--                              delta rows (history_statements) captured in
--                              [hour, hour + 1 h): intervals (how many rows),
--                              recreated (any of them), each counter summed (NULL
--                              where every row had NULL); written once per hour when
--                              the hour is closed (the target has a snapshot at or
--                              after its end), never updated; not partitioned: prune
--                              deletes the hours before its cutoff
--   history_targets.rolled_up_until
--                              the roll-up frontier: every closed hour before it is in
--                              history_statements_hourly (NULL: nothing rolled up yet)
CREATE TABLE @schema@.history_statements_hourly (
    target_id int4 NOT NULL,
    hour timestamptz NOT NULL,
    dbid int8 NOT NULL,
    userid int8 NOT NULL,
    queryid int8 NOT NULL,
    toplevel bool NOT NULL,
    intervals int4 NOT NULL,
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
    parallel_workers_launched int8,
    PRIMARY KEY (target_id, hour, dbid, userid, queryid, toplevel)
);
CREATE INDEX history_statements_hourly_target_query ON @schema@.history_statements_hourly (target_id, queryid, hour);
ALTER TABLE @schema@.history_targets ADD COLUMN rolled_up_until timestamptz;
COMMENT ON TABLE @schema@.history_statements_hourly IS 'pgstatkit: created by pgstatkit install, dropped by pgstatkit uninstall';

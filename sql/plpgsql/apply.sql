-- The body of the DO block that installs or uninstalls pgstatkit without Python: it
-- applies the plans of sql/queries/install.sql exactly as pgstatkit._install does
-- (see the actions there), with EXECUTE ... USING for their parameters.
-- pgstatkit.migrations renders it: into sql/install.sql and sql/uninstall.sql (by
-- tools/gen_sql.py, the parameters read from the pgstatkit.* settings) and for Alembic
-- (install_statements / uninstall_statements, the parameters written in). The markers:
-- declare (v_schema, v_roles), check (of the parameters), lock (the advisory lock's
-- key), read_meta, plan, arguments (its USING list), rebuild_view (dollar-quoted plans)
-- and grants.
DECLARE
{{declare}}
  v_search_path constant text := pg_catalog.current_setting('search_path');
  v_version int4;
  v_made_extension bool;
  v_made_schema bool;
  r record;
  q record;
BEGIN
  -- Only pg_catalog's names, as in pgstatkit's own transactions; put back at the end.
  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  PERFORM pg_catalog.pg_advisory_xact_lock({{lock}});
{{check}}
  FOR r IN EXECUTE {{read_meta}} USING v_schema LOOP
    EXECUTE r.sql INTO v_version, v_made_extension, v_made_schema;
  END LOOP;
  FOR r IN EXECUTE {{plan}}
    USING {{arguments}}
  LOOP
    IF r.action = 'refuse' THEN
      RAISE EXCEPTION USING ERRCODE = r.alt, MESSAGE = r.sql;
    ELSIF r.action = 'run' THEN
      EXECUTE r.sql;
    ELSIF r.action = 'try_drop' THEN
      BEGIN
        EXECUTE r.sql;
      EXCEPTION WHEN dependent_objects_still_exist THEN
        NULL;  -- kept: other objects depend on it
      END;
    ELSIF r.action = 'view' THEN
      BEGIN
        EXECUTE r.sql;
      EXCEPTION WHEN invalid_table_definition THEN
        FOR q IN EXECUTE {{rebuild_view}} USING v_schema, r.names[1], r.alt LOOP
          IF q.action = 'refuse' THEN
            RAISE EXCEPTION USING ERRCODE = q.alt, MESSAGE = q.sql;
          END IF;
          EXECUTE q.sql;
        END LOOP;
      END;
    END IF;
  END LOOP;
{{grants}}
  PERFORM pg_catalog.set_config('search_path', v_search_path, true);
END

-- pgstatkit schema version 1: the record of the helper views, <schema>.pgstatkit_meta.
--
-- The schema's migrations are the files sql/schema/NNNN_*.sql, applied in order, each
-- once: install reads the version recorded in pgstatkit_meta.schema_version and applies
-- the later ones, in its one transaction under its advisory lock, then records the
-- last. @schema@ is the helper schema, quoted; every statement ends with ';' at the end
-- of a line. The views themselves are not migrations: install rebuilds them every time
-- for the pg_stat_statements version installed (sql/schema/views.sql).
CREATE TABLE @schema@.pgstatkit_meta (
    id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    schema_version int NOT NULL,
    created_extension bool NOT NULL,
    created_schema bool NOT NULL,
    pgss_version text NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

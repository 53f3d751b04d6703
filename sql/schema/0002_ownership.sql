-- pgstatkit schema version 2: pgstatkit's ownership comment on its record, as on every
-- object install creates (install comments the views each time it builds them). An
-- object with one of pgstatkit's names but without this comment is not pgstatkit's.
COMMENT ON TABLE @schema@.pgstatkit_meta IS 'pgstatkit: created by pgstatkit install, dropped by pgstatkit uninstall';

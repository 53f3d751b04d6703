"""Test harness of the pgstatkit test suite: the PostgreSQL server matrix and its fixtures."""

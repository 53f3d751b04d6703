"""Shared pytest configuration: the PostgreSQL server matrix (see docs/testing.md).

The fixtures and hooks live in ``tests/harness/plugin.py``; they are imported here so
that every test under ``tests/`` can use ``pg_server`` and ``pg_server_no_preload``.
"""

from __future__ import annotations

from harness.plugin import (  # noqa: F401
    _pg_pool,
    pg_server,
    pg_server_no_preload,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_generate_tests,
    pytest_report_header,
)

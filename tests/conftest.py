"""Shared pytest configuration: the PostgreSQL server matrix (see docs/testing.md).

The fixtures and hooks live in ``tests/harness/plugin.py``; they are imported here so
that every test under ``tests/`` can use ``pg_server``, ``pg_server_no_preload`` and
``pg_server_german``.
Test modules import the harness as ``harness`` (``from harness.servers import
TestServer``): this directory is put on ``sys.path`` whatever pytest's import mode.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from harness.plugin import (  # noqa: E402, F401
    _pg_pool,
    pg_server,
    pg_server_german,
    pg_server_no_preload,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_generate_tests,
    pytest_report_header,
    pytest_terminal_summary,
)

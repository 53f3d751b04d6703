"""The shop's database connection: one psycopg connection for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def db() -> Iterator[Any]:
    dsn = os.environ.get("SHOP_DSN")
    if not dsn:
        pytest.skip("run it through examples/pytest_query_budgets.py (SHOP_DSN is not set)")
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn

"""examples/alembic_migration: real ``alembic upgrade`` / ``downgrade`` on the test servers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.servers import TestServer

from .test_install import NOTHING, catalog, fresh_db, installed

__all__ = ["fresh_db"]

pytestmark = pytest.mark.server

INI = Path(__file__).resolve().parents[2] / "examples" / "alembic_migration" / "alembic.ini"


def alembic(dsn: str, *args: str) -> None:
    env = {**os.environ, "PGSTATKIT_DSN": dsn}
    proc = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(INI), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_upgrade_downgrade_upgrade(pg_server: TestServer, fresh_db: str) -> None:
    dsn = pg_server.dsn_for(dbname=fresh_db)
    alembic(dsn, "upgrade", "head")
    after = catalog(pg_server, fresh_db)
    assert after == installed(str(after["extension"]))
    alembic(dsn, "downgrade", "-1")
    assert catalog(pg_server, fresh_db) == NOTHING
    alembic(dsn, "upgrade", "head")
    assert catalog(pg_server, fresh_db) == after
    version = pg_server.psql("SELECT version_num FROM alembic_version", dbname=fresh_db)
    assert version == "0001_pgstatkit"

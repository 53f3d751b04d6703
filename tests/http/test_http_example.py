"""examples/fastapi_app.py: its --self-test runs the service in-process against a server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.servers import TestServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_app.py"


@pytest.mark.slow
def test_fastapi_example_self_test(pg_server: TestServer) -> None:
    env = dict(os.environ, PGSTATKIT_DSN=pg_server.dsn, PGSTATKIT_ADMIN_TOKEN="example-token")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--self-test"],
        env=env,
        cwd=EXAMPLE.parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Without a token: 401" in proc.stdout
    assert "With the token: 200" in proc.stdout
    assert "Self-test passed." in proc.stdout
    assert "example-token" not in proc.stdout


def test_fastapi_example_needs_a_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PGSTATKIT_ADMIN_TOKEN"}
    proc = subprocess.run(
        [sys.executable, "-c", "import examples.fastapi_app"],
        env=env,
        cwd=EXAMPLE.parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "PGSTATKIT_ADMIN_TOKEN" in proc.stderr

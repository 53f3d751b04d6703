"""Helpers of the command-line tests: run ``python -m pgstatkit`` in a subprocess.

(No ``__init__.py`` in this directory; test modules import this one by its unique name.)
"""

from __future__ import annotations

import os
import subprocess
import sys

from harness.servers import TestServer

CLI_DB = "pgstatkit_cli"
MARK = "/* pgstatkit-cli-test */"
PASSWORD = "s3cret-Pa55word"
UNREACHABLE = f"postgresql://alice:{PASSWORD}@127.0.0.1:1/shop"


def clean_env(extra: dict[str, str] | None = None, columns: int = 100) -> dict[str, str]:
    """The environment without ``PG*`` and ``DATABASE_URL``, with ``COLUMNS`` set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    env["COLUMNS"] = str(columns)
    env.update(extra or {})
    return env


def run_cli(
    *args: str, columns: int = 100, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgstatkit", *args],
        capture_output=True,
        text=True,
        env=clean_env(env, columns),
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def dsn(server: TestServer) -> str:
    """Superuser DSN of the ``pgstatkit_cli`` database (fixture ``cli_server``)."""
    return server.dsn_for(dbname=CLI_DB)

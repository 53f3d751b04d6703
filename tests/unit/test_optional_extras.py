"""A module of an extra, imported without the extra, says which ``pip install`` fixes it."""

from __future__ import annotations

import subprocess
import sys

import pytest

# ``sys.modules[name] = None`` makes ``import name`` fail as if it were not installed.
HIDE_AND_IMPORT = """
import sys
for hidden in sys.argv[1].split(","):
    sys.modules[hidden] = None
try:
    import {module}
except ImportError as exc:
    print(type(exc).__name__)
    print(exc)
else:
    print("imported")
"""


@pytest.mark.parametrize("hidden", ["fastapi", "pydantic", "fastapi,pydantic"])
def test_fastapi_without_the_extra(hidden: str) -> None:
    code = HIDE_AND_IMPORT.format(module="pgstatkit.fastapi")
    proc = subprocess.run(
        [sys.executable, "-c", code, hidden],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    kind, message = proc.stdout.strip().split("\n", 1)
    assert kind == "ImportError"
    assert 'pip install "pgstatkit[fastapi]"' in message

"""``import pgstatkit`` is cheap: no driver, no ``pgstatkit.stats``, no lexer regexes.

Speed itself is measured in ``benchmarks/`` (no timed assertion here): these tests pin
what makes it cheap. Each runs in a fresh interpreter, where nothing is imported yet.
"""

from __future__ import annotations

import json
import subprocess
import sys

DRIVERS = ("asyncpg", "psycopg", "psycopg_pool", "sqlalchemy")

PROBE = f"""
import json, sys
drivers = {DRIVERS!r}
def loaded(prefix):
    return sorted(m for m in sys.modules if m.split(".")[0] == prefix)
import pgstatkit
after_import = [m for m in loaded("pgstatkit") if m not in ("pgstatkit", "pgstatkit._version",
                                                             "pgstatkit.errors")]
from pgstatkit import stats
public = {{name: type(getattr(pgstatkit, name)).__name__ for name in pgstatkit.__all__}}
import pgstatkit.sync.stats, pgstatkit.models, pgstatkit.cli
import pgstatkit._scan as scan
compiled_at_import = scan._patterns.cache_info().currsize
scan.scan("SELECT 1")
print(json.dumps({{
    "after_import": after_import,
    "stats_is_module": stats is pgstatkit.stats and stats.__name__ == "pgstatkit.stats",
    "public": public,
    "in_dir": "stats" in dir(pgstatkit),
    "drivers": sorted(m for m in sys.modules if m.split(".")[0] in drivers),
    "compiled_at_import": compiled_at_import,
    "compiled_after_scan": scan._patterns.cache_info().currsize,
}}))
"""


def _probe() -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def test_import_pgstatkit_loads_only_the_errors() -> None:
    assert _probe()["after_import"] == []


def test_every_public_name_still_works() -> None:
    found = _probe()
    assert found["stats_is_module"] is True
    assert found["in_dir"] is True
    public = found["public"]
    assert isinstance(public, dict)
    assert public["stats"] == "module"
    assert public["__version__"] == "str"
    assert all(kind == "type" for name, kind in public.items() if name.endswith("Error"))


def test_no_driver_and_no_lexer_regex_at_import() -> None:
    found = _probe()
    assert found["drivers"] == []
    # The lexer's Unicode classes are compiled on the first scan, not at import
    # (the probe proves the counter moves once scan() runs).
    assert found["compiled_at_import"] == 0
    assert found["compiled_after_scan"] == 1

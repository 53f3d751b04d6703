"""The wheel ships the SQL files (top-level ``sql/`` as ``pgstatkit/sql``) and the code
finds them there.

Builds the wheel (``python -m build --wheel``, the ``build`` package of the ``test``
extra; it fetches the build backend as pip does), checks that it holds every ``.sql``
file of the source tree, and, from the unpacked wheel alone, loads every file the code
reads: every query block, the migrations, the view definitions, the ``DO`` template.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from test_sdist import build_distribution

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

LOAD_EVERYTHING = """
from pathlib import Path
import pgstatkit
from pgstatkit import _install, _sql, migrations
root = _sql.root()
assert root == Path(pgstatkit.__file__).parent / "sql", root
for path in sorted((root / "queries").glob("*.sql")):
    assert _sql.blocks(path.name), path
for name in _install.PLANS:
    _install.plan_sql(name)
assert [m.version for m in _install.load_migrations()] == [1, 2, 3, 4]
assert _install.view_definitions((1, 12), "public")
assert migrations.install_statements() and migrations.uninstall_statements()
print("loaded from", root)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_distribution("wheel", tmp_path_factory.mktemp("wheel"))


def test_the_wheel_has_every_sql_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n for n in archive.namelist() if n.endswith(".sql")}
    expected = {
        "pgstatkit/sql/" + path.relative_to(ROOT / "sql").as_posix()
        for path in (ROOT / "sql").rglob("*.sql")
    }
    assert {"pgstatkit/sql/install.sql", "pgstatkit/sql/queries/install.sql"} <= expected
    assert shipped == expected


def test_the_wheel_ships_the_alerting_files(wheel: Path, tmp_path: Path) -> None:
    """The alert rules template and the Grafana dashboard are package data: they load
    from an unpacked wheel (the rules render and the dashboard is JSON)."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path)
    assert {"pgstatkit/alert_rules.yml", "pgstatkit/grafana_dashboard.json"} <= names
    code = (
        "import json; from pgstatkit import alerting; "
        "print(alerting.__file__); "
        "assert 'alert: PgStatKitDatabaseDown' in alerting.render_alert_rules(); "
        "assert json.loads(alerting.grafana_dashboard())['panels']"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r}); {code}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path) in proc.stdout


def test_the_code_loads_its_sql_from_the_wheel(wheel: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + LOAD_EVERYTHING,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path / "pgstatkit" / "sql") in proc.stdout

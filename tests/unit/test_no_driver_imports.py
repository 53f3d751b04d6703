"""Database drivers are imported only by the adapters (and the command line, which opens
its own psycopg connection), and only when needed."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import pgstatkit

PACKAGE = Path(pgstatkit.__file__).resolve().parent
DRIVERS = ("asyncpg", "psycopg", "psycopg_pool", "sqlalchemy")
ALLOWED_DIRS = ("adapters", "cli", "pytest_plugin")
STDLIB_ONLY_DIRS = ("testing",)
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def _is_driver(module: str) -> bool:
    return module.split(".")[0] in DRIVERS


def _relative(path: Path) -> Path:
    return path.relative_to(PACKAGE)


def test_sources_found() -> None:
    names = {str(_relative(p)) for p in SOURCES}
    assert {"stats.py", "_run.py", "adapters/_asyncpg.py", "adapters/_psycopg.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(_relative(p)))
def test_driver_imports_only_in_adapters(path: Path) -> None:
    top = _relative(path).parts[0]
    if top in ALLOWED_DIRS:
        return
    offending = [(line, mod) for line, mod in _imported_modules(path) if _is_driver(mod)]
    assert not offending, f"{_relative(path)} imports a driver: {offending}"


def test_adapters_do_import_their_drivers() -> None:
    # The scan works: the adapters really do import the drivers.
    imported = {
        mod.split(".")[0]
        for path in (PACKAGE / "adapters").glob("*.py")
        for _, mod in _imported_modules(path)
    }
    assert {"asyncpg", "psycopg", "sqlalchemy"} <= imported


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCES if _relative(p).parts[0] in STDLIB_ONLY_DIRS],
    ids=lambda p: str(_relative(p)),
)
def test_testing_package_uses_only_stdlib(path: Path) -> None:
    for line, module in _imported_modules(path):
        top = module.split(".")[0]
        assert top in sys.stdlib_module_names or top in ("pgstatkit", "__future__"), (
            f"{_relative(path)}:{line} imports {module}"
        )


def test_importing_the_api_loads_no_driver() -> None:
    code = (
        "import json, sys\n"
        "import pgstatkit, pgstatkit.stats, pgstatkit.sync.stats, pgstatkit.models\n"
        "import pgstatkit.errors, pgstatkit.testing, pgstatkit.adapters\n"
        "import pgstatkit.pytest_plugin, pgstatkit.pytest_plugin._tracker\n"
        f"drivers = {DRIVERS!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in drivers)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == []

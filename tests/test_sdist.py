"""The source distribution holds what its own tests need, and they pass from it.

Builds the sdist (``python -m build --sdist``, the ``build`` package of the ``test``
extra; it fetches the build backend as pip does), then checks that every file git
tracks is in it, and runs, from the unpacked tree, the tests that read files outside
``src/`` (``tools/async_to_sync.py``, ``mkdocs.yml``, ``docs/``, ``README.md``). Skipped
outside a git checkout (an unpacked sdist has nothing to compare with).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOT_SHIPPED = {".gitignore"}
TESTS_FROM_THE_SDIST = [
    "tests/unit/test_api_surface.py",
    "tests/unit/test_async_to_sync.py",
    "tests/test_docs.py",
    "tests/test_readme.py",
]

pytestmark = pytest.mark.slow


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to compare the sdist with")
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [name for name in out.split("\0") if name and (ROOT / name).exists()]


def build_distribution(kind: str, out: Path) -> Path:
    """Build the ``--sdist`` or ``--wheel`` of the checkout into ``out``; its path.

    Skipped without the ``build`` package (a failure under ``CI=true``).
    """
    try:
        import build  # noqa: F401
    except ImportError:
        if _in_ci():
            pytest.fail('the build package is not installed: pip install -e ".[test]"')
        pytest.skip('the build package is not installed (pip install -e ".[test]")')
    proc = subprocess.run(
        [sys.executable, "-m", "build", f"--{kind}", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [built] = out.glob("*.tar.gz" if kind == "sdist" else "*.whl")
    return built


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdist")
    archive = build_distribution("sdist", out)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.12, and 3.10.12+ / 3.11.4+
            tar.extractall(out, filter="data")
        else:  # pragma: no cover - our own archive, just built
            tar.extractall(out)
    [tree] = [p for p in out.iterdir() if p.is_dir()]
    return tree


def test_the_sdist_has_every_tracked_file(unpacked: Path) -> None:
    missing = [
        name
        for name in tracked_files()
        if name not in NOT_SHIPPED and not (unpacked / name).is_file()
    ]
    assert missing == [], "add these to [tool.hatch.build.targets.sdist] in pyproject.toml"


# The inner run has its own bound (600 s); pytest-timeout's 300 s default is too short for
# it on a loaded 2-core machine.
@pytest.mark.timeout(900)
def test_its_tests_pass_from_the_unpacked_sdist(unpacked: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(unpacked / "src"), NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS_FROM_THE_SDIST],
        cwd=unpacked,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout

"""Generate ``src/pgstatkit/sync/stats.py`` from the async ``src/pgstatkit/stats.py``.

The blocking API must mirror the async one name for name and keyword for keyword, with
the same docstrings; writing it by hand invites drift. Run after editing
``stats.py``; ``--check`` (run by the unit tests) fails when the file is stale.

    python tools/gen_sync.py [--check]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASYNC = ROOT / "src" / "pgstatkit" / "stats.py"
SYNC = ROOT / "src" / "pgstatkit" / "sync" / "stats.py"

_HEADER_ASYNC = '''"""The async monitoring API: ``from pgstatkit import stats``.

Every function takes ``conn`` first: an asyncpg ``Connection`` or ``Pool``, a psycopg
``AsyncConnection`` or ``AsyncConnectionPool``, or a SQLAlchemy ``AsyncConnection``,
``AsyncSession`` or ``AsyncEngine`` (asyncpg or psycopg driver). Anything else raises
``TypeError``. The blocking twin, :mod:`pgstatkit.sync.stats`, has the same names and
keyword arguments.'''

_HEADER_SYNC = '''"""The blocking monitoring API: ``from pgstatkit.sync import stats``.

Generated from :mod:`pgstatkit.stats` by ``tools/gen_sync.py``: do not edit.

Every function takes ``conn`` first: a psycopg ``Connection`` or ``ConnectionPool``, or
a SQLAlchemy ``Connection``, ``Session`` or ``Engine`` (psycopg driver). Anything else
raises ``TypeError``. The async twin, :mod:`pgstatkit.stats`, has the same names and
keyword arguments.'''

_RUN_ASYNC = """async def _run(conn: Any, op: Operation[T]) -> T:
    async with open_async(conn) as session:
        return await run_async(session, op)"""

_RUN_SYNC = """def _run(conn: Any, op: Operation[T]) -> T:
    with open_sync(conn) as session:
        return run_sync(session, op)"""

_REPLACEMENTS = (
    (_HEADER_ASYNC, _HEADER_SYNC),
    ("from pgstatkit._run import run_async", "from pgstatkit._run import run_sync"),
    ("from pgstatkit.adapters import open_async", "from pgstatkit.adapters import open_sync"),
    (_RUN_ASYNC, _RUN_SYNC),
    ("async def ", "def "),
    ("return await _run(", "return _run("),
)


def generate(source: str) -> str:
    """The sync module's text for the async module's ``source``.

    Raises:
        ValueError: a pattern the conversion relies on is missing from ``source``.
    """
    for old, new in _REPLACEMENTS:
        if old not in source:
            raise ValueError(f"gen_sync: pattern not found in stats.py: {old[:60]!r}")
        source = source.replace(old, new)
    if "await " in source or "async def" in source or "async with" in source:
        raise ValueError("gen_sync: async code left after conversion")
    return source


def formatted(source: str) -> str:
    """``source`` as ``ruff format`` writes it (the repository's formatter and settings)."""
    proc = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(SYNC), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if sync/stats.py is stale")
    args = parser.parse_args()
    expected = formatted(generate(ASYNC.read_text(encoding="utf-8")))
    if args.check:
        if SYNC.read_text(encoding="utf-8") != expected:
            print(f"{SYNC} is stale: run python tools/gen_sync.py", file=sys.stderr)
            return 1
        return 0
    SYNC.write_text(expected, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

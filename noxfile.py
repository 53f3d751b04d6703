"""Developer sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s docs``.

``nox -s tests`` runs the same test command as CI (README.md); the clusters it needs
are started by the test suite itself (docs/testing.md).
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src/."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "src")
    session.run("python", "tools/async_to_sync.py", "--check")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite on real PostgreSQL 15, 17 and 18 (see docs/testing.md)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (benchmarks/README.md); rewrites docs/benchmarks.md. ``-- --quick``: smoke run."""
    session.install("-e", ".[all]")
    session.run("python", "benchmarks/run.py", *session.posargs)
    # then the history section (PostgreSQL 15 with PoWA), written into the same page
    quick = ["--quick"] if "--quick" in session.posargs else []
    session.run("python", "benchmarks/history.py", *quick)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site: ``mkdocs build --strict`` (any warning fails) into ``site/``.

    Extra arguments go to ``mkdocs build``: ``nox -s docs -- --site-dir /tmp/site``.
    """
    session.install("-e", ".[docs]")
    session.run(
        *("python", "-m", "mkdocs", "build", "--strict", "--site-dir", "site"),
        *session.posargs,
        env={"NO_MKDOCS_2_WARNING": "1"},
    )

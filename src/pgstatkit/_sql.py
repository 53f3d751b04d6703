"""Load pgstatkit's SQL files (the repository's top-level ``sql/``) and quote identifiers.

The files live in ``sql/`` at the top of the source tree; the wheel ships them as
``pgstatkit/sql/`` (``force-include`` in ``pyproject.toml``). :func:`root` finds them in
either place, so a wheel, an editable install and a source checkout (``PYTHONPATH=src``)
read the same files:

- ``sql/queries/*.sql``: the queries, by what they answer (named blocks, below);
- ``sql/schema/NNNN_*.sql``: the ordered, versioned migrations of the helper schema,
  and ``sql/schema/views.sql``, the helper views per ``pg_stat_statements`` version;
- ``sql/plpgsql/apply.sql``: the ``DO`` block that applies install / uninstall without
  Python; ``sql/install.sql`` and ``sql/uninstall.sql`` are it, generated
  (``tools/gen_sql.py``) for ``psql -f``, Flyway and sqitch.

A query file holds named blocks::

    -- name: slow_queries
    SELECT ...;

Blocks are read once and cached. A block's text runs from its ``-- name:`` line to the
next one; comment lines are kept, the trailing semicolon is dropped (drivers take one
statement at a time). A bare file name (``"statements.sql"``) is in ``queries/``.
"""

from __future__ import annotations

import functools
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["blocks", "load", "quote_ident", "quote_literal", "read", "render", "root"]

_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z0-9_]+)\s*$", re.MULTILINE)


@functools.cache
def root() -> Path:
    """The directory of pgstatkit's SQL files: ``pgstatkit/sql`` in a wheel, else the
    source tree's top-level ``sql/``.

    Raises:
        FileNotFoundError: neither exists (a broken installation).
    """
    from pathlib import Path  # on first use: pathlib costs milliseconds at import

    here = Path(__file__).resolve().parent
    for candidate in (here / "sql", here.parent.parent / "sql"):
        if (candidate / "queries").is_dir():
            return candidate
    raise FileNotFoundError(
        f"pgstatkit's SQL files are missing (looked in {here / 'sql'} and "
        f"{here.parent.parent / 'sql'}): reinstall pgstatkit"
    )


@functools.cache
def read(path: str) -> str:
    """The text of the SQL file at ``path``, relative to :func:`root` (``"schema/views.sql"``).

    Raises:
        FileNotFoundError: no such file.
    """
    return (root() / path).read_text(encoding="utf-8")


@functools.cache
def _file(filename: str) -> dict[str, str]:
    path = filename if "/" in filename else f"queries/{filename}"
    text = read(path)
    blocks: dict[str, str] = {}
    matches = list(_NAME_LINE.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        if body.endswith(";"):
            body = body[:-1].rstrip()
        name = match.group(1)
        if name in blocks:
            raise RuntimeError(f"duplicate SQL block {name!r} in {filename}")
        blocks[name] = body
    return blocks


def blocks(filename: str) -> dict[str, str]:
    """Every named block of ``filename`` (a bare name is in ``queries/``), in file order.

    Raises:
        FileNotFoundError: no such file.
    """
    return dict(_file(filename))


def load(filename: str, name: str) -> str:
    """Return the SQL block ``name`` from ``filename`` (a bare name is in ``queries/``).

    Raises:
        KeyError: no such block (a bug in pgstatkit, never the caller's input).
    """
    return _file(filename)[name]


def render(sql: str, **fragments: str) -> str:
    """Replace ``{{key}}`` markers in ``sql`` with trusted, pgstatkit-generated fragments.

    Only identifiers quoted by :func:`quote_ident` and fixed SQL written in pgstatkit
    are ever substituted; values always travel as bound ``$n`` parameters.

    Raises:
        KeyError: a marker in ``sql`` has no fragment, or a fragment has no marker.
    """
    for key, fragment in fragments.items():
        marker = "{{" + key + "}}"
        if marker not in sql:
            raise KeyError(f"no {marker} in SQL block")
        sql = sql.replace(marker, fragment)
    if "{{" in sql:
        raise KeyError(f"unfilled marker in SQL block: {sql[sql.index('{{') :][:40]!r}")
    return sql


def quote_ident(name: str) -> str:
    """Quote ``name`` as a PostgreSQL identifier: ``"name"``, inner quotes doubled.

    Raises:
        ValueError: ``name`` is empty or contains a NUL character.
    """
    if not name or "\x00" in name:
        raise ValueError("an identifier must be a non-empty string without NUL characters")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote ``value`` as a SQL string constant: ``'value'``, inner quotes doubled.

    For the places a value cannot be a bound parameter: text shown to the user as a fix
    (``ALTER SYSTEM SET ... = '...'``), ``postgresql.conf`` lines, and ``DO`` blocks.
    Assumes ``standard_conforming_strings = on`` (the default since PostgreSQL 9.1).

    Raises:
        ValueError: ``value`` contains a NUL character.
    """
    if "\x00" in value:
        raise ValueError("a string constant cannot contain NUL characters")
    return "'" + value.replace("'", "''") + "'"

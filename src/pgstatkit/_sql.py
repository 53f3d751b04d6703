"""Load the SQL bundled in ``pgstatkit/sql/*.sql`` and quote identifiers.

Each file holds named blocks::

    -- name: slow_queries
    SELECT ...;

Blocks are read once from package data (``importlib.resources``) and cached. A block's
text runs from its ``-- name:`` line to the next one; comment lines are kept, the
trailing semicolon is dropped (drivers take one statement at a time).
"""

from __future__ import annotations

import functools
import re

__all__ = ["load", "quote_ident", "quote_literal", "render"]

_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z0-9_]+)\s*$", re.MULTILINE)


@functools.cache
def _file(filename: str) -> dict[str, str]:
    from importlib import resources  # on first use: it costs milliseconds at import

    text = resources.files("pgstatkit.sql").joinpath(filename).read_text(encoding="utf-8")
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


def load(filename: str, name: str) -> str:
    """Return the SQL block ``name`` from the bundled file ``filename``.

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

"""The field documentation (``pgstatkit._fielddoc``): complete, and the docs' tables are
written from it.

A result model of any report (including ones registered later), and every model nested
in one, must be described; ``tools/gen_model_docs.py --check`` must find every table in
``docs/`` up to date and every described model shown in one. An integer identifier
(``queryid``, ``userid``, ``..._id``) must say what it is: a 64-bit id (a string in
JSON) or an OID (32 bits: a JSON number is exact).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any, get_args

import pytest

from pgstatkit import _fielddoc, reports
from pgstatkit.models import QueryPlan, SetupReport

ROOT = Path(__file__).resolve().parents[2]


def result_models() -> set[type[Any]]:
    """Every result model of a report or of explain, and the models nested in them."""
    found: set[type[Any]] = set()
    todo: list[Any] = [r.model for r in reports.REPORTS.values()] + [QueryPlan]
    while todo:
        model = todo.pop()
        if not (dataclasses.is_dataclass(model) and isinstance(model, type)):
            continue
        if model in found:
            continue
        found.add(model)
        for hint in typing.get_type_hints(model).values():
            todo += [hint, *get_args(hint)]
            todo += [a for arg in get_args(hint) for a in get_args(arg)]
    return found


def test_every_result_model_is_described() -> None:
    missing = sorted(m.__name__ for m in result_models() if m not in _fielddoc.MODELS)
    assert not missing, (
        f"result models without field documentation: {missing}; call "
        "pgstatkit._fielddoc.describe() for each (every field: unit and meaning, and "
        "since= for a field not every version has), and show it in docs/ with "
        "<!-- fields: Name --><!-- /fields --> (python tools/gen_model_docs.py)"
    )
    assert SetupReport in result_models()


def test_docs_tables_are_written_from_the_field_docs() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_model_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_integer_identifiers_are_decided() -> None:
    undecided = []
    for model, doc in _fielddoc.MODELS.items():
        hints = typing.get_type_hints(model)
        for name, field in doc.fields.items():
            is_int = int in (hints[name], *get_args(hints[name]))
            decided = field.id64 or "OID" in field.meaning
            if is_int and name.endswith("id") and not decided:
                undecided.append(f"{model.__name__}.{name}")
    assert not undecided, (
        f"integer identifiers neither id64=True nor an OID: {undecided} (a 64-bit id is "
        "a string in JSON, where numbers above 2**53 lose precision)"
    )


def test_describe_refuses_an_incomplete_or_wrong_description() -> None:
    @dataclasses.dataclass(frozen=True)
    class Probe:
        a: int
        b: int | None

    with pytest.raises(ValueError, match="not the model's"):
        _fielddoc.describe(Probe, None, {"a": "x"})
    with pytest.raises(ValueError, match="not the model's"):
        _fielddoc.describe(Probe, None, {"b": "y", "a": "x"})
    with pytest.raises(ValueError, match="since"):
        _fielddoc.describe(Probe, None, {"a": "x", "b": _fielddoc.F("y", since="14")})
    with pytest.raises(ValueError, match="since"):
        _fielddoc.describe(
            Probe, "pg_stat_statements", {"a": "x", "b": _fielddoc.F("y", since="14")}
        )
    assert Probe not in _fielddoc.MODELS
    doc = _fielddoc.describe(Probe, "PostgreSQL", {"a": "x", "b": _fielddoc.F("y", since="14")})
    try:
        assert (doc.exists("a"), doc.exists("b")) == ("all", "PG 14+")
        assert "PostgreSQL 14+" in doc.versions("b")
    finally:
        del _fielddoc.MODELS[Probe]

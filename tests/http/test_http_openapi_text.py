"""What a reader of the admin API's OpenAPI document (Swagger UI, ReDoc, a generated
client) finds: every field and parameter described, for JSON readers.

The checks walk the whole document of a router with every route enabled, so fields
and routes added later are checked without being listed:

- every property of every schema, and every parameter, has a description;
- no description holds a Sphinx role (``:func:``) or reStructuredText's double
  backticks, nor Python's ``None``/``True``/``False`` (JSON says ``null``/``true``/
  ``false``);
- a field's description says its unit (``_ms``: ms, ``_bytes``: bytes, ``_ratio``: 0..1)
  and the versions that have it (a result model's fields);
- every optional parameter declares its default in the schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from http_support import TOKEN, make_app

from pgstatkit.fastapi import bearer_token, create_router

PYTHON_WORDS = re.compile(r"(?<![\w\"'])(None|True|False)(?![\w\"'])")
SPHINX = re.compile(r":(?:py:)?[a-z]+:`|``")
UNITS = {"_ms": ("ms",), "_bytes": ("bytes",), "_ratio": ("0..1", "0 to 1")}
VERSIONS = re.compile(r"Every supported version|PostgreSQL \d+\+")
RESULT_MODELS = (
    "QueryStat",
    "DatabaseStatistics",
    "TableStatistics",
    "IndexUsage",
    "QueryPlan",
    "SetupFinding",
    "SetupReport",
)


def document() -> dict[str, Any]:
    router = create_router(
        lambda: None,
        auth=bearer_token(TOKEN),
        enable_explain=True,
        enable_explain_analyze=True,
        enable_reset=True,
    )
    found: dict[str, Any] = make_app(router).openapi()
    return found


def _schemas(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object with properties in ``node``, with a path for messages."""
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            yield where, node
        for key, value in node.items():
            yield from _schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schemas(value, f"{where}/{index}")


def _descriptions(node: Any, where: str = "#") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield where, value
            else:
                yield from _descriptions(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _descriptions(value, f"{where}/{index}")


def test_every_property_has_a_description() -> None:
    missing = [
        f"{where}/properties/{name}"
        for where, schema in _schemas(document(), "#")
        for name, prop in schema["properties"].items()
        if not prop.get("description")
    ]
    assert not missing, "properties without a description:\n" + "\n".join(missing)


def test_every_parameter_has_a_description_and_a_default() -> None:
    problems = []
    for path, methods in document()["paths"].items():
        for method, op in methods.items():
            for param in op.get("parameters", []):
                name = f"{method.upper()} {path} {param['name']}"
                if not param.get("description"):
                    problems.append(f"{name}: no description")
                if not param.get("required") and "default" not in param["schema"]:
                    kinds = [s.get("type") for s in param["schema"].get("anyOf", [])]
                    if "null" not in kinds:  # absent means null: "all statements" for queryid
                        problems.append(f"{name}: optional without a default")
    assert not problems, "\n".join(problems)


def test_descriptions_are_written_for_json_readers() -> None:
    problems = [
        f"{where}: {text}"
        for where, text in _descriptions(document())
        if SPHINX.search(text) or PYTHON_WORDS.search(text)
    ]
    assert not problems, "descriptions with Python or Sphinx words:\n" + "\n".join(problems)


def test_fields_say_their_unit_and_versions() -> None:
    problems = []
    schemas = document()["components"]["schemas"]
    for model in RESULT_MODELS:
        for name, prop in schemas[model]["properties"].items():
            text = prop.get("description", "")
            for suffix, words in UNITS.items():
                if name.endswith(suffix) and not any(w in text for w in words):
                    problems.append(f"{model}.{name}: no unit ({' or '.join(words)})")
            if not VERSIONS.search(text):
                problems.append(f"{model}.{name}: no versions")
    assert not problems, "\n".join(problems)


def test_version_notes_are_the_models_docs() -> None:
    schemas = document()["components"]["schemas"]
    toplevel = schemas["QueryStat"]["properties"]["toplevel"]["description"]
    assert "pg_stat_statements 1.9+ (PostgreSQL 14+); `null` on older versions" in toplevel
    sessions = schemas["DatabaseStatistics"]["properties"]["sessions"]["description"]
    assert "PostgreSQL 14+; `null` on older versions" in sessions
    finding = schemas["SetupFinding"]["description"]
    assert "check_setup" in finding and ":func:" not in finding

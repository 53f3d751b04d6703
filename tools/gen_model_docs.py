"""Write the field tables of the docs from ``pgstatkit._fielddoc`` (the one source).

Every page under ``docs/`` may hold, for any described model::

    <!-- fields: QueryStat -->
    (the table: written here)
    <!-- /fields -->

The table has a row per field: name, type, unit / meaning and, when the model's
versions count in something, the first version that has it. The admin API's OpenAPI
descriptions come from the same text (``pgstatkit.http._schema``).

    python tools/gen_model_docs.py           # rewrite the tables
    python tools/gen_model_docs.py --check   # exit 1 if a table is not what it would write
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from pgstatkit import _fielddoc, _history, checks, history_report, reports  # noqa: E402, F401

BLOCK = re.compile(r"(<!-- fields: (\w+) -->\n)(.*?)(<!-- /fields -->)", re.DOTALL)


def type_name(annotation: Any) -> str:
    """How a field's type reads in the docs: ``int | None``, ``datetime``, ``str``."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in get_args(annotation))
    if origin is Literal:
        return "str"
    if origin is tuple:
        return f"tuple[{type_name(get_args(annotation)[0])}, ...]"
    if origin is dict:
        return "dict"
    if annotation is type(None):
        return "None"
    if annotation is datetime.datetime:
        return "datetime"
    return str(getattr(annotation, "__name__", annotation))


def table(doc: _fielddoc.ModelDoc) -> str:
    """The Markdown table of one model (pipes in cells escaped, as GitHub wants)."""
    hints = typing.get_type_hints(doc.model)
    exists = doc.basis is not None
    lines = [
        "| field | type | unit / meaning |" + (" exists |" if exists else ""),
        "| --- | --- | --- |" + (" --- |" if exists else ""),
    ]
    for f in dataclasses.fields(doc.model):
        kind = type_name(hints[f.name]).replace("|", "\\|")
        row = f"| `{f.name}` | `{kind}` | {doc.fields[f.name].meaning} |"
        lines.append(row + (f" {doc.exists(f.name)} |" if exists else ""))
    return "\n".join(lines) + "\n"


def render(text: str, models: dict[str, _fielddoc.ModelDoc]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in models:
            raise SystemExit(f"<!-- fields: {name} -->: no model {name} is described")
        return match.group(1) + table(models[name]) + match.group(4)

    return BLOCK.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    models = {doc.model.__name__: doc for doc in _fielddoc.MODELS.values()}
    stale, shown = [], set()
    for page in sorted((ROOT / "docs").rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        shown |= {m.group(2) for m in BLOCK.finditer(text)}
        new = render(text, models)
        if new != text:
            stale.append(page.relative_to(ROOT).as_posix())
            if not args.check:
                page.write_text(new, encoding="utf-8")
    missing = sorted(set(models) - shown)
    if missing:
        print(f"described models without a <!-- fields: --> table: {missing}", file=sys.stderr)
        return 1
    if args.check and stale:
        print(f"stale field tables in {stale}: run python tools/gen_model_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

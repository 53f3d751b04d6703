"""The JSON shapes of the admin API: the result models as pydantic models, 64-bit ids.

The result models are dataclasses (:mod:`pgstatkit.models`); over HTTP each becomes a
pydantic model of the same name (:func:`response_model`) whose fields carry:

- the description of :mod:`pgstatkit._fielddoc` (the text of docs/models.md's tables):
  the unit and meaning, then the versions that have the field, written for JSON readers
  (``null``, ``true``, ``false``; no Sphinx roles);
- for a 64-bit identifier (``queryid``), the type :data:`Int64`: a decimal string in
  responses (a JSON number loses precision above 2**53 in JavaScript), a string or an
  integer in requests.

The Python API keeps ints; only the JSON differs.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pydantic
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from pgstatkit import _fielddoc

__all__ = ["INT64_PATTERN", "Int64", "for_json", "response_model"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT64_PATTERN = r"^-?[0-9]{1,19}$"
INT64_NOTE = (
    "A signed 64-bit integer written as a decimal string: JSON numbers lose precision "
    "above 2^53 in JavaScript."
)

_INT64_TEXT = {"type": "string", "pattern": INT64_PATTERN, "examples": ["-1118924422343236163"]}


def _int64_from_text(value: object) -> object:
    """A decimal string becomes an int; bools are refused (JSON ``true`` is no id)."""
    if isinstance(value, bool):
        raise ValueError("must be an integer or a string of decimal digits, not a boolean")
    if isinstance(value, str):
        if not re.fullmatch(INT64_PATTERN, value):
            raise ValueError("must be a string of decimal digits, optionally after a minus sign")
        return int(value)
    return value


Int64 = Annotated[
    int,
    pydantic.Field(ge=INT64_MIN, le=INT64_MAX),
    BeforeValidator(_int64_from_text),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema(
        {"anyOf": [_INT64_TEXT, {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX}]},
        mode="validation",
    ),
    WithJsonSchema(_INT64_TEXT, mode="serialization"),
]
"""A 64-bit identifier: accepted as a decimal string or an integer, answered as a string."""

_ROLE = re.compile(r":(?:py:)?[a-z]+:`~?([\w.]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_PYTHON_WORDS = {"None": "null", "True": "true", "False": "false"}
_PYTHON_WORD = re.compile(r"\b(?:None|True|False)\b")


def for_json(text: str) -> str:
    """Documentation text as a JSON reader wants it: ``null``/``true``/``false`` for
    Python's words in code, Sphinx roles and Markdown links reduced to their text,
    reStructuredText's double backticks as Markdown's single ones."""
    text = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)
    text = _LINK.sub(r"\1", text).replace("``", "`")
    return _PYTHON_WORD.sub(lambda m: _PYTHON_WORDS[m.group(0)], text)


def _description(model: type[Any], name: str) -> str | None:
    doc = _fielddoc.MODELS.get(model)
    if doc is None:
        return None
    text = f"{doc.fields[name].meaning}. {doc.versions(name)}"  # "ms, ...": no capital
    if doc.fields[name].id64:
        text += " " + INT64_NOTE
    return for_json(text)


def _is_id64(model: type[Any], name: str) -> bool:
    doc = _fielddoc.MODELS.get(model)
    return doc is not None and doc.fields[name].id64


def _http_type(annotation: Any, id64: bool) -> Any:
    """The pydantic annotation of a model field's type: nested result models become
    their pydantic models, tuples lists, a 64-bit id :data:`Int64`."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = tuple(_http_type(a, id64) for a in get_args(annotation))
        return functools.reduce(lambda a, b: a | b, members)
    if origin in (tuple, list):
        return list[_http_type(get_args(annotation)[0], id64)]  # type: ignore[misc]
    if origin is Literal or origin is dict:
        return annotation
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return response_model(annotation)
    if annotation is int and id64:
        return Int64
    return annotation


def _model_doc(model: type[Any]) -> str:
    return for_json(" ".join((model.__doc__ or model.__name__).split()))


_MODELS: dict[type[Any], type[pydantic.BaseModel]] = {}


def response_model(model: type[Any]) -> type[pydantic.BaseModel]:
    """The pydantic model of the result dataclass ``model`` (same name and fields; made
    once per model, so that every route shares one OpenAPI component)."""
    found = _MODELS.get(model)
    if found is None:
        found = _MODELS[model] = _make_model(model)
    return found


def _make_model(model: type[Any]) -> type[pydantic.BaseModel]:
    hints = typing.get_type_hints(model)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(model):
        annotation = _http_type(hints[f.name], _is_id64(model, f.name))
        description = _description(model, f.name)
        if hasattr(pydantic.BaseModel, f.name):  # "schema": the JSON name stays, by alias
            field = pydantic.Field(alias=f.name, description=description)
            fields[f"{f.name}_"] = (annotation, field)
        else:
            fields[f.name] = (annotation, pydantic.Field(description=description))
    config = pydantic.ConfigDict(from_attributes=True, title=model.__name__)
    created: type[pydantic.BaseModel] = pydantic.create_model(
        model.__name__, __config__=config, __doc__=_model_doc(model), **fields
    )
    return created

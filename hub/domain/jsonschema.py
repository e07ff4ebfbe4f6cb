"""JSON Schema of a record's JSON form, generated from its Avro schema (schemas/, latest release). Pure.

The OpenAPI documents describe what connectors send; the enums, the field names, their nesting and
which fields are required come from the ``.avsc`` files, so they cannot drift from what the hub
encodes. What only the JSON form has (descriptions, length limits, examples) is laid over the
generated schema with :func:`overlay`.

Mapping: a record is an ``object`` whose required properties are the fields without a default; an
enum a ``string`` with its symbols; ``["null", T]`` is T (optional); ``timestamp-millis`` is an
RFC 3339 ``date-time`` string (the JSON form of every timestamp, :func:`hub.domain.report.to_json`);
int and long are ``integer``, float and double ``number``. A field's non-null scalar default is the
property's ``default``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hub.domain.codec import NAMESPACE, default_catalogue

_SCALARS = {"string": "string", "boolean": "boolean", "int": "integer", "long": "integer",
            "float": "number", "double": "number", "bytes": "string"}


def json_schema(avro: Any, *, leave_out: Iterable[str] = ()) -> dict[str, Any]:
    """The JSON Schema of an (expanded) Avro schema; ``leave_out``: top-level fields the JSON form
    does not have (e.g. those the hub assigns)."""
    return _convert(avro, {}, frozenset(leave_out))


def record_schema(name: str, *, leave_out: Iterable[str] = ()) -> dict[str, Any]:
    """:func:`json_schema` of the named record's latest release (e.g. ``org.caricc.hub.Report``)."""
    return json_schema(default_catalogue().latest(name).expanded, leave_out=leave_out)


def _convert(avro: Any, named: dict[str, dict[str, Any]], leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    if isinstance(avro, str):
        if avro in _SCALARS:
            return {"type": _SCALARS[avro]}
        return named[avro if "." in avro else f"{NAMESPACE}.{avro}"]  # a named type defined earlier
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        if len(branches) != 1:
            raise ValueError(f"only [\"null\", T] unions have a JSON form here, not {avro!r}")
        return _convert(branches[0], named)
    kind = avro["type"]
    if avro.get("logicalType") == "timestamp-millis":
        return {"type": "string", "format": "date-time"}
    if kind == "enum":
        return _named(avro, named, {"type": "string", "enum": list(avro["symbols"])})
    if kind == "array":
        return {"type": "array", "items": _convert(avro["items"], named)}
    if kind == "record":
        fields = [f for f in avro["fields"] if f["name"] not in leave_out]
        out: dict[str, Any] = {"type": "object"}
        required = [f["name"] for f in fields if "default" not in f]
        if required:
            out["required"] = required
        out["properties"] = {f["name"]: _field(f, named) for f in fields}
        return _named(avro, named, out)
    if isinstance(kind, (dict, list)) or kind in _SCALARS:
        return _convert(kind, named)
    raise ValueError(f"no JSON form for Avro type {kind!r}")


def _named(avro: Mapping[str, Any], named: dict[str, dict[str, Any]], schema: dict[str, Any]) -> dict[str, Any]:
    named[f"{avro.get('namespace', NAMESPACE)}.{avro['name']}"] = schema
    return schema


def _field(field: Mapping[str, Any], named: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out = dict(_convert(field["type"], named))
    default = field.get("default")
    if default is not None and not isinstance(default, (list, dict)):
        out["default"] = default
    return out


def overlay(schema: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with ``extra`` laid over it: objects merge key by key (recursively), anything else
    in ``extra`` replaces what is there. Neither argument is changed."""
    out = dict(schema)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = overlay(out[key], value)
        else:
            out[key] = value
    return out

"""The JSON Schema of a report's JSON form is generated from schemas/ (hub/domain/jsonschema.py), so the
enums the OpenAPI document shows are the .avsc symbols -- and so are the validator's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.domain import report
from hub.domain.codec import REPORT, SCHEMAS_DIR
from hub.domain.jsonschema import json_schema, overlay, record_schema
from hub.ingest.http import HUB_ASSIGNED, REPORT_SCHEMA

LATEST = max((d for d in SCHEMAS_DIR.glob("v*") if d.is_dir()), key=lambda d: int(d.name[1:]))

# where each enum of the JSON form sits -> its .avsc file (read directly, not through the generator)
ENUMS = {
    ("kind",): "ReportKind",
    ("tlp",): "Tlp",
    ("conveyance", "mode"): "ConveyanceMode",
    ("parties", "role"): "PartyRole",
    ("substances", "type"): "SubstanceType",
    ("substances", "unit"): "QuantityUnit",
    ("substances", "concealment"): "Concealment",
    ("handling_code",): "HandlingCode",
    ("evaluation", "source"): "SourceReliability",
}
VALIDATOR = {"ReportKind": report.KINDS, "Tlp": report.TLPS, "ConveyanceMode": report.MODES,
             "PartyRole": report.ROLES, "SubstanceType": report.SUBSTANCE_TYPES, "QuantityUnit": report.UNITS,
             "Concealment": report.CONCEALMENTS, "HandlingCode": report.HANDLING_CODES,
             "SourceReliability": report.SOURCES}


def symbols(name: str) -> list[str]:
    return json.loads((LATEST / f"{name}.avsc").read_text(encoding="utf-8"))["symbols"]


def prop(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for name in path:
        schema = schema.get("items", schema)["properties"][name]  # an array's items, then the property
    return schema


def enum_paths(schema: dict[str, Any], path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found = {path} if "enum" in schema else set()
    for name, sub in schema.get("items", schema).get("properties", {}).items():
        found |= enum_paths(sub, (*path, name))
    return found


@pytest.mark.parametrize(("path", "avsc"), ENUMS.items(), ids=[".".join(p) for p in ENUMS])
def test_every_enum_of_the_openapi_report_schema_is_the_avsc_symbols(path: tuple[str, ...], avsc: str) -> None:
    assert prop(REPORT_SCHEMA, path)["enum"] == symbols(avsc)
    assert list(VALIDATOR[avsc]) == symbols(avsc)  # the validator's choices too


def test_no_enum_is_left_unchecked() -> None:
    assert enum_paths(REPORT_SCHEMA) == set(ENUMS)


def test_required_fields_and_shape_come_from_the_avro_report() -> None:
    assert REPORT_SCHEMA["required"] == ["kind", "source_ref", "event_time", "location"]
    assert not set(HUB_ASSIGNED) & set(REPORT_SCHEMA["properties"])
    assert list(REPORT_SCHEMA["properties"]) == [f for f in report.REPORT_FIELDS if f not in HUB_ASSIGNED]
    assert REPORT_SCHEMA["properties"]["event_time"] == {"type": "string", "format": "date-time",
                                                        "description": "RFC 3339, ≤ 1 h in the future"}
    assert REPORT_SCHEMA["properties"]["tlp"]["default"] == "AMBER"  # the field's default, not the enum's
    assert "default" not in REPORT_SCHEMA["properties"]["kind"]
    assert prop(REPORT_SCHEMA, ("substances",))["items"]["required"] == ["type", "quantity", "unit", "concealment"]
    assert prop(REPORT_SCHEMA, ("substances", "quantity")) == {"type": "number", "exclusiveMinimum": 0}
    assert "required" not in REPORT_SCHEMA["properties"]["goods"]  # every goods field is optional


def test_record_schema_follows_a_named_type_used_twice() -> None:
    point = {"type": "record", "name": "P", "namespace": "x", "fields": [{"name": "c", "type": "string"}]}
    avro = {"type": "record", "name": "R", "namespace": "x", "fields": [
        {"name": "a", "type": point}, {"name": "b", "type": ["null", "x.P"], "default": None},
        {"name": "n", "type": "int", "default": 3}, {"name": "t", "type": "long"}]}
    got = json_schema(avro)
    assert got["required"] == ["a", "t"]
    assert got["properties"]["a"] == got["properties"]["b"] == {"type": "object", "required": ["c"],
                                                                "properties": {"c": {"type": "string"}}}
    assert got["properties"]["n"] == {"type": "integer", "default": 3}
    with pytest.raises(ValueError, match="unions"):
        json_schema({"type": "record", "name": "U", "fields": [{"name": "u", "type": ["int", "string"]}]})


def test_overlay_merges_objects_and_changes_neither_argument() -> None:
    base = record_schema(REPORT, leave_out=HUB_ASSIGNED)
    before = json.dumps(base)
    extra = {"properties": {"narrative": {"maxLength": 5}}, "title": "T"}
    out = overlay(base, extra)
    assert out["properties"]["narrative"] == {"type": "string", "maxLength": 5} and out["title"] == "T"
    assert out["properties"]["kind"] == base["properties"]["kind"]
    assert json.dumps(base) == before and extra == {"properties": {"narrative": {"maxLength": 5}}, "title": "T"}

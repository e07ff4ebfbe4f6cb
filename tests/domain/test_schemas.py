"""Schema contract: one file per named type, every release kept, transitive compatibility."""

from __future__ import annotations

import json

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from hub.domain.codec import SCHEMAS_DIR, TOP_LEVEL, Catalogue, expand, load_release

CHECKER = ReaderWriterCompatibilityChecker()


def _parse(expanded: dict) -> avro.schema.Schema:
    return avro.schema.parse(json.dumps(expanded))


def _compatible(reader: dict, writer: dict) -> bool:
    result = CHECKER.get_compatibility(_parse(reader), _parse(writer))
    return result.compatibility is SchemaCompatibilityType.compatible


def test_one_file_per_named_type_and_all_parse() -> None:
    for release in sorted(SCHEMAS_DIR.glob("v*")):
        for path in release.glob("*.avsc"):
            schema = json.loads(path.read_text())
            assert schema["name"] == path.stem, f"{path} holds {schema['name']}"
        raw = load_release(release)
        for name in TOP_LEVEL:
            if name in raw:  # a type may first ship in a later release
                _parse(expand(raw[name], raw))  # the Apache parser accepts every expanded schema


def test_report_schema_has_every_spec_field() -> None:
    raw = load_release(SCHEMAS_DIR / "v1")
    fields = {f["name"] for f in raw["org.caricc.hub.Report"]["fields"]}
    spec = {"kind", "source_ref", "version", "event_time", "tlp", "addressees", "location", "route",
            "conveyance", "goods", "parties", "substances", "risk_indicators", "narrative",
            "handling_code", "handling_note", "evaluation"}
    assert spec <= fields


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_every_release_is_transitively_backward_and_forward_compatible(name: str) -> None:
    versions = Catalogue().versions[name]
    assert versions, name
    for i, newer in enumerate(versions):
        for older in versions[:i]:
            assert _compatible(newer.expanded, older.expanded), f"{name} v{newer.release} cannot read v{older.release}"
            assert _compatible(older.expanded, newer.expanded), f"{name} v{older.release} cannot read v{newer.release}"


def test_the_checker_catches_an_incompatible_change() -> None:
    """Guards the test above: removing a default / adding a required field is detected."""
    raw = load_release(SCHEMAS_DIR / "v1")
    old = expand(raw["org.caricc.hub.Report"], raw)
    new = json.loads(json.dumps(old))
    new["fields"].append({"name": "seizing_officer", "type": "string"})  # no default
    assert not _compatible(new, old)  # new reader cannot read old data
    narrower = json.loads(json.dumps(old))
    tlp = next(f for f in narrower["fields"] if f["name"] == "tlp")
    tlp["type"] = dict(tlp["type"], symbols=["CLEAR", "GREEN", "AMBER", "RED"], default="AMBER")
    assert _compatible(narrower, old)  # enum default keeps old readers working with removed symbols


def test_enums_have_defaults_for_forward_compatibility() -> None:
    for path in (SCHEMAS_DIR / "v1").glob("*.avsc"):
        schema = json.loads(path.read_text())
        if schema["type"] == "enum":
            assert schema.get("default") in schema["symbols"], path.name

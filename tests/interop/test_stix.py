"""The STIX 2.1 mapping (hub/interop/stix.py), pure: ids, markings, the extension and its schema,
partner redaction, report versions; every object checked by the OASIS validator and parsed by stix2."""

from __future__ import annotations

import json
import uuid
from typing import Any

import jsonschema
import pytest
import stix2
from stix2validator import ValidationOptions, validate_instance

from hub.interop import stix
from hub.interop.stix import EXTENSION_ID, Held, admit, item_objects
from tests.interop import world

ITEMS = [it for s in ("KZ", "UZ", "AF", "CARICC", "TR", "KG", "GE") for it in world.items_of(s)]
NS = uuid.UUID("56a6b3ce-bbfb-4dbd-a954-84cb31a2894f")


def collection(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    held: dict[str, Held] = {}
    return [o for it in items for o in admit(item_objects(it), held)]


def by_type(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["type"] == kind]


def the_report(objs: list[dict[str, Any]]) -> dict[str, Any]:
    (r,) = by_type(objs, "report")
    return r


def ext(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["extensions"][EXTENSION_ID]


def test_ids_are_uuid5_of_the_keyed_hub_ids_and_deterministic() -> None:
    it = ITEMS[0]
    objs = item_objects(it)
    assert objs == item_objects(json.loads(json.dumps(it)))  # same input, same objects
    rep = the_report(objs)
    assert rep["id"] == f"report--{uuid.uuid5(NS, 'report' + chr(31) + it['report']['report_id'])}"
    (inc,) = by_type(objs, "incident")
    assert inc["id"] == f"incident--{uuid.uuid5(NS, 'incident' + chr(31) + it['incident_id'])}"
    assert ext(rep)["hub_report_id"] == it["report"]["report_id"]
    # every version of a report is one STIX id; the incident id is the state's own view of it
    ids = {}
    for i in ITEMS:
        ids.setdefault(i["report"]["report_id"], set()).add(the_report(item_objects(i))["id"])
    assert all(len(v) == 1 for v in ids.values())
    split = [(a, b) for a in ITEMS for b in ITEMS
             if a["report"]["report_id"] == b["report"]["report_id"] and a["incident_id"] != b["incident_id"]]
    assert split, "the scenario has versions that states see in different incidents"
    for a, b in split[:5]:
        assert by_type(item_objects(a), "incident")[0]["id"] != by_type(item_objects(b), "incident")[0]["id"]


def test_tlp_is_the_official_oasis_tlp_2_0_marking() -> None:
    official = {  # oasis-open/cti-stix-common-objects, extension-definition-specifications/tlp-2.0
        "CLEAR": ("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "clear"),
        "GREEN": ("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "green"),
        "AMBER": ("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "amber"),
        "AMBER_STRICT": ("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", "amber+strict"),
        "RED": ("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "red"),
    }
    seen = set()
    for it in ITEMS:
        objs = item_objects(it)
        tlp = it["report"]["tlp"]
        mid, value = official[tlp]
        (marking,) = [o for o in objs if o["id"] == mid]
        assert marking == {"type": "marking-definition", "spec_version": "2.1", "id": mid,
                           "created": "2022-10-01T00:00:00.000Z", "name": f"TLP:{value.upper()}",
                           "extensions": {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
                                          {"extension_type": "property-extension", "tlp_2_0": value}}}
        for o in objs:  # everything with report content bears the report's TLP, and no other
            if stix.content_of(o):
                assert mid in o["object_marking_refs"]
                assert not set(o["object_marking_refs"]) & (set(stix.TLP2_IDS.values()) - {mid})
        assert mid in the_report(objs)["object_marking_refs"]
        seen.add(tlp)
    assert seen == set(official)


def test_handling_code_is_a_statement_marking_on_every_content_object() -> None:
    (kg,) = [it for it in world.items_of("AF") if it["report"]["source_ref"] == "IOP-KG-1"]
    objs = item_objects(kg)
    rep = the_report(objs)
    (h3,) = [o for o in by_type(objs, "marking-definition") if o.get("definition_type") == "statement"]
    assert h3["id"] in rep["object_marking_refs"] and h3["name"] == "CARICC handling code H3"
    assert h3["definition"]["statement"].startswith("H3: other restrictions")
    assert "no contact with the consignee before 1 March" in h3["definition"]["statement"]
    assert ext(rep)["handling_code"] == "H3" and ext(rep)["handling_note"].startswith("no contact")
    assert all(h3["id"] in o["object_marking_refs"] for o in objs if stix.content_of(o))
    codes = {}
    for it in ITEMS:
        rep = the_report(item_objects(it))
        (h,) = [m for m in rep["object_marking_refs"] if m not in stix.TLP2_IDS.values()]
        codes.setdefault(it["report"]["handling_code"], set()).add(h)
    assert len(codes) >= 3 and all(len(v) == 1 for c, v in codes.items() if c != "H3")
    assert len({next(iter(v)) for v in codes.values()}) == len(codes)  # one marking per code


def test_the_fields_stix_lacks_are_in_the_extension_and_valid_against_the_shipped_schema() -> None:
    schema = stix.extension_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for it in ITEMS:
        rep = the_report(item_objects(it))
        errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(ext(rep))]
        assert not errors, (it["item_id"], errors)
    (kg,) = [it for it in world.items_of("UZ") if it["report"]["source_ref"] == "IOP-KG-1"]
    objs = item_objects(kg)
    e = ext(the_report(objs))
    assert e["substances"] == [
        {"type": "HASHISH", "name": "чарс", "quantity": 85.0, "unit": "KG", "concealment": "CONVEYANCE",
         "concealment_detail": "fuel tank"},
        {"type": "TRAMADOL", "quantity": 12000, "unit": "TABLETS", "concealment": "CARGO"}]
    assert e["conveyance"]["container_numbers"] == ["CSQU3054383"] and e["conveyance"]["mode"] == "ROAD"
    assert e["evaluation"] == {"source": "A", "information": 1}
    assert e["kind"] == "SEIZURE" and e["version"] == 1 and e["delivery"] in ("NEW", "CORRELATED")
    # places: a precise event location, route points in order (a country alone is a shared country)
    locs = {o["id"]: o for o in by_type(objs, "location")}
    event = locs[e["location_ref"]]
    assert (event["name"], event["country"], event["latitude"], event["longitude"]) == ("Irkeshtam", "KG", 39.69, 73.9)
    assert event["external_references"] == [{"source_name": "UN/LOCODE", "external_id": "KGIRK"}]
    assert [locs[r].get("name") for r in e["route_refs"]] == ["Kunduz", "TJ", "Osh"]
    assert locs[e["route_refs"][1]] == stix.country_location("TJ")
    # parties are identities, their details in the extension; roles name the identity class
    parties = {o["id"]: o for o in by_type(objs, "identity") if o["id"] in {p["party_ref"] for p in e["parties"]}}
    assert sorted((o["name"], o["identity_class"]) for o in parties.values()) == [
        ("Alai Trans LLC", "organization"), ("Unknown helper", "unknown"), ("Токтогулов Азамат", "individual")]
    (driver,) = [p for p in e["parties"] if p["role"] == "DRIVER"]
    assert driver["identifier"] == "KG-AN-778812" and driver["latin"]
    rels = {(o["relationship_type"], o["source_ref"].split("--")[0], o["target_ref"].split("--")[0])
            for o in by_type(objs, "relationship")}
    assert {("located-at", "identity", "location"), ("located-at", "incident", "location"),
            ("related-to", "identity", "incident"), ("related-to", "report", "incident")} <= rels


def test_partner_copies_are_built_from_the_redacted_item() -> None:
    partner = [it for it in ITEMS if it["routing"]["redacted"]]
    assert len(partner) >= 5
    identifiers = {p["identifier"] for it in world.feed_items() for p in it["report"]["parties"] if p["identifier"]}
    assert len(identifiers) >= 3
    for it in partner:
        text = json.dumps(item_objects(it), ensure_ascii=False)
        assert not any(i in text for i in identifiers), it["item_id"]
        assert ext(the_report(item_objects(it)))["routing"]["redacted"] is True
    (member,) = [it for it in world.items_of("UZ") if it["report"]["source_ref"] == "IOP-KG-1"]
    assert "KG-AN-778812" in json.dumps(item_objects(member), ensure_ascii=False)


def test_report_versions_are_stix_versions_and_shared_objects_come_once() -> None:
    uz = world.items_of("UZ")
    objs = collection(uz)
    ids = [(o["id"], stix.version_of(o)) for o in objs]
    assert len(ids) == len(set(ids))  # each object version once
    updated = [it for it in uz if it["delivery"] == "UPDATE"]
    assert updated
    for it in updated:
        versions = [o for o in by_type(objs, "report") if ext(o)["hub_report_id"] == it["report"]["report_id"]]
        assert [ext(o)["version"] for o in versions] == sorted(ext(o)["version"] for o in versions)
        assert len(versions) >= 2 and len({o["created"] for o in versions}) == 1
        assert [o["modified"] for o in versions] == sorted({o["modified"] for o in versions})
    assert len(by_type(objs, "extension-definition")) == 1
    assert len([o for o in objs if o["id"] == stix.HUB_IDENTITY]) == 1
    # a version whose received_at is not after the first one held still gets its own, later version
    first = the_report(item_objects(uz[0]))
    held = {first["id"]: Held(first["created"], frozenset({first["modified"]}))}
    again = [o for o in admit(item_objects(uz[0]), held) if o["type"] == "report"]
    assert again[0]["created"] == first["created"] and again[0]["modified"] > first["modified"]


@pytest.mark.parametrize("state", ["KZ", "AF", "CARICC", "UZ"])
def test_oasis_validator_finds_no_error_and_stix2_parses_every_object(state: str) -> None:
    objs = collection(world.items_of(state))
    assert {"report", "incident", "identity", "location", "relationship", "marking-definition",
            "extension-definition"} <= {o["type"] for o in objs}
    for o in objs:
        result = validate_instance(o, ValidationOptions(version="2.1"))
        assert result.is_valid and not result.errors, (o["id"], [str(e) for e in result.errors])
        parsed = stix2.parse(o, allow_custom=False)
        assert parsed.id == o["id"]
    bundle = stix2.parse({"type": "bundle", "id": stix.stix_id("bundle", state), "objects": objs}, allow_custom=False)
    assert len(bundle.objects) == len(objs)


def test_a_shared_copy_carries_its_provenance() -> None:
    (shared,) = [it for it in world.items_of("GE") if it["delivery"] == "SHARED"]
    e = ext(the_report(item_objects(shared)))
    assert e["delivery"] == "SHARED" and e["routing"]["redacted"] is True
    assert e["provenance"] == {"request_id": "IOP-REQ-1", "requested_by": "officer:uz-desk", "requested_state": "UZ",
                               "requested_at": stix.timestamp(shared["provenance"]["requested_at"]),
                               "granted_by": "agency:KG-DCS",
                               "granted_at": stix.timestamp(shared["provenance"]["granted_at"]),
                               "conditions": "for the joint operation only"}
    assert "KG-AN-778812" not in json.dumps(item_objects(shared), ensure_ascii=False)  # partner copy

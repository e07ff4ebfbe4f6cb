"""A state's feed items as STIX 2.1 objects (SPEC §15). Pure: no database, no clock, no settings.

The input is one feed item exactly as the state holds it (the JSON form the feed store keeps: the
partner-redacted copy for a partner, with the enrichment computed for that state). Nothing else is
read, so every STIX object a state is served is a function of its own feed (SPEC §5).

Per feed item (one report version for one state) :func:`item_objects` gives:

* ``report`` — one STIX id per hub report (all its versions are STIX versions of that id: ``modified``
  is the version's ``received_at``); ``object_marking_refs`` = the TLP 2.0 marking and the handling-code
  marking; the §3 fields STIX has no property for travel in the CARICC property extension
  (:data:`EXTENSION_ID`, JSON schema ``schemas/caricc-hub-extension-v1.json`` beside this module).
* ``incident`` — one per incident as the state sees it (the item's ``incident_id``, itself per state).
* ``identity`` — the reporting agency (``organization``), the hub (``system``, creator of the
  mapping objects) and one per party of the report version (``individual``/``organization``).
* ``location`` — a shared, unmarked object per country; one marked object per report version for a
  precise place (place name, UN/LOCODE or coordinates).
* ``relationship`` — agency/party ``located-at`` country, incident ``located-at`` the event's
  location, party ``related-to`` incident (its role as description), report ``related-to`` incident.
* ``marking-definition`` — the five official OASIS TLP 2.0 markings and one statement marking per
  handling code (H3: per handling note); ``extension-definition`` — the CARICC extension.

The mapping's fixed objects (markings, the hub and agency identities, countries, the extension
definition) are built once and shared (cached): callers never mutate the objects returned.

Ids are UUIDv5 in :data:`NAMESPACE` of the hub's keyed ids (``report_id``, ``incident_id``) and of
content, so the same input always gives the same objects. :func:`admit` then drops what the
collection already holds and versions the report object (see there).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from hub.analyst.label import label

NAMESPACE = uuid.UUID("56a6b3ce-bbfb-4dbd-a954-84cb31a2894f")  # the hub's STIX namespace (fixed forever)
SPEC = "2.1"
MEDIA_TYPE = "application/stix+json;version=2.1"
EPOCH = "2026-12-01T00:00:00.000Z"  # created/modified of the mapping's own objects (this mapping's release)
SCHEMA_FILE = "caricc-hub-extension-v1.json"


def stix_id(kind: str, *parts: object) -> str:
    """``<kind>--<UUIDv5(NAMESPACE, kind|parts…)>``: deterministic."""
    seed = "\x1f".join([kind, *("" if p is None else str(p) for p in parts)])
    return f"{kind}--{uuid.uuid5(NAMESPACE, seed)}"


EXTENSION_ID = stix_id("extension-definition", "caricc-hub", "v1")
HUB_IDENTITY = stix_id("identity", "caricc-hub")

# the official OASIS TLP 2.0 marking definitions (cti-stix-common-objects, extension 60a3c5c5…)
TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_IDS = {
    "CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "AMBER_STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}


@cache
def tlp_marking(tlp: str) -> dict[str, Any]:
    """The official TLP 2.0 marking-definition object of a hub TLP value."""
    value = tlp.lower().replace("_", "+")
    return {"type": "marking-definition", "spec_version": SPEC, "id": TLP2_IDS[tlp],
            "created": "2022-10-01T00:00:00.000Z", "name": f"TLP:{value.upper()}",
            "extensions": {TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": value}}}


HANDLING = {
    "H0": "H0: no restriction beyond the TLP.",
    "H1": "H1: not for use in court or other judicial proceedings without the consent of the providing agency.",
    "H2": "H2: no onward dissemination without the consent of the providing agency.",
    "H3": "H3: other restrictions",
}


@cache
def handling_marking(code: str, note: str | None) -> dict[str, Any]:
    """A statement marking of the handling code (H3 with its note: one marking per distinct note)."""
    statement = HANDLING[code] + (f": {note}" if code == "H3" and note else "")
    seed_note = note if code == "H3" else None
    return {"type": "marking-definition", "spec_version": SPEC, "id": stix_id("marking-definition", "handling", code,
                                                                                seed_note),
            "created": EPOCH, "created_by_ref": HUB_IDENTITY, "name": f"CARICC handling code {code}",
            "definition_type": "statement", "definition": {"statement": statement}}


@cache
def hub_identity() -> dict[str, Any]:
    return {"type": "identity", "spec_version": SPEC, "id": HUB_IDENTITY, "created": EPOCH, "modified": EPOCH,
            "name": "CARICC intelligence-sharing hub", "identity_class": "system",
            "description": "The regional hub that routes ALERT and SEIZURE reports between member states; "
                           "creator of the STIX mapping of its feeds."}


def extension_schema() -> dict[str, Any]:
    """The JSON schema of the CARICC property extension (shipped in the package, served at
    ``/taxii2/schemas/caricc-hub-extension-v1.json``)."""
    text = resources.files("hub.interop").joinpath("schemas", SCHEMA_FILE).read_text("utf-8")
    return json.loads(text)


@cache
def extension_definition() -> dict[str, Any]:
    return {"type": "extension-definition", "spec_version": SPEC, "id": EXTENSION_ID, "created": EPOCH,
            "modified": EPOCH, "created_by_ref": HUB_IDENTITY, "name": "CARICC hub report (v1)",
            "description": "Fields of a CARICC hub report that STIX 2.1 has no property for: kind, version, "
                           "substances with quantities and concealment, conveyance with container numbers, "
                           "goods, parties, the 4x4 source/information evaluation, the handling code and the "
                           "hub's enrichment and routing, as the receiving state holds them.",
            "schema": "JSON schema (draft 2020-12): caricc-hub-extension-v1.json, served by the hub at "
                      "/taxii2/schemas/caricc-hub-extension-v1.json and shipped in the hub package "
                      "(hub/interop/schemas/)",
            "version": "1.0.0", "extension_types": ["property-extension"]}


# -- helpers --------------------------------------------------------------------------------------
def timestamp(value: str | int | datetime) -> str:
    """An RFC 3339 UTC timestamp with milliseconds (STIX ``timestamp``)."""
    if isinstance(value, int):
        value = datetime.fromtimestamp(value / 1000, UTC)
    elif isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ts_ms(value: str) -> int:
    """Epoch milliseconds of a STIX timestamp."""
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def _clean(value: Any) -> Any:
    """Drop None values and empty lists/objects (STIX forbids empty lists; absent means none)."""
    if isinstance(value, Mapping):
        out = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _rel(source: str, kind: str, target: str, created: str, by: str, markings: list[str] | None,
         *seed: object, description: str | None = None) -> dict[str, Any]:
    obj = {"type": "relationship", "spec_version": SPEC, "id": stix_id("relationship", source, kind, target, *seed),
           "created": created, "modified": created, "created_by_ref": by, "relationship_type": kind,
           "source_ref": source, "target_ref": target, "description": description,
           "object_marking_refs": markings}
    return {k: v for k, v in obj.items() if v is not None}


@cache
def country_location(code: str) -> dict[str, Any]:
    """The shared, unmarked location of a country (reference data, no report content)."""
    return {"type": "location", "spec_version": SPEC, "id": stix_id("location", "country", code), "created": EPOCH,
            "modified": EPOCH, "created_by_ref": HUB_IDENTITY, "name": code, "country": code}


@cache
def agency_identity(code: str) -> dict[str, Any]:
    return {"type": "identity", "spec_version": SPEC, "id": stix_id("identity", "agency", code), "created": EPOCH,
            "modified": EPOCH, "created_by_ref": HUB_IDENTITY, "name": code, "identity_class": "organization",
            "sectors": ["government-national"],
            "description": f"Reporting agency {code} (national customs, drug-control or border agency)"}


def _precise(loc: Mapping[str, Any]) -> bool:
    return bool(loc.get("place") or loc.get("unlocode") or
                (loc.get("lat") is not None and loc.get("lon") is not None))


def _provenance(prov: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A SHARED copy's provenance with its times as STIX timestamps (the feed store keeps them as
    epoch milliseconds)."""
    if not prov:
        return None
    return {**prov, "requested_at": timestamp(prov["requested_at"]), "granted_at": timestamp(prov["granted_at"])}


INDIVIDUAL_ROLES = {"DRIVER", "COURIER", "SUSPECT"}
ORGANIZATION_ROLES = {"SHIPPER", "CONSIGNEE", "CARRIER"}


@dataclass
class _Build:
    """Accumulates the objects of one item (each id once, in order of first mention)."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)

    def add(self, obj: dict[str, Any]) -> str:
        if obj["id"] not in self.ids:
            self.ids.add(obj["id"])
            self.objects.append(obj)
        return obj["id"]


def item_objects(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every STIX object of one feed item (JSON form, as the feed store holds it), in dependency order
    (what an object refers to comes before it; the report, then its relationship to the incident, come
    last). The report object here
    has ``created`` = ``modified`` = the version's ``received_at``; :func:`admit` fixes ``created`` for
    later versions."""
    rep = item["report"]
    enr = item.get("enrichment") or {}
    rid, version = rep["report_id"], int(rep["version"])
    received = timestamp(rep["received_at"])
    b = _Build()
    tlp = b.add(tlp_marking(rep["tlp"]))
    handling = b.add(handling_marking(rep.get("handling_code") or "H0", rep.get("handling_note")))
    markings = [tlp, handling]
    b.add(hub_identity())
    b.add(extension_definition())
    agency = b.add(agency_identity(rep["agency"]))
    home = b.add(country_location(rep["reporter_state"]))
    b.add(_rel(agency, "located-at", home, EPOCH, HUB_IDENTITY, None))
    incident = b.add({"type": "incident", "spec_version": SPEC, "id": stix_id("incident", item["incident_id"]),
                      "created": received, "modified": received, "created_by_ref": HUB_IDENTITY,
                      "name": f"Incident {label(item['incident_id'])}",
                      "description": "Reports the CARICC hub correlated for this state (a shared container number, "
                                     "transport document, vehicle plate or wagon number within 7 days)."})

    def place(loc: Mapping[str, Any], role: str) -> str:
        country = b.add(country_location(loc["country"]))
        if not _precise(loc):
            return country
        seed = json.dumps({k: loc.get(k) for k in ("country", "place", "unlocode", "lat", "lon")}, sort_keys=True)
        obj: dict[str, Any] = {
            "type": "location", "spec_version": SPEC, "id": stix_id("location", "place", rid, version, seed),
            "created": received, "modified": received, "created_by_ref": agency,
            "name": loc.get("place") or loc.get("unlocode") or f"{loc['country']} ({role})",
            "country": loc["country"], "object_marking_refs": markings}
        if loc.get("lat") is not None and loc.get("lon") is not None:
            obj["latitude"], obj["longitude"] = float(loc["lat"]), float(loc["lon"])
        if loc.get("unlocode"):
            obj["external_references"] = [{"source_name": "UN/LOCODE", "external_id": loc["unlocode"]}]
        return b.add(obj)

    location = place(rep["location"], "event")
    route = [place({"country": p["country"], "place": p.get("place")}, "route") for p in rep.get("route") or []]
    b.add(_rel(incident, "located-at", location, received, HUB_IDENTITY, markings, rid, version))

    latin = {p["name"]: p["latin"] for p in enr.get("party_names") or []}
    parties = []
    for n, p in enumerate(rep.get("parties") or []):
        cls = ("individual" if p["role"] in INDIVIDUAL_ROLES else
               "organization" if p["role"] in ORGANIZATION_ROLES else "unknown")
        pid = b.add(_clean({
            "type": "identity", "spec_version": SPEC,
            "id": stix_id("identity", "party", rid, version, n, p["role"], p["name"], p.get("country"),
                          p.get("identifier")),
            "created": received, "modified": received, "created_by_ref": agency, "name": p["name"],
            "identity_class": cls, "roles": [p["role"].lower()], "object_marking_refs": markings}))
        if p.get("country"):
            b.add(_rel(pid, "located-at", b.add(country_location(p["country"])), received, HUB_IDENTITY, markings,
                       rid, version))
        b.add(_rel(pid, "related-to", incident, received, HUB_IDENTITY, markings, rid, version,
                   description=f"{p['role'].lower()} in {rep['kind'].lower()} report {rep['source_ref']} v{version}"))
        parties.append({"party_ref": pid, "role": p["role"], "name": p["name"], "latin": latin.get(p["name"]),
                        "country": p.get("country"), "identifier": p.get("identifier")})

    ext = _clean({
        "extension_type": "property-extension",
        "hub_report_id": rid, "hub_item_id": item["item_id"], "hub_incident_id": item["incident_id"],
        "incident_label": label(item["incident_id"]),
        "kind": rep["kind"], "version": version, "agency": rep["agency"], "reporter_state": rep["reporter_state"],
        "source_ref": rep["source_ref"], "event_time": timestamp(rep["event_time"]), "received_at": received,
        "tlp": rep["tlp"], "delivery": item["delivery"], "addressees": list(rep.get("addressees") or []),
        "location_ref": location, "route_refs": route,
        "unlocode": rep["location"].get("unlocode"),
        "conveyance": rep.get("conveyance"), "goods": rep.get("goods"),
        "parties": parties,
        "substances": list(rep.get("substances") or []),
        "risk_indicators": list(rep.get("risk_indicators") or []),
        "handling_code": rep.get("handling_code") or "H0", "handling_note": rep.get("handling_note"),
        "evaluation": rep.get("evaluation"),
        "enrichment": {k: enr.get(k) for k in ("risk_score", "risk_reasons", "containers", "hs_description",
                                                "substance_totals", "entity_links", "prior_reports",
                                                "watchlist_hits", "also_reported_by")},
        "routing": {"reason": (item.get("routing") or {}).get("reason"),
                    "redacted": bool((item.get("routing") or {}).get("redacted")),
                    "recipients": list((item.get("routing") or {}).get("recipients") or [])},
        "provenance": _provenance(item.get("provenance")),
    })
    refs = [o["id"] for o in b.objects if o["type"] not in ("marking-definition", "extension-definition")]
    report = {
        "type": "report", "spec_version": SPEC, "id": stix_id("report", rid), "created": received,
        "modified": received, "created_by_ref": agency,
        "name": f"{rep['kind']} {rep['agency']} {rep['source_ref']} v{version}",
        "description": rep.get("narrative") or None, "report_types": ["threat-report"],
        "published": received, "labels": [rep["kind"].lower()],
        "object_refs": [r for r in refs if r != incident],
        "external_references": [{"source_name": "caricc-hub", "external_id": rid,
                                  "description": f"hub report id (version {version}, item {item['item_id']})"}],
        "object_marking_refs": markings, "extensions": {EXTENSION_ID: ext}}
    rid_stix = b.add({k: v for k, v in report.items() if v is not None})
    # the report belongs to the incident: a relationship, not an object_ref (MISP cannot load incidents,
    # and a report whose object_refs name one is an error there; see docs/stix.md)
    b.add(_rel(rid_stix, "related-to", incident, received, HUB_IDENTITY, markings, version,
               description="a report of this incident"))
    return b.objects


# -- a collection's objects ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Held:
    """What a collection already holds of one STIX id: its ``created`` and every version (``modified``)."""

    created: str
    versions: frozenset[str]


def version_of(obj: Mapping[str, Any]) -> str:
    """The TAXII version of an object: ``modified``, or ``created`` for objects without it."""
    return str(obj.get("modified") or obj["created"])


def admit(objects: Iterable[dict[str, Any]], held: dict[str, Held]) -> list[dict[str, Any]]:
    """The objects of one item that a collection holding ``held`` does not hold yet, in order; updates
    ``held``. Objects other than reports are immutable: one already held is dropped. A report is
    versioned: a later version keeps the ``created`` of the first one the collection holds, and its
    ``modified`` is its ``received_at``, moved forward (by milliseconds) past ``created`` and past every
    version already held when clocks disagree -- so every version of a report is a distinct STIX
    version and the collection's content depends on its own feed only."""
    out = []
    for obj in objects:
        h = held.get(obj["id"])
        if obj["type"] != "report":
            if h is None:
                held[obj["id"]] = Held(obj["created"], frozenset({version_of(obj)}))
                out.append(obj)
            continue
        if h is not None:
            modified = max(obj["modified"], h.created)
            step = datetime.fromisoformat(modified.replace("Z", "+00:00"))
            while timestamp(step) in h.versions:
                step += timedelta(milliseconds=1)
            obj = {**obj, "created": h.created, "modified": timestamp(step)}
            held[obj["id"]] = Held(h.created, h.versions | {obj["modified"]})
        else:
            held[obj["id"]] = Held(obj["created"], frozenset({obj["modified"]}))
        out.append(obj)
    return out


def content_of(obj: Mapping[str, Any]) -> bool:
    """True for objects that carry report content (they bear the report's TLP marking); reference
    objects (markings, the extension definition, agency and hub identities, countries, incidents) don't."""
    return any(m in TLP2_IDS.values() for m in obj.get("object_marking_refs") or ())

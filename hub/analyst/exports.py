"""Export rows and features of one state's documents (pure): GeoJSON, CSV, i2 Analyst's Notebook.

Every row and feature carries the report's TLP and handling code (and handling note): the marking
travels with the data into ArcGIS/QGIS, a spreadsheet or an i2 chart. CSV cells that a spreadsheet
would run as a formula (starting with ``= + - @``, tab or carriage return) are prefixed with ``'``.
The format of ``export.i2.csv`` and its import specification are in docs/analyst.md.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

from hub.analyst import geo
from hub.analyst.extract import kg_total
from hub.analyst.incidents import iso
from hub.analyst.label import label
from hub.domain.identifiers import check_container, plate_key, wagon_key
from hub.pipeline.core.enrich import latin, match_form

Row = Mapping[str, Any]
ORGANISATION_ROLES = {"SHIPPER", "CONSIGNEE", "CARRIER"}
# words that make a name an organisation's (legal forms, and words companies are named with)
ORG_WORDS = {"llc", "ltd", "ooo", "too", "jsc", "ao", "oao", "zao", "mchj", "co", "inc", "osoo", "plc", "gmbh", "chp",
             "trans", "logistics", "logistik", "company", "shipping", "agency", "export", "import", "trading", "group"}


def _subs(report: Mapping[str, Any]) -> str:
    return "; ".join(f"{s['type']} {s['quantity']:g} {s['unit']}" for s in report.get("substances") or [])


def marking(row: Row) -> dict[str, Any]:
    rep = row["body"]["report"]
    return {"tlp": rep["tlp"], "handling_code": rep.get("handling_code") or "H0",
            "handling_note": rep.get("handling_note") or ""}


# ------------------------------------------------------------------------------ GeoJSON (RFC 7946)


def features(row: Row) -> list[dict[str, Any]]:
    """A Point at the report's location and a LineString along its route (when it has two or more
    distinct positions). Coordinates are [longitude, latitude] (WGS 84)."""
    rep = row["body"]["report"]
    loc = rep.get("location") or {}
    props = {"report_id": row["report_id"], "version": row["version"], "incident_id": row["incident_id"],
             "incident_label": label(row["incident_id"]), "direction": row["direction"], "kind": row["kind"],
             **marking(row), "event_time": iso(row["event_time"]), "agency": row["agency"],
             "reporter_state": row["reporter_state"], "substances": _subs(rep), "kg": kg_total(rep)}
    out = []
    pos = geo.location_position(loc)
    if pos:
        out.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [pos[0], pos[1]]},
                    "properties": {**props, "feature": "location", "country": loc.get("country"),
                                   "place": loc.get("place"), "unlocode": loc.get("unlocode"), "position": pos[2]}})
    route = geo.route_positions(rep)
    if len(route) >= 2:
        out.append({"type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": [[p[0], p[1]] for p in route]},
                    "properties": {**props, "feature": "route",
                                   "route": " → ".join(p.get("country") for p in rep.get("route") or []),
                                   "position": "+".join(sorted({p[2] for p in route}))}})
    return out




# ------------------------------------------------------------------------------ CSV

CSV_COLUMNS = ("report_id", "version", "direction", "incident_id", "incident_label", "kind", "tlp", "handling_code",
               "handling_note", "evaluation", "event_time", "routed_at", "delivery", "cursor", "agency",
               "reporter_state", "country", "place", "unlocode", "lat", "lon", "route", "mode", "containers",
               "vehicle_plate", "wagon_number", "transport_document", "goods", "hs_code", "substances", "kg",
               "parties", "parties_latin", "risk_score", "narrative")


def safe(value: Any) -> str:
    """A cell a spreadsheet shows as text (no formula injection)."""
    if value is None:
        return ""
    s = str(value)
    return "'" + s if s and s[0] in "=+-@\t\r" else s


def csv_row(row: Row, cursor: int | None = None) -> list[str]:
    rep = row["body"]["report"]
    loc = rep.get("location") or {}
    conv = rep.get("conveyance") or {}
    goods = rep.get("goods") or {}
    ev = rep.get("evaluation") or {}
    enr = row["body"].get("enrichment") or {}
    parties = rep.get("parties") or []
    values: dict[str, Any] = {
        "report_id": row["report_id"], "version": row["version"], "direction": row["direction"],
        "incident_id": row["incident_id"], "incident_label": label(row["incident_id"]), "kind": row["kind"],
        **marking(row), "evaluation": f"{ev.get('source', '')}{ev.get('information', '')}" if ev else "",
        "event_time": iso(row["event_time"]), "routed_at": iso(row["routed_at"]), "delivery": row["delivery"] or "",
        "cursor": cursor if cursor is not None else "", "agency": row["agency"], "reporter_state": row["reporter_state"],
        "country": loc.get("country"), "place": loc.get("place"), "unlocode": loc.get("unlocode"),
        "lat": loc.get("lat"), "lon": loc.get("lon"),
        "route": " > ".join(p.get("country") for p in rep.get("route") or []), "mode": conv.get("mode"),
        "containers": " ".join(conv.get("container_numbers") or []), "vehicle_plate": conv.get("vehicle_plate"),
        "wagon_number": conv.get("wagon_number"), "transport_document": conv.get("transport_document"),
        "goods": goods.get("description"), "hs_code": goods.get("hs_code"), "substances": _subs(rep),
        "kg": kg_total(rep),
        "parties": "; ".join(f"{p['role']}: {p['name']}" for p in parties),
        "parties_latin": "; ".join(f"{p['role']}: {latin(p['name'])}" for p in parties),
        "risk_score": enr.get("risk_score", ""), "narrative": rep.get("narrative"),
    }
    return [safe(values[c]) for c in CSV_COLUMNS]


def _csv_text(rows: Iterable[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerows(rows)
    return buf.getvalue()




# ------------------------------------------------------------------------------ i2 Analyst's Notebook

I2_COLUMNS = ("from_type", "from_id", "from_label", "from_country", "from_description",
              "link_type", "link_label", "link_id", "to_type", "to_id", "to_label", "to_country", "to_description",
              "date", "time", "report_id", "report_version", "incident_id", "incident_label", "tlp", "handling_code",
              "handling_note")


def party_type(party: Mapping[str, Any]) -> str:
    """Organisation for shippers, consignees, carriers and names with a legal form; else Person."""
    if party.get("role") in ORGANISATION_ROLES:
        return "Organisation"
    words = set(latin(party.get("name") or "").lower().replace('"', " ").split())
    return "Organisation" if words & ORG_WORDS else "Person"


def _entity(kind: str, ident: str, lbl: str, country: str = "", desc: str = "") -> tuple[str, str, str, str, str]:
    return kind, ident, lbl, country, desc


def i2_rows(row: Row) -> list[list[str]]:
    """Entity–link–entity rows: the Report linked to each party (Person/Organisation, link = role),
    vehicle and container; a driver also linked to the vehicle. A report with nothing to link is one
    row with only the Report entity."""
    rep = row["body"]["report"]
    conv = rep.get("conveyance") or {}
    et = iso(row["event_time"]) or ""
    date, time = et[:10], et[11:19]
    report_entity = _entity("Report", row["report_id"], f"{row['kind']} {row['agency']} {date}",
                            row["reporter_state"], _subs(rep) or "; ".join(rep.get("risk_indicators") or []))
    common = [date, time, row["report_id"], str(row["version"]), row["incident_id"], label(row["incident_id"]),
              *marking(row).values()]
    links: list[tuple[tuple[str, ...], str, str, tuple[str, ...]]] = []
    vehicles: list[tuple[str, ...]] = []
    if conv.get("vehicle_plate") and plate_key(conv["vehicle_plate"]):
        vehicles.append(_entity("Vehicle", "vehicle:" + str(plate_key(conv["vehicle_plate"])), conv["vehicle_plate"],
                                "", conv.get("mode") or ""))
    if conv.get("wagon_number") and wagon_key(conv["wagon_number"]):
        vehicles.append(_entity("Vehicle", "wagon:" + str(wagon_key(conv["wagon_number"])), conv["wagon_number"],
                                "", "rail wagon"))
    persons = []
    for p in rep.get("parties") or []:
        kind = party_type(p)
        ent = _entity(kind, ("org:" if kind == "Organisation" else "person:") + (match_form(p["name"]) or p["name"]),
                      latin(p["name"]), p.get("country") or "",
                      p["name"] + (f" · {p['identifier']}" if p.get("identifier") else ""))
        links.append((report_entity, p["role"], p["role"].lower(), ent))
        if p["role"] == "DRIVER":
            persons.append(ent)
    for v in vehicles:
        links.append((report_entity, "CONVEYANCE", "conveyance", v))
        for person in persons:
            links.append((person, "DRIVER_OF", "driver of", v))
    for raw in conv.get("container_numbers") or []:
        c = check_container(raw)
        links.append((report_entity, "CONTAINER", "container", _entity(
            "Container", c.number, c.number, "", "ISO 6346 check digit valid" if c.valid else "check digit INVALID")))
    if not links:
        return [[safe(x) for x in (*report_entity, "", "", "", "", "", "", "", "", *common)]]
    out = []
    for i, (a, ltype, llabel, b) in enumerate(links):
        out.append([safe(x) for x in (*a, ltype, llabel, f"{row['report_id']}:{i}", *b, *common)])
    return out


# ------------------------------------------------------------------------------ streaming


class Writer:
    """One export as text pieces: ``head()``, ``rows(batch)`` per batch of documents, ``tail()``."""

    FORMATS = ("geojson", "csv", "i2.csv")

    def __init__(self, fmt: str) -> None:
        if fmt not in self.FORMATS:
            raise ValueError(f"format: {fmt!r} is not one of {', '.join(self.FORMATS)}")
        self.fmt = fmt
        self._features = 0

    def head(self) -> str:
        if self.fmt == "geojson":
            return '{"type":"FeatureCollection","features":[\n'
        # a byte-order mark: spreadsheets then read UTF-8 (Cyrillic) right
        return "\ufeff" + _csv_text([list(CSV_COLUMNS if self.fmt == "csv" else I2_COLUMNS)])

    def rows(self, batch: Iterable[Row], cursors: Mapping[str, int] | None = None) -> str:
        if self.fmt == "geojson":
            parts = []
            for row in batch:
                for f in features(row):
                    parts.append(("," if self._features else "") + json.dumps(f, ensure_ascii=False,
                                                                              separators=(",", ":")))
                    self._features += 1
            return "\n".join(parts) + ("\n" if parts else "")
        if self.fmt == "csv":
            return _csv_text([csv_row(r, (cursors or {}).get(r["source_id"])) for r in batch])
        return _csv_text([line for r in batch for line in i2_rows(r)])

    def tail(self) -> str:
        return "]}\n" if self.fmt == "geojson" else ""


def document(fmt: str, batches: Iterable[Iterable[Row]], cursors: Mapping[str, int] | None = None) -> str:
    """A whole export as one string (tests, small exports)."""
    w = Writer(fmt)
    return w.head() + "".join(w.rows(b, cursors) for b in batches) + w.tail()

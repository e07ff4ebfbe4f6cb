"""Incident summary and detail from one state's documents of it (pure).

``rows`` are that state's documents of one incident (newest version of each report, received or
sent), ``versions`` every version it received or sent, ``acks`` its own acknowledgements. Nothing
else goes in, so the answer can only depend on what this state holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from hub.analyst.extract import kg_total
from hub.analyst.label import label
from hub.domain.identifiers import check_container, document_key, plate_key, wagon_key
from hub.pipeline.core.enrich import latin, match_form

Row = Mapping[str, Any]


def iso(epoch_ms: int | None) -> str | None:
    if epoch_ms is None:
        return None
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _kg(x: float) -> float:
    return round(x, 3)


def _order(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r["event_time"], r["report_id"]))


def substance_totals(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Per substance type: kilograms (KG and G; other units listed as quantities) and reports."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        for s in r["body"]["report"].get("substances") or []:
            t = out.setdefault(s["type"], {"type": s["type"], "kg": 0.0, "other": {}, "reports": set()})
            t["reports"].add(r["report_id"])
            q = float(s.get("quantity") or 0)
            if s["unit"] == "KG":
                t["kg"] += q
            elif s["unit"] == "G":
                t["kg"] += q / 1000
            else:
                t["other"][s["unit"]] = t["other"].get(s["unit"], 0.0) + q
    return [{"type": t["type"], "kg": _kg(t["kg"]), "other_units": {u: round(q, 3) for u, q in sorted(t["other"].items())},
             "reports": len(t["reports"])}
            for t in sorted(out.values(), key=lambda t: (-t["kg"], t["type"]))]


def summary(incident_id: str, rows: Sequence[Row]) -> dict[str, Any]:
    """The list view of one incident."""
    rows = _order(rows)
    reports = [r["body"]["report"] for r in rows]
    risks = [int(r["body"]["enrichment"]["risk_score"]) for r in rows
             if r["direction"] == "received" and (r["body"].get("enrichment") or {}).get("risk_score") is not None]
    countries = sorted({(rep.get("location") or {}).get("country") for rep in reports} - {None, ""})
    return {
        "incident_id": incident_id,
        "label": label(incident_id),
        "reports": len(rows),
        "seizures": sum(1 for r in rows if r["kind"] == "SEIZURE"),
        "alerts": sum(1 for r in rows if r["kind"] == "ALERT"),
        "received": sum(1 for r in rows if r["direction"] == "received"),
        "sent": sum(1 for r in rows if r["direction"] == "sent"),
        "first_event": iso(rows[0]["event_time"]) if rows else None,
        "last_event": iso(rows[-1]["event_time"]) if rows else None,
        "agencies": sorted({r["agency"] for r in rows}),
        "reporter_states": sorted({r["reporter_state"] for r in rows}),
        "countries": countries,
        "places": sorted({(rep.get("location") or {}).get("place") or "" for rep in reports} - {""}),
        "kg": _kg(sum(kg_total(rep) for rep in reports)),
        "substances": [{"type": t["type"], "kg": t["kg"]} for t in substance_totals(rows)],
        "max_risk": max(risks) if risks else None,
        "tlps": sorted({r["body"]["report"]["tlp"] for r in rows}),
        "handling_codes": sorted({r["body"]["report"].get("handling_code") or "H0" for r in rows}),
    }


def identifiers(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Every identifier of the incident's reports (§4 normalization), with the reports holding it."""
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def add(kind: str, value: str | None, raw: str, rid: str, **extra: Any) -> None:
        if not value:
            return
        entry = found.setdefault((kind, value), {"type": kind, "value": value, "written": set(), "reports": set(),
                                                 **extra})
        entry["written"].add(raw)
        entry["reports"].add(rid)

    for r in _order(rows):
        conv = r["body"]["report"].get("conveyance") or {}
        for raw in conv.get("container_numbers") or []:
            c = check_container(raw)
            add("container", c.number, raw, r["report_id"], valid=c.valid)
        for kind, fld, fn in (("plate", "vehicle_plate", plate_key), ("document", "transport_document", document_key),
                              ("wagon", "wagon_number", wagon_key)):
            raw = conv.get(fld)
            if raw:
                add(kind, fn(raw), raw, r["report_id"])
    out = []
    for _key, e in sorted(found.items()):
        out.append({**e, "written": sorted(e["written"]), "reports": sorted(e["reports"]),
                    "shared": len(e["reports"]) > 1})
    return out


def parties(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Parties grouped by their match form (the same person written in two scripts is one entry)."""
    groups: dict[str, dict[str, Any]] = {}
    for r in _order(rows):
        latin_of = {pn.get("name"): pn.get("latin") for pn in (r["body"].get("enrichment") or {}).get("party_names") or []}
        for p in r["body"]["report"].get("parties") or []:
            key = match_form(p["name"]) or p["name"]
            g = groups.setdefault(key, {"latin": latin_of.get(p["name"]) or latin(p["name"]), "names": set(),
                                        "roles": set(), "countries": set(), "reports": set()})
            g["names"].add(p["name"])
            g["roles"].add(p["role"])
            if p.get("country"):
                g["countries"].add(p["country"])
            g["reports"].add(r["report_id"])
    return [{"latin": g["latin"], "names": sorted(g["names"]), "roles": sorted(g["roles"]),
             "countries": sorted(g["countries"]), "reports": sorted(g["reports"])}
            for _k, g in sorted(groups.items(), key=lambda kv: (-len(kv[1]["reports"]), kv[1]["latin"]))]


def timeline(rows: Sequence[Row], versions: Sequence[Row], acks: Sequence[Row]) -> list[dict[str, Any]]:
    """What happened, in time order: the events reported, each version received or sent, each
    acknowledgement by this state's officers."""
    entries: list[tuple[int, int, dict[str, Any]]] = []
    for r in rows:
        rep = r["body"]["report"]
        loc = rep.get("location") or {}
        entries.append((r["event_time"], 0, {
            "at": iso(r["event_time"]), "event": "seized" if r["kind"] == "SEIZURE" else "alerted",
            "report_id": r["report_id"], "version": r["version"], "kind": r["kind"], "agency": r["agency"],
            "reporter_state": r["reporter_state"], "place": ", ".join(x for x in (loc.get("place"), loc.get("country")) if x)}))
    for v in versions:
        if v["direction"] == "sent":
            event = "shared" if ":share:" in v["source_id"] else "sent"
        else:
            event = "updated" if v["delivery"] == "UPDATE" else "shared" if v["delivery"] == "SHARED" else "received"
        e: dict[str, Any] = {"at": iso(v["routed_at"]), "event": event, "report_id": v["report_id"],
                             "version": v["version"], "kind": v["kind"], "agency": v["agency"]}
        if v["direction"] == "received":
            e["delivery"] = v["delivery"]
        else:
            e["recipients"] = v["recipients"]
        entries.append((v["routed_at"], 1, e))
    for a in acks:
        entries.append((a["acked_at"], 2, {"at": iso(a["acked_at"]), "event": "acknowledged", "report_id": a["report_id"],
                                           "version": a["version"], "by": a["actor"]}))
    return [e for _t, _o, e in sorted(entries, key=lambda x: (x[0], x[1], x[2]["report_id"], x[2]["version"]))]


def detail(incident_id: str, rows: Sequence[Row], versions: Sequence[Row], acks: Sequence[Row],
           cursors: Mapping[str, int]) -> dict[str, Any]:
    """The incident view: summary, reports, timeline, identifiers, parties, totals, places, routes."""
    rows = _order(rows)
    ack_of = {(a["report_id"], a["version"]): a for a in acks}
    reports = []
    for r in rows:
        a = ack_of.get((r["report_id"], r["version"]))
        reports.append({"direction": r["direction"], "report_id": r["report_id"], "version": r["version"],
                        "kind": r["kind"], "delivery": r["delivery"], "cursor": cursors.get(r["source_id"]),
                        "acknowledged": {"by": a["actor"], "at": iso(a["acked_at"])} if a else None,
                        "item": r["body"]})
    locations = []
    routes: dict[tuple[str, ...], set[str]] = {}
    for r in rows:
        rep = r["body"]["report"]
        loc = rep.get("location") or {}
        locations.append({"report_id": r["report_id"], "kind": r["kind"], "event_time": iso(r["event_time"]),
                          "country": loc.get("country"), "place": loc.get("place"), "unlocode": loc.get("unlocode"),
                          "lat": loc.get("lat"), "lon": loc.get("lon")})
        route = tuple(p.get("country") + (f" ({p['place']})" if p.get("place") else "") for p in rep.get("route") or [])
        if route:
            routes.setdefault(route, set()).add(r["report_id"])
    ids = identifiers(rows)
    return {
        **summary(incident_id, rows),
        "report_list": reports,
        "timeline": timeline(rows, versions, acks),
        "identifiers": ids,
        "shared_identifiers": [i for i in ids if i["shared"]],
        "parties": parties(rows),
        "substance_totals": substance_totals(rows),
        "locations": locations,
        "routes": [{"points": list(k), "reports": sorted(v)} for k, v in sorted(routes.items())],
    }

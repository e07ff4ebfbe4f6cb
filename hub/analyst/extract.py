"""One state's document of one report (pure): what the analyst index stores and searches.

A state holds a report in one of two ways:

* ``received`` — a feed item of its feed (``hub.feed.<STATE>``): the report as routed to it, the
  enrichment as filtered for it, the incident id as that state sees it;
* ``sent`` — a Receipt (``hub.receipts``) of a report one of its agencies sent: the report as sent
  and the incident id as the reporting state sees it.

Only the newest version of a report is searched, counted and exported; every version is kept for
the incident timeline. Nothing here looks at any other state's documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from hub.analyst import geo
from hub.analyst.label import label
from hub.analyst.text import country_names, joined, substance_synonyms, tokens
from hub.domain.feedjson import item_json, jsonable
from hub.domain.identifiers import compact, document_key, plate_key, wagon_key
from hub.pipeline.core.enrich import latin, match_form

RECEIVED, SENT = "received", "sent"
COLUMNS = ("ids", "names", "subs", "places", "text", "facets")
DIMENSIONS = ("substance", "month", "crossing_point", "route_country", "agency")
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Doc:
    state: str
    direction: str
    source_id: str  # item_id (received) or receipt_id (sent)
    report_id: str
    version: int
    incident_id: str
    kind: str
    tlp: str
    handling_code: str
    agency: str
    reporter_state: str
    event_time: int  # epoch ms
    routed_at: int
    delivery: str | None  # NEW/UPDATE/CORRELATED/SHARED for received documents
    body: dict[str, Any]  # the JSON view (feed item, or receipt)
    fields: dict[str, str]  # index column → space-separated tokens
    name_terms: tuple[str, ...]  # distinct name tokens (the fuzzy-match vocabulary)
    facts: tuple[tuple[str, str, float], ...]  # (dimension, key, kg) for the statistics
    body_json: str | None = None  # ``body`` as JSON text when the caller already has it (the feed store's)

    @property
    def report(self) -> dict[str, Any]:
        return self.body["report"]


def ms(value: Any) -> int:
    """Epoch milliseconds of an RFC 3339 string, a datetime or a number."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1000)
    return int(value or 0)


def receipt_json(receipt: Mapping[str, Any]) -> dict[str, Any]:
    """A Receipt (decoded Avro or JSON form) as JSON data, times as RFC 3339 strings. The report and
    routing time go through :func:`~hub.domain.feedjson.item_json` and back (the data :func:`jsonable`
    gives, written and read by orjson: several times cheaper than its recursive copy)."""
    as_item = orjson.loads(item_json({"routed_at": receipt["routed_at"], "report": receipt["report"],
                                      "enrichment": {}}))
    out = {k: v for k, v in receipt.items() if k not in ("report", "routed_at")}
    return {**out, "report": as_item["report"], "routed_at": as_item["routed_at"]}


def _kg(substance: Mapping[str, Any]) -> float:
    unit, q = substance.get("unit"), float(substance.get("quantity") or 0)
    return q if unit == "KG" else q / 1000 if unit == "G" else 0.0


def facts(report: Mapping[str, Any]) -> tuple[tuple[str, str, float], ...]:
    """What a report adds to each statistic: one (dimension, key, kg) per key it counts under."""
    subs = report.get("substances") or []
    total = round(sum(_kg(s) for s in subs), 6)
    per_type: dict[str, float] = {}
    for s in subs:
        per_type[s["type"]] = per_type.get(s["type"], 0.0) + _kg(s)
    out: list[tuple[str, str, float]] = [("substance", t, round(kg, 6)) for t, kg in sorted(per_type.items())]
    et = ms(report.get("event_time"))
    out.append(("month", datetime.fromtimestamp(et / 1000, UTC).strftime("%Y-%m"), total))
    cp = geo.crossing_point(report.get("location"))
    if cp:
        out.append(("crossing_point", cp["name"], total))
    loc_country = (report.get("location") or {}).get("country")
    countries = {p.get("country") for p in report.get("route") or []} | {loc_country}
    out.extend(("route_country", c, total) for c in sorted(c for c in countries if c))
    out.append(("agency", report.get("agency") or "", total))
    return tuple(out)


def facet(prefix: str, value: str) -> str:
    """A filter value as one index token of the ``facets`` column: ``facet("t", "AMBER_STRICT")`` is
    ``tamberstrict`` (never a token of another value)."""
    return prefix + "".join(ch for ch in value.lower() if ch.isalnum())


def _identifier_parts(report: Mapping[str, Any], incident_id: str) -> list[str]:
    conv = report.get("conveyance") or {}
    ids: list[str] = []
    for raw in conv.get("container_numbers") or []:
        ids.append(compact(raw))
    for raw, fn in ((conv.get("vehicle_plate"), plate_key), (conv.get("transport_document"), document_key),
                    (conv.get("wagon_number"), wagon_key), (conv.get("flight"), compact)):
        if raw:
            key = fn(raw)
            if key:
                ids.append(key)
                digits = "".join(ch for ch in key if ch.isdigit())
                if len(digits) >= 5 and digits != key:
                    ids.append(digits)  # "CMR 1374502" is also found as 1374502
    ids.extend(compact(p["identifier"]) for p in report.get("parties") or [] if p.get("identifier"))
    ids.extend(compact(x) for x in (report.get("source_ref"), report.get("report_id")) if x)
    ids.append(compact(label(incident_id)))
    loc = report.get("location") or {}
    if loc.get("unlocode"):
        ids.append(compact(loc["unlocode"]))
    return ids


def index_fields(report: Mapping[str, Any], enrichment: Mapping[str, Any], *, incident_id: str,
                 direction: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """(index columns, name vocabulary) of one report as a state holds it."""
    names: list[str] = []
    for p in report.get("parties") or []:
        names += [p["name"], latin(p["name"]), match_form(p["name"])]
    for pn in enrichment.get("party_names") or []:
        names.append(pn.get("latin") or "")
    name_terms = tuple(sorted({t for p in report.get("parties") or [] for t in match_form(p["name"]).split()
                               if len(t) >= 3}))
    subs: list[str] = []
    synonyms = substance_synonyms()
    for s in report.get("substances") or []:
        subs += [s["type"], " ".join(synonyms.get(s["type"], ())), s.get("name") or ""]
    loc = report.get("location") or {}
    places: list[str] = [*country_names(loc.get("country") or ""), loc.get("place") or "", loc.get("unlocode") or ""]
    for p in report.get("route") or []:
        places += [*country_names(p.get("country") or ""), p.get("place") or ""]
    # places written in Cyrillic are found by their Latin spelling too (Хоргос by Khorgos)
    places += [latin(p) for p in (loc.get("place"), *(r.get("place") for r in report.get("route") or []))
               if p and not p.isascii()]
    cp = geo.crossing_point(loc)
    if cp:
        places.append(cp["name"])
    goods = report.get("goods") or {}
    conv = report.get("conveyance") or {}
    text = [report.get("narrative") or "", goods.get("description") or "", enrichment.get("hs_description") or "",
            *(report.get("risk_indicators") or []), report.get("handling_note") or "", conv.get("mode") or ""]
    for s in report.get("substances") or []:
        text += [s.get("concealment") or "", s.get("concealment_detail") or ""]
    fields = {
        "ids": " ".join(t for i in _identifier_parts(report, incident_id) for t in tokens(i)),
        "names": joined(names), "subs": joined(subs), "places": joined(places), "text": joined(text),
        "facets": " ".join([facet("k", report["kind"]), facet("t", report["tlp"]), facet("d", direction),
                            facet("h", report.get("handling_code") or "H0")]),
    }
    return fields, name_terms


def _doc(state: str, direction: str, source_id: str, body: dict[str, Any], incident_id: str,
         delivery: str | None, enrichment: Mapping[str, Any], body_json: str | None = None) -> Doc:
    report = body["report"]
    fields, name_terms = index_fields(report, enrichment, incident_id=incident_id, direction=direction)
    return Doc(state=state, direction=direction, source_id=source_id, report_id=report["report_id"],
               version=int(report["version"]), incident_id=incident_id, kind=report["kind"], tlp=report["tlp"],
               handling_code=report.get("handling_code") or "H0", agency=report.get("agency") or "",
               reporter_state=report.get("reporter_state") or "", event_time=ms(report.get("event_time")),
               routed_at=ms(body.get("routed_at")), delivery=delivery, body=body, fields=fields,
               name_terms=name_terms, facts=facts(report), body_json=body_json)


def from_item(item: Mapping[str, Any], body_json: str | None = None) -> Doc:
    """The received document of a FeedItem (decoded Avro or its JSON form; ``body_json``: the same
    item as JSON text, kept as the document's body instead of writing it again)."""
    body = dict(item) if isinstance(item.get("routed_at"), str) else jsonable(item)
    return _doc(body["recipient"], RECEIVED, body["item_id"], body, body["incident_id"], body.get("delivery"),
                body.get("enrichment") or {}, body_json)


def from_receipt(receipt: Mapping[str, Any]) -> Doc:
    """The sent document of a Receipt (decoded Avro or its JSON form), for the reporting state.

    Each recipient keeps its name, reason and redaction — facts of this report's own routing — but
    not its delivery kind: whether another state got it as CORRELATED says that state holds an
    earlier report of the incident, which the reporting state may not be allowed to see."""
    body = receipt_json(receipt)
    body["recipients"] = [{k: r.get(k) for k in ("recipient", "reason", "redacted")}
                          for r in body.get("recipients") or []]
    return _doc(body["state"], SENT, body["receipt_id"], body, body["incident_id"], None, {})


def kg_total(report: Mapping[str, Any]) -> float:
    return round(sum(_kg(s) for s in report.get("substances") or []), 6)

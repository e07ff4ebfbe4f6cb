"""A synthetic world for the analyst tests: simulated reports → per-recipient feed items and receipts.

A stand-in for the pipeline until decide() (branch core) is on main: routing is the real
:func:`hub.pipeline.core.route.recipients`; incidents are clusters of reports sharing a correlation key
(:func:`hub.pipeline.core.correlate.correlation_keys`); each state sees an incident under the id of the
earliest report of it that the state holds (received or sent), and its delivery kinds count only
what it holds — so what a state receives never depends on reports it may not see (SPEC §5).
Enrichment is the part the analyst work reads (totals, Latin names, risk).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hub.pipeline.core.correlate import correlation_keys
from hub.pipeline.core.enrich import latin, substance_totals
from hub.pipeline.core.route import recipients, redact
from hub.platform.settings import Settings
from hub.tools.bench import workload

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def reports(settings: Settings, count: int, seed: int = 11) -> list[dict[str, Any]]:
    """``count`` valid simulated reports (Avro form), deterministic per seed."""
    return [it.report for it in workload.generate(count, seed=seed, settings=settings, now=NOW)]


def allowed(report: dict[str, Any], settings: Settings) -> set[str]:
    return set(recipients(report, settings))


def reduced(sequence: Sequence[dict[str, Any]], state: str, settings: Settings) -> list[dict[str, Any]]:
    """The sequence without every report version ``state`` may not receive and did not send."""
    return [r for r in sequence if r["reporter_state"] == state or state in allowed(r, settings)]


def _incident(report_id: str) -> str:
    return "I-" + hashlib.sha256(report_id.encode()).hexdigest()[:20]


def records(sequence: Sequence[dict[str, Any]], settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """Feed items and receipts as the sink sees them: ("item" | "receipt", record) in processing order."""
    out: list[tuple[str, dict[str, Any]]] = []
    build(sequence, settings, out)
    return out


def build(sequence: Sequence[dict[str, Any]], settings: Settings,
          merged: list[tuple[str, dict[str, Any]]] | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(feed items, receipts) of a sequence of report versions, in processing order. Correlation is
    per state, over the reports that state holds (received or sent)."""
    keys_of: dict[tuple[str, str], str] = {}  # (state, correlation key) → incident as that state sees it
    incident_of: dict[tuple[str, str], str] = {}  # (state, report_id) → incident
    got: set[tuple[str, str]] = set()  # (state, report_id) received before
    items: list[dict[str, Any]] = []
    receipts: list[dict[str, Any]] = []
    for rep in sequence:
        rid = rep["report_id"]
        routed_at = int(rep["received_at"]) + 1000
        who = recipients(rep, settings)
        out_recipients = []
        keys = correlation_keys(rep)
        for state in [*who, rep["reporter_state"]]:
            holds = False
            if (state, rid) not in incident_of:
                found = [keys_of[(state, k)] for k in keys if (state, k) in keys_of]
                holds = bool(found)
                incident_of[(state, rid)] = found[0] if found else _incident(rid)
            incident = incident_of[(state, rid)]
            for k in keys:
                keys_of.setdefault((state, k), incident)
            if state == rep["reporter_state"]:
                continue
            delivery = "UPDATE" if (state, rid) in got else "CORRELATED" if holds else "NEW"
            got.add((state, rid))
            partner = state in settings.partners
            body = redact(rep) if partner else dict(rep)
            items.append({
                "item_id": f"{rid}:{rep['version']}:{state}", "recipient": state, "delivery": delivery,
                "incident_id": incident, "report": body,
                "enrichment": {"risk_score": 40 + int(rid[-2:], 16) % 50, "risk_reasons": ["+30 seizure report"], "containers": [],
                               "hs_description": None,
                               "substance_totals": substance_totals(rep.get("substances") or []),
                               "party_names": [{"name": p["name"], "latin": latin(p["name"])}
                                               for p in rep.get("parties") or []],
                               "entity_links": [], "prior_reports": [], "watchlist_hits": [], "also_reported_by": []},
                "routing": {"recipients": sorted(who), "reason": who[state], "redacted": partner},
                "routed_at": routed_at, "provenance": None})
            out_recipients.append({"recipient": state, "delivery": delivery, "reason": who[state],
                                   "redacted": partner})
            if merged is not None:
                merged.append(("item", items[-1]))
        receipts.append({"receipt_id": f"{rid}:{rep['version']}", "report_id": rid, "version": rep["version"],
                         "agency": rep["agency"], "state": rep["reporter_state"],
                         "incident_id": incident_of[(rep["reporter_state"], rid)], "report": dict(rep),
                         "recipients": out_recipients, "routed_at": routed_at})
        if merged is not None:
            merged.append(("receipt", receipts[-1]))
    return items, receipts


def with_updates(sequence: list[dict[str, Any]], every: int = 7) -> list[dict[str, Any]]:
    """The sequence with a version 2 of every ``every``-th report (heavier, later), right after it."""
    out = []
    for i, rep in enumerate(sequence):
        out.append(rep)
        if i % every == 3:
            v2 = dict(rep, version=rep["version"] + 10)  # the simulator has its own version 2s
            if i % 3 == 0:  # some updates are restricted: earlier recipients do not get them
                v2["tlp"], v2["addressees"] = "RED", []
            v2["substances"] = [dict(s, quantity=round(float(s["quantity"]) * 1.5, 2)) for s in rep.get("substances") or []]
            out.append(v2)
    return out

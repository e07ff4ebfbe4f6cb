"""Route stage (SPEC §5): who receives a report, what each copy contains. Pure functions.

S = reporter state, A = addressees, R = members on the route and at the location.

| TLP                | recipients                                  |
|--------------------|---------------------------------------------|
| RED, AMBER_STRICT  | A only                                      |
| AMBER              | A ∪ R ∪ {centre}                            |
| GREEN              | A ∪ all members ∪ {centre}                  |
| CLEAR              | all members ∪ all partners ∪ {centre}       |

S never receives its own report back; partners receive AMBER only when addressed (R holds members
only); partner copies lose every party ``identifier``; references to other reports in the
enrichment survive only for recipients that were allowed to receive the referenced report.
decide() (hub/pipeline/decide.py) uses ``recipients`` and ``redact``, and computes each recipient's
enrichment in that recipient's own view instead of filtering one (``filter_enrichment`` and
``feed_items`` are the milestone-1 path of the old worker).
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from hub.settings import Settings


def route_states(report: Mapping[str, Any], members: Collection[str]) -> set[str]:
    """R: the member states on the route and at the location."""
    countries = [p.get("country") for p in report.get("route") or []]
    loc = report.get("location") or {}
    countries.append(loc.get("country"))
    return {c for c in countries if c in members}


def recipients(report: Mapping[str, Any], settings: Settings) -> dict[str, str]:
    """recipient -> why it receives this version (deterministic, S excluded)."""
    members, partners, centre = set(settings.members), set(settings.partners), settings.centre
    tlp = report.get("tlp") or "AMBER"
    addressed = set(report.get("addressees") or [])
    why: dict[str, str] = {}

    def add(names: Iterable[str], reason: str) -> None:
        for n in sorted(names):
            why.setdefault(n, reason)

    add(addressed, f"addressed ({tlp})")
    if tlp == "AMBER":
        add(route_states(report, members), "on the route or at the location (AMBER)")
        add([centre], "regional centre (AMBER)")
    elif tlp == "GREEN":
        add(members, "member state (GREEN)")
        add([centre], "regional centre (GREEN)")
    elif tlp == "CLEAR":
        add(members, "member state (CLEAR)")
        add(partners, "partner state (CLEAR)")
        add([centre], "regional centre (CLEAR)")
    why.pop(report.get("reporter_state") or "", None)
    return dict(sorted(why.items()))


def delivery_kind(recipient: str, earlier_recipients: Collection[str],
                  incident_holders: Collection[str]) -> str:
    """§4.2/§4.3: UPDATE to those who got an earlier version; CORRELATED to holders of the incident."""
    if recipient in earlier_recipients:
        return "UPDATE"
    if recipient in incident_holders:
        return "CORRELATED"
    return "NEW"


def redact(report: Mapping[str, Any]) -> dict[str, Any]:
    """Partner copy: party identifiers removed, everything else kept."""
    out = dict(report)
    out["parties"] = [dict(p, identifier=None) for p in report.get("parties") or []]
    return out


def visible(ref_report_id: str | None, recipient: str, allowed: Mapping[str, Collection[str]]) -> bool:
    """May ``recipient`` see a reference to ``ref_report_id``? Only if it could receive that report."""
    if ref_report_id is None:
        return True
    return recipient in allowed.get(ref_report_id, ())


def filter_enrichment(enrichment: Mapping[str, Any], recipient: str,
                      allowed: Mapping[str, Collection[str]]) -> dict[str, Any]:
    """The no-leak rule: drop references to reports this recipient was not allowed to receive."""
    out = copy.copy(dict(enrichment))
    for field in ("prior_reports", "also_reported_by", "entity_links"):
        out[field] = [r for r in enrichment.get(field) or [] if visible(r.get("report_id"), recipient, allowed)]
    return out


def feed_items(report: Mapping[str, Any], enrichment: Mapping[str, Any], *, incident_id: str,
               settings: Settings, earlier_recipients: Collection[str], incident_holders: Collection[str],
               allowed: Mapping[str, Collection[str]], routed_at: int) -> list[dict[str, Any]]:
    """One FeedItem per recipient of this version, in recipient order."""
    who = recipients(report, settings)
    partners = set(settings.partners)
    everyone = sorted(who)
    items = []
    for r, reason in who.items():
        is_partner = r in partners
        items.append({
            "item_id": f"{report['report_id']}:{report['version']}:{r}",
            "recipient": r,
            "delivery": delivery_kind(r, earlier_recipients, incident_holders),
            "incident_id": incident_id,
            "report": redact(report) if is_partner else dict(report),
            "enrichment": filter_enrichment(enrichment, r, allowed),
            "routing": {"recipients": everyone, "reason": reason, "redacted": is_partner},
            "routed_at": routed_at,
        })
    return items

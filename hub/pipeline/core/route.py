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
decide() (hub/pipeline/core/decide.py) uses ``recipients`` and ``redact``, and computes each recipient's
enrichment in that recipient's own view (delivery kinds and the no-leak rule are applied there).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from hub.platform.settings import Settings


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


def redact(report: Mapping[str, Any]) -> dict[str, Any]:
    """Partner copy: party identifiers removed, everything else kept."""
    out = dict(report)
    out["parties"] = [dict(p, identifier=None) for p in report.get("parties") or []]
    return out

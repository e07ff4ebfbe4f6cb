"""Dedup stage (SPEC §4.1, §4.2): exact duplicates, updates and stale versions. Pure.

The state of one report (``report_id`` -> ReportState dict) records every version accepted, the
recipients each recipient set received, and the incident the report belongs to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NEW, UPDATE, DUPLICATE, STALE = "NEW", "UPDATE", "DUPLICATE", "STALE"


def empty_state() -> dict[str, Any]:
    return {"versions": [], "recipients": [], "incident_id": None, "agency": None, "state": None,
            "kind": None, "event_time": None}


def classify(report: Mapping[str, Any], state: Mapping[str, Any] | None) -> str:
    """NEW (first version seen), UPDATE (higher version), DUPLICATE (a version accepted before),
    STALE (a lower version never accepted, arriving after a higher one)."""
    if not state or not state.get("versions"):
        return NEW
    version = report["version"]
    versions = state["versions"]
    if version in versions:
        return DUPLICATE
    if version < max(versions):
        return STALE
    return UPDATE


def accept(report: Mapping[str, Any], state: Mapping[str, Any] | None, *, incident_id: str,
           recipients: list[str]) -> dict[str, Any]:
    """The report state after this version was routed to ``recipients``."""
    s = dict(state) if state else empty_state()
    s["versions"] = sorted({*s.get("versions", []), report["version"]})
    s["recipients"] = sorted({*s.get("recipients", []), *recipients})
    s["incident_id"] = incident_id
    s["agency"] = report["agency"]
    s["state"] = report["reporter_state"]
    s["kind"] = report["kind"]
    s["event_time"] = report["event_time"]
    return s

"""The provider's read model (SPEC §13): per report and version what the hub did with it, who got
it, when it was first served and acknowledged — and the agency's own stream of status changes.

The ``provider`` projection (:class:`hub.provider.projection.ProviderProjection`, its own consumer) keeps it from two inputs:

* audit events (``hub.audit``): RECEIVED, VALIDATED, REJECTED (any stage, also after the 202),
  DUPLICATE, ROUTED, SHARED, the request/answer stages, DELIVERED (→ ``delivered_at``, the first
  one per recipient wins) and ACKNOWLEDGED (→ ``acknowledged_at`` and by whom). CORRELATED and
  ENRICHED are never projected: their details name other agencies' reports, which the provider
  may not see (SPEC §5).
* Receipts (``hub.receipts``, release v2): one per routed version and per share — the report as
  sent, the reporting state's incident id, the recipients with delivery kind, reason and redaction.

Its tables and the class that reads and writes them (``ReceiptStore``) are in :mod:`hub.provider.store`;
here are the pure parts: the stages it projects, value helpers and the views (:func:`status_view`,
:func:`change_view`), pure functions over rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from hub.platform.clock import iso

# stages whose outcome the provider sees in its status, with the reason where it has one
STAGE_EVENTS = frozenset({"RECEIVED", "VALIDATED", "REJECTED", "DUPLICATE", "ROUTED", "SHARED",
                          "CONSENT_REQUESTED", "CONSENT_GRANTED", "CONSENT_REFUSED", "INFO_REQUESTED",
                          "INFO_PROVIDED"})
REASONED = frozenset({"REJECTED", "DUPLICATE"})  # ROUTED's reason is replaced by the receipt's recipients
REQUEST_STAGES = frozenset({"CONSENT_REQUESTED", "INFO_REQUESTED"})
ANSWER_STAGES = frozenset({"CONSENT_GRANTED", "CONSENT_REFUSED", "INFO_PROVIDED"})
PROJECTED = STAGE_EVENTS | {"DELIVERED", "ACKNOWLEDGED"}


# -- pure helpers ---------------------------------------------------------------------------------
def ms(value: Any) -> int | None:
    """Epoch milliseconds of a decoded timestamp (datetime) or an int; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.replace(tzinfo=value.tzinfo or UTC).timestamp() * 1000)
    return int(value)


def plain(value: Any) -> Any:
    """A decoded Avro value as JSON data with every timestamp as epoch milliseconds."""
    if isinstance(value, datetime):
        return ms(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def share_request_id(receipt_id: str) -> str | None:
    """``report_id:version:share:<request_id>`` → the request id (None for a routed version)."""
    parts = receipt_id.split(":share:", 1)
    return parts[1] if len(parts) == 2 else None


def seconds_between(start: int | None, end: int | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0, end - start) / 1000, 3)


# -- views (pure) ---------------------------------------------------------------------------------
def _stage(row: Mapping[str, Any]) -> dict[str, Any]:
    detail = json.loads(row["detail"]) if row.get("detail") else {}
    out: dict[str, Any] = {"stage": row["stage"], "at": iso(int(row["occurred_at"])), "actor": row.get("actor")}
    if row.get("reason"):
        out["reason"] = row["reason"]
    if row["stage"] in REQUEST_STAGES | ANSWER_STAGES:
        out["state"] = row.get("state")
    if detail.get("recipients"):
        out["recipients"] = detail["recipients"].split(",")
    for k in ("request_id", "kind", "decision"):
        if k in detail:
            out[k] = detail[k]
    return out


def version_status(stages: Sequence[str], receipted: bool) -> str:
    """The outcome of one version: REJECTED wins, then ROUTED, VALIDATED, RECEIVED, DUPLICATE."""
    for s in ("REJECTED", "ROUTED", "VALIDATED", "RECEIVED", "DUPLICATE"):
        if s in stages or (s == "ROUTED" and receipted):
            return s
    return "UNKNOWN"


def _recipient(row: Mapping[str, Any]) -> dict[str, Any]:
    routed, delivered, acked = row.get("routed_at"), row.get("delivered_at"), row.get("acknowledged_at")
    return {
        "recipient": row["recipient"], "delivery": row.get("delivery"), "reason": row.get("reason") or None,
        "redacted": bool(row["redacted"]) if row.get("redacted") is not None else None,
        "request_id": row.get("request_id"), "routed_at": iso(routed) or None,
        "delivered_at": iso(delivered) or None, "delivered_to": row.get("delivered_to"),
        "acknowledged_at": iso(acked) or None, "acknowledged_by": row.get("acknowledged_by"),
        "time_to_acknowledge_s": seconds_between(routed, acked),
    }


def status_view(report: Mapping[str, Any], events: Sequence[Mapping[str, Any]],
                versions: Sequence[Mapping[str, Any]], recipients: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The API view of one report: per version every stage outcome, the recipients with delivery
    kind and times; stage events the hub could not tie to a version are listed apart."""
    numbers = sorted({int(v["version"]) for v in versions}
                     | {int(e["version"]) for e in events if e.get("version") is not None}
                     | {int(r["version"]) for r in recipients})
    out_versions = []
    for n in numbers:
        vrow = next((v for v in versions if int(v["version"]) == n), {})
        stages = [_stage(e) for e in events if e.get("version") is not None and int(e["version"]) == n]
        recips = [_recipient(r) for r in recipients if int(r["version"]) == n]
        body = json.loads(vrow["report"]) if vrow.get("report") else None
        out_versions.append({
            "version": n,
            "status": version_status([s["stage"] for s in stages], bool(vrow.get("routed_at"))),
            "kind": body.get("kind") if body else None,
            "incident_id": vrow.get("incident_id"),
            "routed_at": iso(vrow.get("routed_at")) or None,
            "stages": stages,
            "recipients": recips,
            "delivered": sum(1 for r in recips if r["delivered_at"]),
            "acknowledged": sum(1 for r in recips if r["acknowledged_at"]),
        })
    return {
        "report_id": report["report_id"], "agency": report["agency"], "state": report.get("state"),
        "source_ref": report.get("source_ref"),
        "status": out_versions[-1]["status"] if out_versions else "UNKNOWN",
        "versions": out_versions,
        "unversioned": [_stage(e) for e in events if e.get("version") is None],
    }


def change_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"cursor": int(row["seq"]), "type": row["type"], "report_id": row["report_id"],
            "version": None if row["version"] is None else int(row["version"]),
            **json.loads(row["body"])}

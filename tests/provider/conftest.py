"""Provider fixtures: builders of the records the sink hands to the provider projection (Receipts of
release v2 and audit events, decoded exactly as the sink decodes them) and the databases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.audit_events import audit_event
from hub.codec import AUDIT_EVENT, RECEIPT, codec
from hub.sink import classify
from hub.topics import AUDIT, RECEIPTS
from tests.audit.conftest import db_url, pg_server, pg_url  # noqa: F401
from tests.factories import report

T0 = 1_767_000_000_000  # a fixed "now" in epoch ms


@dataclass
class Rec:
    """A consumed record as the sink sees it."""

    topic: str
    value: bytes
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    headers: tuple = ()


def uz_report(ref: str = "UZ-DESK-1", version: int = 1, **over: Any) -> dict[str, Any]:
    return report(agency="UZ-CUSTOMS", state="UZ", source_ref=ref, version=version, handling_code="H2",
                  route=[{"country": "UZ", "place": "Tashkent"}, {"country": "KZ", "place": None},
                         {"country": "RU", "place": None}],
                  location={"country": "UZ", "place": "Yallama", "unlocode": None, "lat": None, "lon": None},
                  **over)


def receipt(rep: dict[str, Any], recipients: list[tuple[str, str]], *, at: int = T0 + 1000,
            request_id: str | None = None, incident: str = "I-uz-1") -> dict[str, Any]:
    rid, ver = rep["report_id"], rep["version"]
    return {
        "receipt_id": f"{rid}:{ver}" + (f":share:{request_id}" if request_id else ""),
        "report_id": rid, "version": ver, "agency": rep["agency"], "state": rep["reporter_state"],
        "incident_id": incident, "report": rep,
        "recipients": [{"recipient": r, "delivery": d, "reason": "on the route or at the location (AMBER)"
                        if d != "SHARED" else f"shared with consent ({request_id})",
                        "redacted": r in ("AF", "CN")} for r, d in recipients],
        "routed_at": at,
    }


def stage(name: str, rep: dict[str, Any], at: int, **kw: Any) -> dict[str, Any]:
    base = {"report_id": rep["report_id"], "version": rep["version"], "agency": rep["agency"],
            "state": rep["reporter_state"], "trace_id": rep["trace_id"]}
    base.update(kw)
    return audit_event(name, occurred_at=at, **base)


def records(*values: dict[str, Any]) -> list[Rec]:
    """Encode receipts and audit events as their topics carry them."""
    out = []
    for i, v in enumerate(values):
        if "receipt_id" in v:
            out.append(Rec(RECEIPTS, codec().encode(RECEIPT, v), offset=i))
        else:
            out.append(Rec(AUDIT, codec().encode(AUDIT_EVENT, v), offset=i))
    return out


def batch(*values: dict[str, Any]) -> Any:
    """The decoded batch the sink hands to projections."""
    b = classify(records(*values))
    assert not b.dead_letters, b.dead_letters
    return b

"""Audit events (SPEC §9) as plain data: one constructor, deterministic ids. Pure.

``event_id`` is a hash of what makes the event unique (stage, report, version, recipient/actor and
an optional discriminator), so a redelivered message yields the same id and the audit store
stores it once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from hub.platform.clock import now_ms

STAGES = (
    "RECEIVED", "REJECTED", "VALIDATED", "DUPLICATE", "CORRELATED", "ENRICHED", "ROUTED",
    "DELIVERED", "ACKNOWLEDGED", "ACCESS_DENIED",
    # schema release v2: §13 requests, answers and shares, §14 exports
    "CONSENT_REQUESTED", "CONSENT_GRANTED", "CONSENT_REFUSED", "INFO_REQUESTED", "INFO_PROVIDED", "SHARED",
    "EXPORTED",
)


def event_id(stage: str, *parts: object) -> str:
    text = "\x1f".join([stage, *("" if p is None else str(p) for p in parts)])
    return "A-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def audit_event(
    stage: str,
    *,
    report_id: str | None = None,
    version: int | None = None,
    agency: str | None = None,
    state: str | None = None,
    actor: str | None = None,
    recipients: Iterable[str] = (),
    reason: str | None = None,
    detail: Mapping[str, Any] | None = None,
    trace_id: str | None = None,
    occurred_at: int | None = None,
    unique: object = None,
) -> dict[str, Any]:
    """An AuditEvent in its Avro form. ``unique`` distinguishes repeatable events (e.g. a session id)."""
    if stage not in STAGES:
        raise ValueError(f"unknown audit stage {stage!r}")
    recipients = sorted(recipients)
    return {
        "event_id": event_id(stage, report_id, version, state, actor, ",".join(recipients), unique),
        "stage": stage,
        "occurred_at": occurred_at if occurred_at is not None else now_ms(),
        "report_id": report_id,
        "version": version,
        "agency": agency,
        "state": state,
        "actor": actor,
        "recipients": recipients,
        "reason": reason,
        "detail": {k: str(v) for k, v in (detail or {}).items()},
        "trace_id": trace_id,
    }

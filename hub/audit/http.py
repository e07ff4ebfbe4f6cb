"""Gateway part: the audit trail over HTTP for auditor tokens (SPEC §9).

* ``GET /v1/audit/trail/{report_id}`` — every stored event about a report, oldest first.
* ``GET /v1/audit/verify`` — the hash-chain verdict, anchors included (``ok`` false names the first
  bad record, or the anchor the chain no longer matches).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request

from hub.audit.store import AuditStore
from hub.directory.access import AuditorToken
from hub.platform.http import ApiError, errors_doc, in_thread

router = APIRouter(tags=["audit"])


async def startup(app: FastAPI) -> None:
    app.state.audit_store = AuditStore(app.state.db, app.state.settings)


@router.get("/v1/audit/trail/{report_id}", responses=errors_doc(
    401, 403, 404, 422, e404="no audit event about this report id"))
async def trail(request: Request, report_id: str, who: AuditorToken) -> dict[str, Any]:
    events = await in_thread(request.app.state.audit_store.trail, report_id)
    if not events:
        raise ApiError(404, f"report_id: no audit events for {report_id}")
    return {"report_id": report_id, "events": events}


@router.get("/v1/audit/verify", responses=errors_doc(401, 403))
async def verify(request: Request, who: AuditorToken) -> dict[str, Any]:
    """The verdict of ``hub audit verify``: the whole chain, its head and every anchor of the anchor
    file (HUB_AUDIT_ANCHOR_FILE, read by the gateway too); ``anchors`` is how many were checked."""
    v = await in_thread(request.app.state.audit_store.verify)
    return {"ok": v.ok, "records": v.records, "bad_seq": v.bad_seq, "problem": v.problem,
            "anchors": v.anchors, "chain": v.chain, "message": v.describe()}

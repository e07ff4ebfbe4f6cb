"""Gateway part: ``GET /v1/projections`` — how far each read model is behind its topics.

Any signed-in principal (officer, analyst, auditor, agency) may read it: it holds counts and times
only, nothing about any report. The analyst page uses ``behind_feed_seconds`` of ``analyst`` to say
when search and statistics lag the officers' feed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from hub.directory.access import AnyPrincipal
from hub.platform.http import errors_doc, in_thread
from hub.projections import progress

router = APIRouter(tags=["projections"])


@router.get("/v1/projections", responses=errors_doc(401))
async def projections(request: Request, who: AnyPrincipal) -> dict[str, Any]:
    """Each projection: ``lag_seconds`` (0 = caught up), ``behind_feed_seconds``, ``backlog`` (records
    waiting when it last fetched), ``records``, ``rows_added``, ``running`` (refreshed in the last 30 s)."""
    return {"projections": await in_thread(progress.read, request.app.state.db)}

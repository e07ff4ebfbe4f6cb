"""Operations endpoints of the gateway: ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, response: Response) -> dict[str, object]:
    """Ready: the database answers (broker checks are added by the parts that use it)."""
    checks: dict[str, object] = {}
    try:
        request.app.state.db.query("SELECT 1")
        checks["database"] = True
    except Exception as exc:  # report, don't crash
        checks["database"] = f"error: {exc}"
    ready = all(v is True for v in checks.values())
    response.status_code = 200 if ready else 503
    return {"ready": ready, "checks": checks}


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

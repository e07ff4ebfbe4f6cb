"""Every denied request is audited (SPEC §8, §9): a pure-ASGI middleware.

Any ``/v1/`` answer with 401 (no valid token) or 403 (token not allowed here) becomes an
``ACCESS_DENIED`` audit event naming the actor (the token's principal when it is valid, else
``anonymous`` or ``invalid-token`` — never the token itself), the path and the method. Handlers that
already audited the denial in more detail set ``request.state.audited = True`` (``scope["state"]``).
Pure ASGI, so Server-Sent Events stream through untouched.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from hub.audit_events import audit_event

log = structlog.get_logger(__name__)

Scope = dict[str, Any]


def actor_of(credentials: Any, authorization: str | None) -> str:
    if not authorization:
        return "anonymous"
    token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
    who = credentials.authenticate(token) if token else None
    return who.label if who is not None else "invalid-token"


def denial_event(status: int, actor: str, method: str, path: str) -> dict[str, Any]:
    reason = "no valid token" if status == 401 else f"{actor} is not allowed here"
    return audit_event("ACCESS_DENIED", actor=actor, reason=reason,
                       detail={"path": path, "method": method, "status": status}, unique=uuid.uuid4().hex)


class AuditDenials:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, capture)
        if not status or status[0] not in (401, 403) or scope.get("state", {}).get("audited"):
            return
        application = scope["app"]
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode("latin-1") or None
        try:
            actor = actor_of(application.state.credentials, auth)
            from hub.gateway.feeds import emit_audit

            await emit_audit(application, [denial_event(status[0], actor, scope["method"], scope["path"])])
        except Exception as exc:  # the answer already went out; keep the attempt in the log
            log.error("could not audit a denied request", error=str(exc), path=scope["path"], status=status[0])

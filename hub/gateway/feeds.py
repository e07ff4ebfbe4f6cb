"""Gateway part: officer feeds (SPEC §8).

* ``GET /v1/feeds/{state}`` — Server-Sent Events. Each event's ``id`` is the item's cursor (its
  ``seq`` in the recipient's feed store); reconnecting with ``Last-Event-ID`` (or ``?after=``)
  resumes right after it, with no gap and no repeat. Comment lines keep idle connections alive.
* ``GET /v1/feeds/{state}/items?after=&limit=`` — the same feed as JSON pages.
* ``POST /v1/feeds/{state}/ack {report_id}`` — acknowledgement (audit ACKNOWLEDGED, time to ack).
* ``GET /v1/whoami`` — the principal of the bearer token.

Items come from the feed store written by ``hub sink`` (UNIQUE item_id: a redelivered item is
shown once). Every item handed to an officer session is audited DELIVERED; a token for another
state gets 403 and an ACCESS_DENIED audit event.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from hub import clock, metrics
from hub.audit_events import audit_event
from hub.auth import OFFICER, Credentials, Principal
from hub.feedstore import FeedStore
from hub.kafka import producer, send_audit

log = structlog.get_logger(__name__)
router = APIRouter(tags=["feeds"])

KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 0.25


# -- shared resources ---------------------------------------------------------------------------
async def startup(app: FastAPI) -> None:
    app.state.credentials = Credentials(app.state.db)
    app.state.feed_store = FeedStore(app.state.db)
    app.state.audit_producer = None
    app.state.audit_lock = asyncio.Lock()
    if not hasattr(app.state, "feed_keepalive"):
        app.state.feed_keepalive = KEEPALIVE_SECONDS


async def shutdown(app: FastAPI) -> None:
    prod = getattr(app.state, "audit_producer", None)
    if prod is not None:
        await prod.stop()


async def emit_audit(app: FastAPI, events: list[dict[str, Any]]) -> None:
    """Send audit events to hub.audit, waiting for the broker's acknowledgement (starts the
    producer on first use, so the gateway starts even while the broker is still coming up)."""
    async with app.state.audit_lock:
        if app.state.audit_producer is None:
            prod = producer(app.state.settings)
            await prod.start()
            app.state.audit_producer = prod
    await send_audit(app.state.audit_producer, events)


def bearer(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The authenticated principal (401 otherwise)."""
    p = request.app.state.credentials.authenticate(bearer(authorization))
    if p is None:
        raise HTTPException(401, "authorization: a valid bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})
    return p


async def officer_for(request: Request, state: str, who: Principal) -> str:
    """The state's feed if ``who`` is its officer; else 403 and an ACCESS_DENIED audit event."""
    state = state.upper()
    if who.kind == OFFICER and who.state == state:
        return state
    reason = (f"{who.kind} token cannot read feeds" if who.kind != OFFICER
              else f"officer of {who.state} asked for the feed of {state}")
    ev = audit_event("ACCESS_DENIED", state=state, actor=who.label, reason=reason,
                     detail={"path": request.url.path, "method": request.method}, unique=uuid.uuid4().hex)
    request.state.audited = True  # hub.gateway.denials need not audit it again
    try:
        await emit_audit(request.app, [ev])
    except Exception as exc:  # still deny; the log keeps the attempt
        log.error("could not audit ACCESS_DENIED", error=str(exc), actor=who.label, state=state)
    log.warning("feed access denied", actor=who.label, state=state)
    raise HTTPException(403, f"state: your token is not valid for the feed of {state}")


def delivered_events(views: list[dict[str, Any]], state: str, who: Principal, session: str,
                     via: str) -> list[dict[str, Any]]:
    """DELIVERED audit events for items handed to one officer session (pure)."""
    out = []
    for v in views:
        report = v["item"]["report"]
        out.append(audit_event(
            "DELIVERED", report_id=v["report_id"], version=v["version"], agency=report.get("agency"),
            state=state, actor=who.label, unique=v["item_id"], trace_id=report.get("trace_id"),
            detail={"item_id": v["item_id"], "cursor": v["cursor"], "session": session, "via": via,
                    "delivery": v["delivery"]}))
    return out


async def deliver(request: Request, views: list[dict[str, Any]], state: str, who: Principal,
                  session: str, via: str) -> None:
    if not views:
        return
    await emit_audit(request.app, delivered_events(views, state, who, session, via))
    metrics.FEED_DELIVERED.labels(state).inc(len(views))


def sse_event(view: dict[str, Any]) -> str:
    data = json.dumps(view, ensure_ascii=False, separators=(",", ":"))
    return f"id: {view['cursor']}\nevent: item\ndata: {data}\n\n"


def parse_cursor(value: str | None, field: str) -> int:
    if value is None or value == "":
        return 0
    try:
        n = int(value)
    except ValueError:
        raise HTTPException(422, f"{field}: {value!r} is not a cursor (a whole number ≥ 0)") from None
    if n < 0:
        raise HTTPException(422, f"{field}: {value!r} is not a cursor (a whole number ≥ 0)")
    return n


# -- routes ---------------------------------------------------------------------------------------
@router.get("/v1/whoami")
async def whoami(who: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
    """Who the bearer token belongs to (used by the officer page after sign-in)."""
    return {"kind": who.kind, "name": who.subject, "state": who.state}


@router.get("/v1/feeds/{state}/items")
async def items(request: Request, state: str, who: Annotated[Principal, Depends(principal)],
                after: Annotated[str | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """One JSON page of the feed: items with cursor > ``after``, oldest first."""
    state = await officer_for(request, state, who)
    cursor = parse_cursor(after, "after")
    views = request.app.state.feed_store.page(state, cursor, limit)
    await deliver(request, views, state, who, session=f"page:{uuid.uuid4().hex[:12]}", via="json")
    nxt = views[-1]["cursor"] if views else cursor
    return {"state": state, "items": views, "next_after": nxt}


@router.get("/v1/feeds/{state}")
async def stream(request: Request, state: str, who: Annotated[Principal, Depends(principal)],
                 after: Annotated[str | None, Query()] = None,
                 last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    """Server-Sent Events: ``event: item``, ``id`` = cursor, ``data`` = the item (JSON)."""
    state = await officer_for(request, state, who)
    cursor = parse_cursor(last_event_id, "Last-Event-ID") if last_event_id else parse_cursor(after, "after")
    session = uuid.uuid4().hex[:12]
    store: FeedStore = request.app.state.feed_store
    keepalive: float = request.app.state.feed_keepalive
    bound = log.bind(state=state, actor=who.label, session=session)

    async def events() -> AsyncIterator[str]:
        nonlocal cursor
        metrics.FEED_SUBSCRIBERS.labels(state).inc()
        bound.info("feed subscriber connected", after=cursor)
        last = time.monotonic()
        try:
            yield f"retry: 2000\n: connected to the feed of {state}\n\n"
            while not await request.is_disconnected():
                views = store.page(state, cursor, 100)
                if views:
                    await deliver(request, views, state, who, session, via="sse")
                    for v in views:
                        yield sse_event(v)
                        cursor = v["cursor"]
                    last = time.monotonic()
                    continue
                if time.monotonic() - last >= keepalive:
                    yield ": keep-alive\n\n"
                    last = time.monotonic()
                await asyncio.sleep(POLL_SECONDS)
        finally:
            metrics.FEED_SUBSCRIBERS.labels(state).dec()
            bound.info("feed subscriber disconnected", cursor=cursor)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


class Ack(BaseModel):
    report_id: str = Field(min_length=1, max_length=200)
    version: int | None = Field(default=None, ge=1, description="default: the newest version in the feed")


@router.post("/v1/feeds/{state}/ack")
async def ack(request: Request, state: str, body: Ack, who: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
    """Acknowledge a report of this feed (audit ACKNOWLEDGED; measures time to acknowledge)."""
    state = await officer_for(request, state, who)
    store: FeedStore = request.app.state.feed_store
    row = store.latest(state, body.report_id)
    if row is None:
        raise HTTPException(404, f"report_id: {body.report_id} is not in the feed of {state}")
    version = body.version or int(row["version"])
    if body.version and body.version > int(row["version"]):
        raise HTTPException(404, f"version: {body.report_id} v{body.version} is not in the feed of {state}")
    now_ms = clock.now_ms()
    ev = audit_event("ACKNOWLEDGED", report_id=body.report_id, version=version, state=state, actor=who.label,
                     occurred_at=now_ms, detail={"item_id": row["item_id"]})
    try:
        await emit_audit(request.app, [ev])
    except Exception as exc:
        log.error("could not audit ACKNOWLEDGED", error=str(exc), report_id=body.report_id)
        raise HTTPException(503, "audit: the acknowledgement could not be recorded; try again") from exc
    first = store.acknowledge(state, body.report_id, version, who.label, now_ms)
    if first:
        metrics.ACKNOWLEDGED.labels(state).inc()
        metrics.TIME_TO_ACK.labels(state).observe(max(0.0, (now_ms - int(row["routed_at"])) / 1000))
    log.info("report acknowledged", report_id=body.report_id, version=version, state=state, actor=who.label,
             first=first)
    return {"report_id": body.report_id, "version": version, "state": state, "acknowledged_by": who.label,
            "first": first}

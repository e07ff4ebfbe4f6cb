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
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from hub import clock, metrics
from hub.audit_events import audit_event
from hub.auth import Principal
from hub.feedstore import FeedStore
from hub.gateway.base import (
    AnyPrincipal,
    ApiError,
    BrokerUnavailable,
    OfficerOfState,
    in_thread,
    json_body_doc,
    read_json,
)

log = structlog.get_logger(__name__)
router = APIRouter(tags=["feeds"])

KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 0.25
MAX_ACK_BYTES = 4 * 1024


# -- shared resources ---------------------------------------------------------------------------
async def startup(app: FastAPI) -> None:
    app.state.feed_store = FeedStore(app.state.db)
    if not hasattr(app.state, "feed_keepalive"):
        app.state.feed_keepalive = KEEPALIVE_SECONDS


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
    """Audit DELIVERED for ``views`` (awaiting the broker: nothing is shown that was not audited)."""
    if not views:
        return
    await request.app.state.audit.emit(delivered_events(views, state, who, session, via))
    metrics.FEED_DELIVERED.labels(state).inc(len(views))


def sse_event(view: dict[str, Any]) -> bytes:
    return b"id: %d\nevent: item\ndata: %s\n\n" % (view["cursor"], orjson.dumps(view))


def parse_cursor(value: str | None, field: str) -> int:
    if value is None or value == "":
        return 0
    try:
        n = int(value)
    except ValueError:
        raise ApiError(422, f"{field}: {value!r} is not a cursor (a whole number ≥ 0)") from None
    if n < 0:
        raise ApiError(422, f"{field}: {value!r} is not a cursor (a whole number ≥ 0)")
    return n


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


# -- routes ---------------------------------------------------------------------------------------
@router.get("/v1/whoami")
async def whoami(who: AnyPrincipal) -> dict[str, Any]:
    """Who the bearer token belongs to (used by the officer page after sign-in)."""
    return {"kind": who.kind, "name": who.subject, "state": who.state}


@router.get("/v1/feeds/{state}/items", response_model=None)
async def items(request: Request, seat: OfficerOfState, after: Annotated[str | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    """One JSON page of the feed: items with cursor > ``after``, oldest first."""
    cursor = parse_cursor(after, "after")
    store: FeedStore = request.app.state.feed_store
    views = await in_thread(store.page, seat.state, cursor, limit)
    try:
        await deliver(request, views, seat.state, seat.who, session=f"page:{uuid.uuid4().hex[:12]}", via="json")
    except BrokerUnavailable as exc:
        raise ApiError(503, "audit: the hub cannot record the delivery right now; retry later",
                       {"Retry-After": "5"}) from exc
    nxt = views[-1]["cursor"] if views else cursor
    return _json({"state": seat.state, "items": views, "next_after": nxt})


@router.get("/v1/feeds/{state}")
async def stream(request: Request, seat: OfficerOfState, after: Annotated[str | None, Query()] = None,
                 last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    """Server-Sent Events: ``event: item``, ``id`` = cursor, ``data`` = the item (JSON)."""
    state, who = seat.state, seat.who
    cursor = parse_cursor(last_event_id, "Last-Event-ID") if last_event_id else parse_cursor(after, "after")
    session = uuid.uuid4().hex[:12]
    store: FeedStore = request.app.state.feed_store
    keepalive: float = request.app.state.feed_keepalive
    bound = log.bind(state=state, actor=who.label, session=session)

    async def events() -> AsyncIterator[bytes]:
        nonlocal cursor
        metrics.FEED_SUBSCRIBERS.labels(state).inc()
        bound.info("feed subscriber connected", after=cursor)
        last = time.monotonic()
        try:
            yield f"retry: 2000\n: connected to the feed of {state}\n\n".encode()
            while not await request.is_disconnected():
                views = await in_thread(store.page, state, cursor, 100)
                if views:
                    await deliver(request, views, state, who, session, via="sse")
                    for v in views:
                        yield sse_event(v)
                        cursor = v["cursor"]
                    last = time.monotonic()
                    continue
                if time.monotonic() - last >= keepalive:
                    yield b": keep-alive\n\n"
                    last = time.monotonic()
                await asyncio.sleep(POLL_SECONDS)
        finally:
            metrics.FEED_SUBSCRIBERS.labels(state).dec()
            bound.info("feed subscriber disconnected", cursor=cursor)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


class Ack(BaseModel):
    report_id: str = Field(min_length=1, max_length=200)
    version: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                description="default: the newest version in the feed")


@router.post("/v1/feeds/{state}/ack", openapi_extra=json_body_doc(Ack, MAX_ACK_BYTES))
async def ack(request: Request, seat: OfficerOfState) -> dict[str, Any]:
    """Acknowledge a report version of this feed (audit ACKNOWLEDGED; measures time to acknowledge).

    The body (at most 4 KiB) is read only after the token was checked."""
    body: Ack = await read_json(request, MAX_ACK_BYTES, Ack)
    state, who = seat.state, seat.who
    store: FeedStore = request.app.state.feed_store
    row = await in_thread(store.latest, state, body.report_id)
    if row is None:
        raise ApiError(404, f"report_id: {body.report_id} is not in the feed of {state}")
    version = body.version or int(row["version"])
    if body.version and body.version > int(row["version"]):
        raise ApiError(404, f"version: {body.report_id} v{body.version} is not in the feed of {state}")
    now_ms = clock.now_ms()
    ev = audit_event("ACKNOWLEDGED", report_id=body.report_id, version=version, state=state, actor=who.label,
                     occurred_at=now_ms, detail={"item_id": row["item_id"]})
    try:
        await request.app.state.audit.emit([ev])
    except BrokerUnavailable as exc:
        log.error("could not audit ACKNOWLEDGED", error=str(exc), report_id=body.report_id)
        raise ApiError(503, "audit: the acknowledgement could not be recorded; try again") from exc
    first = await in_thread(store.acknowledge, state, body.report_id, version, who.label, now_ms)
    if first:
        metrics.ACKNOWLEDGED.labels(state).inc()
        metrics.TIME_TO_ACK.labels(state).observe(max(0.0, (now_ms - int(row["routed_at"])) / 1000))
    log.info("report acknowledged", report_id=body.report_id, version=version, state=state, actor=who.label,
             first=first)
    return {"report_id": body.report_id, "version": version, "state": state, "acknowledged_by": who.label,
            "first": first}

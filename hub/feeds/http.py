"""Gateway part: officer feeds (SPEC §8).

* ``GET /v1/feeds/{state}`` — Server-Sent Events. Each event's ``id`` is the item's cursor (its
  ``seq`` in the recipient's feed store); reconnecting with ``Last-Event-ID`` (or ``?after=``)
  resumes right after it, with no gap and no repeat. Comment lines keep idle connections alive.
* ``GET /v1/feeds/{state}/items?after=&limit=`` — the same feed as JSON pages.
* ``POST /v1/feeds/{state}/ack {report_id}`` — acknowledgement (audit ACKNOWLEDGED, time to ack).
* ``GET /v1/whoami`` — the principal of the bearer token.

Items come from the feed store written by the ``feeds`` projection of ``hub sink`` (UNIQUE item_id: a
redelivered item is shown once); its commits wake the open streams at once (:class:`FeedWatch`). Every item handed to an officer session is audited DELIVERED; a token for another
state gets 403 and an ACCESS_DENIED audit event.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, NamedTuple

import orjson
import structlog
from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from hub.audit.emit import GroupedAudit
from hub.directory.access import AnyPrincipal, OfficerOfState
from hub.directory.auth import Principal
from hub.domain.audit_events import audit_event
from hub.feeds.store import FeedStore
from hub.platform import clock, metrics
from hub.platform.http import (
    RETRY_LATER,
    ApiError,
    bearer,
    content_doc,
    errors_doc,
    in_thread,
    json_body_doc,
    read_json,
)
from hub.platform.http import json_response as _json
from hub.platform.kafka.producer import BrokerUnavailable
from hub.platform.tasks import cancel
from hub.projections import wake

log = structlog.get_logger(__name__)
router = APIRouter(tags=["feeds"])

KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 0.25  # an open stream re-checks its token this often (new items wake it at once)
FALLBACK_SECONDS = 2.0  # FeedWatch's safety-net re-check when wake-ups are pushed
MAX_ACK_BYTES = 4 * 1024
MAX_CURSOR = 2**63 - 1  # a cursor is a feed store seq (BIGINT)


# -- shared resources ---------------------------------------------------------------------------
class SharedView(NamedTuple):
    """One item of a page shared by the streams that read it: its view and its encoded SSE event."""

    view: dict[str, Any]
    event: bytes


class FeedWatch:
    """One watcher per process for every open stream: the newest cursor of each feed, pushed by the
    feed projection the moment it commits a batch (:mod:`hub.projections.wake`: PostgreSQL
    NOTIFY, or a same-host datagram on SQLite). A stream sleeps in :meth:`wait` and reads the store
    only when its feed moved past its cursor -- no poll in the latency path, and an idle stream
    costs nothing.

    ``fallback``: a safety net only, for a wake-up that never came (a listener reconnecting, a
    database without a wake-up channel such as ``sqlite:///:memory:``): every ``fallback`` seconds,
    while streams are open, one query reads the newest cursor of every watched feed."""

    def __init__(self, store: FeedStore, fallback: float | None = None) -> None:
        self.store = store
        self.heads = wake.Heads(store.db, wake.FEED, on_reconnect=self._recheck)  # newest cursor per feed
        self.fallback = fallback if fallback is not None else (FALLBACK_SECONDS if self.heads.pushed else 0.02)
        self._interest: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pages: dict[tuple[str, int, int], asyncio.Task[list[SharedView]]] = {}

    @property
    def pushed(self) -> bool:
        """Whether commits wake the streams (False: only the fallback re-check finds new items)."""
        return self.heads.pushed

    def start(self) -> None:
        """Listen for commits (at gateway start-up, before any stream reads the store)."""
        self.heads.start()

    def _recheck(self) -> None:
        self._wake.set()

    async def wait(self, state: str, cursor: int, timeout: float) -> bool:
        """Wait until the feed of ``state`` has an item after ``cursor`` (True) or ``timeout`` passed (False)."""
        if self.heads.heads.get(state, -1) > cursor:
            return True
        self._interest[state] = self._interest.get(state, 0) + 1
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            return await self.heads.wait(state, cursor, timeout)
        finally:
            self._interest[state] -= 1

    def _heads_of(self, states: list[str]) -> dict[str, int]:
        rows = self.store.db.query(
            "SELECT recipient, MAX(seq) AS head FROM feed_items WHERE recipient IN ("
            + ",".join("?" * len(states)) + ") GROUP BY recipient", states)
        return {r["recipient"]: int(r["head"]) for r in rows}

    async def _run(self) -> None:
        """The fallback re-check (see the class docstring)."""
        while True:
            states = sorted(s for s, n in self._interest.items() if n > 0)
            if states:
                try:
                    self.heads.push(await in_thread(self._heads_of, states))
                except Exception as exc:  # the database is away: streams fall back to their timeouts
                    log.warning("feed watch query failed", error=str(exc))
            self._wake.clear()
            try:
                async with asyncio.timeout(self.fallback):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def page(self, app: FastAPI, state: str, cursor: int, limit: int = 100) -> list[SharedView]:
        """The page after ``cursor``, read ONCE for every stream of ``state`` standing at that cursor
        (the streams a wake-up woke together): one store read, one decoration, one encoding of each
        event, shared by all of them (a fan-out of hundreds of streams costs one read per feed per
        commit, and the streams hold the same objects in memory)."""
        key = (state, cursor, limit)
        fut = self._pages.get(key)
        if fut is None:
            fut = asyncio.get_running_loop().create_task(self._read_page(app, state, cursor, limit))
            self._pages[key] = fut
            fut.add_done_callback(lambda _f: self._pages.pop(key, None))
        return await asyncio.shield(fut)

    async def _read_page(self, app: FastAPI, state: str, cursor: int, limit: int) -> list[SharedView]:
        return await in_thread(self._read_page_now, app, state, cursor, limit)

    def _read_page_now(self, app: FastAPI, state: str, cursor: int, limit: int) -> list[SharedView]:
        """Read, decorate and encode a page in one trip to a thread (blocking)."""
        return [SharedView(v, sse_event(v)) for v in read_page(app, self.store, state, cursor, limit)]

    async def close(self) -> None:
        await self.heads.close()
        await cancel(self._task)
        self._task = None


async def startup(app: FastAPI) -> None:
    app.state.feed_store = FeedStore(app.state.db)
    app.state.delivery_audit = GroupedAudit(app.state.audit)
    app.state.feed_watch = FeedWatch(app.state.feed_store, getattr(app.state, "feed_fallback", None))
    app.state.feed_watch.start()
    if not hasattr(app.state, "feed_keepalive"):
        app.state.feed_keepalive = KEEPALIVE_SECONDS


async def shutdown(app: FastAPI) -> None:
    watch: FeedWatch | None = getattr(app.state, "feed_watch", None)
    if watch is not None:
        await watch.close()


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
    # the streams woken together share one produce, sent at once (GroupedAudit); the stream shows
    # nothing until the broker has acknowledged it
    await request.app.state.delivery_audit.emit(delivered_events(views, state, who, session, via))
    metrics.FEED_DELIVERED.labels(state).inc(len(views))


def sse_event(view: dict[str, Any]) -> bytes:
    return b"id: %d\nevent: item\ndata: %s\n\n" % (view["cursor"], orjson.dumps(view))


def parse_cursor(value: str | None, field: str) -> int:
    """A cursor: 422 when it is not a whole number ≥ 0; 400 when it is one beyond any possible cursor
    (a feed store ``seq`` is at most 2^63-1, e.g. ``after=10**30``)."""
    if value is None or value == "":
        return 0
    v = value.strip()
    if not (v.isascii() and v.isdigit()):
        raise ApiError(422, f"{field}: {value[:40]!r} is not a cursor (a whole number ≥ 0)")
    if len(v) > 19 or int(v) > MAX_CURSOR:
        shown = v if len(v) <= 40 else f"{v[:20]}… ({len(v)} digits)"
        raise ApiError(400, f"{field}: {shown} is out of range (a cursor is a whole number from 0 to {MAX_CURSOR})")
    return int(v)


def delivered_version(store: FeedStore, state: str, report_id: str, version: int | None) -> dict[str, Any] | None:
    """The feed row of (state, report, version) -- the newest version when ``version`` is None -- or None
    when that version was never delivered to the state (blocking)."""
    if version is None:
        return store.latest(state, report_id)
    return store.db.one(
        "SELECT seq, item_id, report_id, version, incident_id, routed_at FROM feed_items "
        "WHERE recipient = ? AND report_id = ? AND version = ? ORDER BY seq LIMIT 1", (state, report_id, version))


def read_page(app: FastAPI, store: FeedStore, state: str, cursor: int, limit: int) -> list[dict[str, Any]]:
    """The items of ``state`` after ``cursor`` as served (blocking: run it in a thread). Other parts add
    to them (``app.state.feed_view_hooks``, each a blocking ``(app, state, views) -> views`` called in
    the same thread, so a page costs one trip to a thread; the provider part adds the state's requests,
    SPEC §13)."""
    views = store.page(state, cursor, limit)
    if views:
        for hook in getattr(app.state, "feed_view_hooks", ()):
            views = hook(app, state, views)
    return views


# -- routes ---------------------------------------------------------------------------------------
@router.get("/v1/whoami", responses=errors_doc(401))
async def whoami(who: AnyPrincipal) -> dict[str, Any]:
    """Who the bearer token belongs to (used by the officer page after sign-in)."""
    return {"kind": who.kind, "name": who.subject, "state": who.state}


@router.get("/v1/feeds/{state}/items", response_model=None, responses=errors_doc(
    400, 401, 403, 404, 422, 503, e400="after: a cursor beyond any possible one",
    e404="a path that names no endpoint (e.g. a state with '/')",
    e503="the delivery cannot be audited right now; retry after Retry-After seconds"))
async def items(request: Request, seat: OfficerOfState, after: Annotated[str | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    """One JSON page of the feed: items with cursor > ``after``, oldest first."""
    cursor = parse_cursor(after, "after")
    store: FeedStore = request.app.state.feed_store
    views = await in_thread(read_page, request.app, store, seat.state, cursor, limit)
    try:
        await deliver(request, views, seat.state, seat.who, session=f"page:{uuid.uuid4().hex[:12]}", via="json")
    except BrokerUnavailable as exc:
        raise ApiError(503, "audit: the hub cannot record the delivery right now; retry later",
                       RETRY_LATER) from exc
    nxt = views[-1]["cursor"] if views else cursor
    return _json({"state": seat.state, "items": views, "next_after": nxt})


@router.get("/v1/feeds/{state}", response_class=Response, responses=content_doc(
    "text/event-stream", "Server-Sent Events: `event: item`, `id` = cursor, `data` = the item") | errors_doc(
    400, 401, 403, 404, 422, e400="after / Last-Event-ID: a cursor beyond any possible one",
    e404="a path that names no endpoint (e.g. a state with '/')"))
async def stream(request: Request, seat: OfficerOfState, after: Annotated[str | None, Query()] = None,
                 last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    """Server-Sent Events: ``event: item``, ``id`` = cursor, ``data`` = the item (JSON).

    The stream re-checks its token while it is open (before every poll of the store, through the
    credential cache): a revoked token ends the stream within ``TOKEN_TTL_S`` + ``POLL_SECONDS``
    (2.25 s) with a last ``event: revoked``, and nothing stored after that is sent."""
    state, who = seat.state, seat.who
    cursor = parse_cursor(last_event_id, "Last-Event-ID") if last_event_id else parse_cursor(after, "after")
    session = uuid.uuid4().hex[:12]
    keepalive: float = request.app.state.feed_keepalive
    watch: FeedWatch = request.app.state.feed_watch
    auth = request.app.state.auth
    token = bearer(request.headers.get("authorization"))
    bound = log.bind(state=state, actor=who.label, session=session)
    debug = bound.is_enabled_for(logging.DEBUG)  # the per-page trace line (`hub bench --only sse`)

    async def still_valid() -> bool:
        now = await auth.principal(token)
        return now is not None and now.kind == who.kind and now.state == who.state

    async def events() -> AsyncIterator[bytes]:
        nonlocal cursor
        metrics.FEED_SUBSCRIBERS.labels(state).inc()
        bound.info("feed subscriber connected", after=cursor)
        last = time.monotonic()
        fresh = True  # read the store: at the start, after a full page, and when the watch saw new items
        try:
            yield f"retry: 2000\n: connected to the feed of {state}\n\n".encode()
            while not await request.is_disconnected():
                if not await still_valid():
                    bound.warning("feed token revoked: stream closed", cursor=cursor)
                    yield b'event: revoked\ndata: {"error":"authorization: your token was revoked"}\n\n'
                    return
                if fresh:
                    woke, asked = watch.heads.moved_at.get(state), time.time()
                    shared = await watch.page(request.app, state, cursor, 100)
                    if shared:
                        read = time.time()
                        await deliver(request, [x.view for x in shared], state, who, session, via="sse")
                        audited = time.time()
                        for x in shared:
                            yield x.event
                            cursor = x.view["cursor"]
                        # where the page's time went (`hub bench --only sse` reads these lines)
                        if debug:
                            bound.debug("feed page sent", first=shared[0].view["cursor"], last=cursor,
                                        woke_ms=clock.trace_ms(woke), read_start_ms=clock.trace_ms(asked),
                                        read_ms=clock.trace_ms(read), audited_ms=clock.trace_ms(audited),
                                        sent_ms=clock.trace_ms(time.time()))
                        last = time.monotonic()
                        continue
                if time.monotonic() - last >= keepalive:
                    yield b": keep-alive\n\n"
                    last = time.monotonic()
                fresh = await watch.wait(state, cursor, POLL_SECONDS)
        finally:
            metrics.FEED_SUBSCRIBERS.labels(state).dec()
            bound.info("feed subscriber disconnected", cursor=cursor)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


class Ack(BaseModel):
    report_id: str = Field(min_length=1, max_length=200)
    version: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                description="default: the newest version in the feed")


@router.post("/v1/feeds/{state}/ack", openapi_extra=json_body_doc(Ack, MAX_ACK_BYTES), responses=errors_doc(
    400, 401, 403, 404, 413, 422, 503, e400="malformed JSON",
    e404="this report (version) was never delivered to this state's feed",
    e503="the acknowledgement cannot be audited right now; try again"))
async def ack(request: Request, seat: OfficerOfState) -> dict[str, Any]:
    """Acknowledge a report version of this feed (audit ACKNOWLEDGED; measures time to acknowledge).

    Only a (report, version) delivered to this state's feed can be acknowledged (404 otherwise; without
    ``version``, the newest delivered one). The body (at most 4 KiB) is read only after the token was
    checked."""
    body: Ack = await read_json(request, MAX_ACK_BYTES, Ack)
    state, who = seat.state, seat.who
    store: FeedStore = request.app.state.feed_store
    row = await in_thread(delivered_version, store, state, body.report_id, body.version)
    if row is None:
        if body.version is None:
            raise ApiError(404, f"report_id: {body.report_id} is not in the feed of {state}")
        raise ApiError(404, f"version: {body.report_id} v{body.version} was never delivered to the feed of {state}")
    version = int(row["version"])
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

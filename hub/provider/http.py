"""Gateway part: the provider side (SPEC §13) — status, receipts, requests and answers.

For the reporting agency (its key or a desk user's token; auditors may read, never answer):

* ``GET /v1/reports/{report_id}`` — per version every stage outcome with its reason, the recipients
  with delivery kind, ``delivered_at``, ``acknowledged_at`` and by whom, time to acknowledge, and the
  requests about the report. Another agency's report and an unknown id get the same 404 (and an
  audited ACCESS_DENIED), so ids cannot be probed.
* ``GET /v1/agency/reports?source_ref=&version=`` — the same found by the agency's own reference
  (Kafka-native agencies do not learn the keyed id when they send); without ``source_ref`` the
  agency's most recent reports.
* ``GET /v1/agency/receipts?after=&limit=`` and ``GET /v1/agency/events`` (SSE, ``id`` = cursor,
  ``Last-Event-ID`` resumes) — the agency's stream of status changes.
* ``GET /v1/agency/requests?status=open|answered|all`` — the inbox; ``POST
  /v1/agency/requests/{id}/answer {decision, text, conditions?}`` — the one answer. A GRANT of a
  CONSENT_ONWARD request produces a ShareCommand to ``hub.intake`` (:mod:`hub.provider.share`).
* ``POST /v1/reports/check`` — a dry run of ``POST /v1/reports``: the same 403/409/422 answers
  (field errors in plain words) without accepting anything (the desk page's pre-send check).
* ``GET /v1/agency/me`` — the agency and desk user behind the token.

For officers (their own state's feed only):

* ``POST /v1/feeds/{state}/requests {report_id, kind, to_states?, text}`` — a report that is not in
  the state's feed answers 404 exactly like an unknown one, and is audited ACCESS_DENIED.
* ``GET /v1/feeds/{state}/requests`` and ``GET /v1/feeds/{state}/requests/events`` (SSE: the
  state's requests as they are asked and answered) — and every feed item (JSON page and SSE) carries
  ``requests``: the state's requests about it with their answers (a view hook of
  :mod:`hub.feeds.http`).

The open-request gauges are refreshed from the database every :data:`REFRESH_S` seconds.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from hub.directory.access import AgencyKey, OfficerOfState, principal_of
from hub.directory.auth import AGENCY, AUDITOR, Principal
from hub.directory.desk_users import DeskUsers, desk_label
from hub.domain.audit_events import audit_event
from hub.domain.report import report_id as keyed_report_id
from hub.feeds.http import parse_cursor
from hub.ingest import http as ingest
from hub.platform import clock, metrics
from hub.platform.db import Database
from hub.platform.http import (
    ApiError,
    bearer,
    content_doc,
    error_body,
    error_response,
    errors_doc,
    in_thread,
    read_body,
    read_json,
    trace_id,
    unavailable,
)
from hub.platform.http import json_response as _json
from hub.platform.kafka.producer import BrokerUnavailable
from hub.platform.keys import id_key
from hub.platform.tasks import cancel
from hub.projections import wake
from hub.provider import requests as rq
from hub.provider.share import share_command, share_record
from hub.provider.store import ReceiptStore, RequestStore

log = structlog.get_logger(__name__)
router = APIRouter(tags=["provider"])

MAX_LIMIT = 200
REFRESH_S = 15.0
POLL_S = 0.5
REQUEST_LOOKBACK_MS = 10_000  # request SSE: re-read this far back each poll (clock skew between gateways)
AGE_BANDS = ((3600, "lt_1h"), (24 * 3600, "1h_24h"), (72 * 3600, "1d_3d"), (float("inf"), "gt_3d"))

AgencyOrAuditor = Annotated[Principal, Depends(principal_of(AGENCY, AUDITOR, action="read a provider's status"))]


# -- resources -------------------------------------------------------------------------------------
async def startup(app: FastAPI) -> None:
    db: Database = app.state.db
    app.state.receipt_store = ReceiptStore(db)
    app.state.request_store = RequestStore(db)
    app.state.desk_users = DeskUsers(db, app.state.settings.states)
    app.state.feed_view_hooks = [*getattr(app.state, "feed_view_hooks", []), requests_on_items]
    app.state.provider_agencies_seen = set()
    app.state.provider_task = asyncio.create_task(_refresh_loop(app))
    # the provider projection's commits wake the agency event streams (hub.projections.wake)
    app.state.provider_changes = wake.Heads(db, wake.PROVIDER)
    app.state.provider_changes.start()


async def shutdown(app: FastAPI) -> None:
    await cancel(getattr(app.state, "provider_task", None))
    changes: wake.Heads | None = getattr(app.state, "provider_changes", None)
    if changes is not None:
        await changes.close()


def open_gauges(rows: list[dict[str, Any]], now_ms: int) -> tuple[dict[tuple[str, str], int], dict[str, float]]:
    """(open requests per (kind, age band), oldest open age per agency in seconds) — pure."""
    bands: dict[tuple[str, str], int] = {(k, b): 0 for k in rq.KINDS for _, b in AGE_BANDS}
    oldest: dict[str, float] = {}
    for r in rows:
        age = max(0.0, (now_ms - int(r["created_at"])) / 1000)
        band = next(b for limit, b in AGE_BANDS if age < limit)
        bands[(r["kind"], band)] = bands.get((r["kind"], band), 0) + 1
        oldest[r["agency"]] = max(oldest.get(r["agency"], 0.0), age)
    return bands, oldest


async def refresh_metrics(app: FastAPI) -> None:
    rows = await in_thread(app.state.request_store.open_requests)
    bands, oldest = open_gauges(rows, clock.now_ms())
    for (kind, band), n in bands.items():
        metrics.REQUESTS_OPEN.labels(kind, band).set(n)
    seen: set[str] = app.state.provider_agencies_seen
    seen |= set(oldest)
    for agency in seen:  # an agency whose last open request was answered goes back to 0
        metrics.REQUESTS_OLDEST_OPEN.labels(agency).set(oldest.get(agency, 0.0))


async def _refresh_loop(app: FastAPI) -> None:
    while True:
        try:
            await refresh_metrics(app)
        except Exception as exc:  # never let the loop die (the database may be away for a while)
            log.warning("provider metrics refresh failed", error=str(exc))
        await asyncio.sleep(REFRESH_S)


# -- helpers ---------------------------------------------------------------------------------------
def invalid(errors: list[Any]) -> Response:
    """422 naming every failing field: ``{"error": "field: problem; …", "errors": [{field, problem}]}``."""
    listed = [e.as_dict() for e in errors]
    return _json(error_body("; ".join(f"{e['field']}: {e['problem']}" if e["field"] else e["problem"]
                                      for e in listed), errors=listed), 422)


async def actor(request: Request, who: Principal) -> str:
    """The audit actor: ``desk:NAME@AGENCY`` for a desk user's token, else the principal's label."""
    if who.kind != AGENCY:
        return who.label
    name = await in_thread(request.app.state.desk_users.holder, bearer(request.headers.get("authorization")))
    return desk_label(name, who.subject) if name else who.label


def agency_of(who: Principal, agency: str | None) -> str:
    """Whose stream/inbox: the key's own agency, or (auditors) the ``agency`` asked for."""
    if who.kind == AGENCY:
        if agency and agency.upper() != who.subject:
            raise ApiError(403, f"agency: your key is for {who.subject}, not {agency.upper()}")
        return who.subject
    if not agency:
        raise ApiError(422, "agency: is required with an auditor token (?agency=CODE)")
    return agency.upper()


async def deny_quietly(request: Request, who: Principal, reason: str, state: str | None = None) -> None:
    """Audit ACCESS_DENIED for an answer that is a 404 to the caller (no existence oracle)."""
    await request.app.state.denials.deny(request, 404, actor=await actor(request, who), reason=reason, state=state)


def _check_id(value: str, field: str) -> str:
    if not value or len(value) > rq.MAX_REPORT_ID:
        raise ApiError(422, f"{field}: should have 1 to {rq.MAX_REPORT_ID} characters")
    return value


def _limit(value: int) -> int:
    return max(1, min(value, MAX_LIMIT))


# -- status ----------------------------------------------------------------------------------------
async def _status(request: Request, report_id: str) -> dict[str, Any] | None:
    st = await in_thread(request.app.state.receipt_store.status, report_id)
    if st is not None:
        st["requests"] = [rq.view(r) for r in await in_thread(request.app.state.request_store.about, report_id)]
    return st


@router.get("/v1/reports/{report_id}", response_model=None, responses=errors_doc(
    401, 403, 404, 422, e404="no report of this agency has this id (another agency's report answers the same)"))
async def report_status(request: Request, report_id: str, who: AgencyOrAuditor) -> Response:
    """What the hub did with one report: every version's stage outcomes, recipients, delivery and
    acknowledgement times, and the requests about it. Only its agency (and auditors) may read it."""
    _check_id(report_id, "report_id")
    st = await _status(request, report_id)
    if who.kind == AGENCY and (st is None or st["agency"] != who.subject):
        await deny_quietly(request, who, f"status of {report_id}: "
                           + ("no such report" if st is None else f"a report of {st['agency']}"))
        raise ApiError(404, f"report_id: no report of {who.subject} has this id (or the hub has not seen it yet)")
    if st is None:
        raise ApiError(404, "report_id: no report has this id (or the hub has not seen it yet)")
    return _json(st)


@router.get("/v1/agency/reports", response_model=None, responses=errors_doc(
    401, 403, 404, 422, e403="a token of another kind, or `agency` names another agency",
    e404="no report of this agency has this source_ref (or version)"))
async def agency_reports(request: Request, who: AgencyOrAuditor,
                         source_ref: Annotated[str | None, Query(max_length=128)] = None,
                         version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                         agency: Annotated[str | None, Query(max_length=40)] = None,
                         limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50) -> Response:
    """The agency's reports with their status, most recent activity first; with ``source_ref`` the one
    report of that reference (``version``: only that version)."""
    code = agency_of(who, agency)
    if source_ref is None:
        if version is not None:
            raise ApiError(422, "version: only with source_ref")
        reports = await in_thread(request.app.state.receipt_store.reports, code, _limit(limit))
        return _json({"agency": code, "reports": reports})
    rid = keyed_report_id(id_key(request.app.state.settings), code, source_ref.strip())
    st = await _status(request, rid)
    if st is None or st["agency"] != code:
        raise ApiError(404, f"source_ref: no report of {code} has this source_ref (or the hub has not seen it yet)")
    if version is not None:
        st["versions"] = [v for v in st["versions"] if v["version"] == version]
        if not st["versions"]:
            raise ApiError(404, f"version: the hub has not seen version {version} of {source_ref} (yet)")
    return _json({"agency": code, "reports": [st]})


@router.get("/v1/agency/receipts", response_model=None, responses=errors_doc(
    400, 401, 403, 422, e400="after: a cursor beyond any possible one",
    e403="a token of another kind, or `agency` names another agency"))
async def receipts(request: Request, who: AgencyOrAuditor, after: Annotated[str | None, Query()] = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                   agency: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    """One page of the agency's status changes with cursor > ``after``, oldest first."""
    code = agency_of(who, agency)
    cursor = parse_cursor(after, "after")
    changes = await in_thread(request.app.state.receipt_store.changes, code, cursor, limit)
    return _json({"agency": code, "changes": changes, "next_after": changes[-1]["cursor"] if changes else cursor})


def sse(kind: str, data: Any, ident: int | None = None) -> bytes:
    head = b"id: %d\n" % ident if ident is not None else b""
    return head + b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def sse_stream(request: Request, hello: str, poll: Callable[[], Awaitable[list[bytes]]], *,
               drain: bool, wait: Callable[[], Awaitable[Any]] | None = None) -> StreamingResponse:
    """Server-Sent Events until the client goes: ``hello`` (a comment) first, then the events ``poll()``
    returns, every :data:`POLL_S` (at once again after events, with ``drain``; as soon as ``wait()``
    returns when given: a pushed wake-up), and a keep-alive comment after ``app.state.feed_keepalive``
    seconds (default 15) without any."""
    keepalive: float = getattr(request.app.state, "feed_keepalive", 15.0)

    async def events() -> AsyncIterator[bytes]:
        yield f"retry: 2000\n: {hello}\n\n".encode()
        last = time.monotonic()
        while not await request.is_disconnected():
            out = await poll()
            for event in out:
                yield event
            if out:
                last = time.monotonic()
                if drain:
                    continue
            elif time.monotonic() - last >= keepalive:
                yield b": keep-alive\n\n"
                last = time.monotonic()
            if wait is not None:
                await wait()
            else:
                await asyncio.sleep(POLL_S)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/v1/agency/events", response_class=Response, responses=content_doc(
    "text/event-stream", "Server-Sent Events: `event: change`, `id` = cursor") | errors_doc(
    400, 401, 403, 422, e400="after / Last-Event-ID: a cursor beyond any possible one",
    e403="a token of another kind, or `agency` names another agency"))
async def agency_events(request: Request, who: AgencyOrAuditor, after: Annotated[str | None, Query()] = None,
                        agency: Annotated[str | None, Query(max_length=40)] = None,
                        last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    """Server-Sent Events of the agency's status changes: ``event: change``, ``id`` = cursor;
    ``Last-Event-ID`` (or ``?after=``) resumes right after it, no gap, no repeat."""
    code = agency_of(who, agency)
    cursor = parse_cursor(last_event_id, "Last-Event-ID") if last_event_id else parse_cursor(after, "after")
    store: ReceiptStore = request.app.state.receipt_store

    async def poll() -> list[bytes]:
        nonlocal cursor
        changes = await in_thread(store.changes, code, cursor, 100)
        if changes:
            cursor = changes[-1]["cursor"]
        return [sse("change", c, c["cursor"]) for c in changes]

    heads: wake.Heads = request.app.state.provider_changes
    return sse_stream(request, f"connected to the changes of {code}", poll, drain=True,
                      wait=lambda: heads.wait(code, cursor, POLL_S))


@router.get("/v1/agency/me", responses=errors_doc(401, 403))
async def me(request: Request, who: AgencyKey) -> dict[str, Any]:
    """The agency behind the token and, for a desk user's token, the person (used by the desk page)."""
    a = await in_thread(request.app.state.desk_users.directory.get, who.subject)
    name = await in_thread(request.app.state.desk_users.holder, bearer(request.headers.get("authorization")))
    return {"agency": who.subject, "state": who.state, "name": a.name if a else who.subject, "user": name,
            "label": desk_label(name, who.subject) if name else who.label}


# -- dry run ---------------------------------------------------------------------------------------
@router.post("/v1/reports/check", response_model=None, responses=errors_doc(
    400, 401, 403, 409, 413, 422, e400="malformed JSON, or a malformed X-Trace-Id header",
    e403="the key is not an agency key, or the body claims another agency/state",
    e409="stale version: a higher version was accepted and this one never was",
    e422="field errors: every failing field path with the problem in plain words (`errors`)"), openapi_extra={"requestBody": {"required": True, "content": {
    "application/json": {"schema": ingest.REPORT_SCHEMA}}}})
async def check_report(request: Request, who: AgencyKey) -> Response:
    """Check a report as ``POST /v1/reports`` would, without accepting it: 200 ``{ok, report_id,
    duplicate}``, or the same 400/403/409/413/422 answer (``{error, errors: [{field, problem}]}``)."""
    try:
        raw = await read_body(request, ingest.MAX_REPORT_BYTES)
    except ApiError as exc:
        return error_response(exc)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _json(error_body(f"malformed JSON: {exc}"), 400)
    o = ingest.check_item(body, who, request.app.state.settings, trace_id(request))
    keys = ingest.ledger_keys([o])
    if keys:
        ingest.apply_ledger([o], await in_thread(request.app.state.ingest.ledger.known, keys))
    if o.status == 202:
        return _json({"ok": True, "report_id": o.report_id, "duplicate": o.duplicate})
    return _json({"ok": False, **o.body()}, o.status)


# -- requests: the officer's side ------------------------------------------------------------------
def latest_item(db: Database, state: str, report_id: str) -> dict[str, Any] | None:
    """The newest version of ``report_id`` in ``state``'s feed (the feed store's row), or None."""
    row = db.one("SELECT version, item FROM feed_items WHERE recipient = ? AND report_id = ? "
                 "ORDER BY version DESC LIMIT 1", (state, report_id))
    return {"version": int(row["version"]), "item": json.loads(row["item"])} if row else None


@router.post("/v1/feeds/{state}/requests", status_code=201, response_model=None, responses=errors_doc(
    400, 401, 403, 404, 409, 413, 422, 429, 503, e400="malformed JSON",
    e404="no report with this id is in the state's feed", e409="an open request of this kind exists (`request_id`)",
    e429="this agency has too many unanswered requests", e503="the request cannot be audited right now"),
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "required": ["report_id", "kind", "text"], "properties": {
                     "report_id": {"type": "string", "maxLength": rq.MAX_REPORT_ID},
                     "kind": {"type": "string", "enum": list(rq.KINDS)},
                     "to_states": {"type": "array", "maxItems": rq.MAX_TO_STATES, "items": {"type": "string"}},
                     "text": {"type": "string", "maxLength": rq.MAX_TEXT}}}}}}})
async def ask(request: Request, seat: OfficerOfState) -> Response:
    """Ask the providing agency of a report in this feed for consent (court use, onward dissemination to
    named states) or information. 404 (audited) for a report this state never received."""
    try:
        asked = rq.check_request_shape(await read_json(request, rq.MAX_BODY_BYTES))
    except rq.RequestInvalid as exc:
        return invalid(exc.errors)
    found = await in_thread(latest_item, request.app.state.db, seat.state, asked.report_id)
    if found is None:
        await request.app.state.denials.deny(
            request, 404, actor=seat.who.label, state=seat.state,
            reason=f"request on {asked.report_id}, which is not in the feed of {seat.state}")
        raise ApiError(404, f"report_id: no report with this id is in the feed of {seat.state}")
    item = found["item"]
    try:
        rq.check_request_for_item(asked, settings=request.app.state.settings, requester_state=seat.state, item=item)
    except rq.RequestInvalid as exc:
        return invalid(exc.errors)
    store: RequestStore = request.app.state.request_store
    agency = item["report"]["agency"]
    try:
        row = await in_thread(lambda: store.create(asked, version=found["version"], agency=agency,
                                                   requester=seat.who.label, requester_state=seat.state))
    except rq.AlreadyOpen as exc:
        return _json(error_body(f"report_id: {exc}", request_id=exc.request_id), 409)
    except rq.TooManyOpen as exc:
        raise ApiError(429, f"requests: {exc}") from exc
    ev = audit_event(rq.REQUEST_STAGE[asked.kind], report_id=asked.report_id, version=found["version"], agency=agency,
                     state=seat.state, actor=seat.who.label, recipients=asked.to_states,
                     trace_id=item["report"].get("trace_id"), occurred_at=row["created_at"], unique=row["request_id"],
                     detail={"request_id": row["request_id"], "kind": asked.kind, "text": asked.text})
    try:
        await request.app.state.audit.emit([ev])
    except BrokerUnavailable as exc:
        await in_thread(store.forget, row["request_id"])
        return unavailable(exc)
    metrics.REQUESTS_ASKED.labels(asked.kind, seat.state).inc()
    log.info("request asked", request_id=row["request_id"], report_id=asked.report_id, kind=asked.kind,
             state=seat.state, actor=seat.who.label, agency=agency)
    return _json(rq.view(row), 201)


@router.get("/v1/feeds/{state}/requests", response_model=None, responses=errors_doc(
    401, 403, 404, 422, e404="a path that names no endpoint (e.g. a state with '/')"))
async def state_requests(request: Request, seat: OfficerOfState,
                         report_id: Annotated[str | None, Query(max_length=rq.MAX_REPORT_ID)] = None) -> Response:
    """The requests this state's officers asked (newest first), or those about one report."""
    store: RequestStore = request.app.state.request_store
    rows = await in_thread(store.of_state, seat.state, [report_id] if report_id else None)
    return _json({"state": seat.state, "requests": [rq.view(r) for r in rows]})


@router.get("/v1/feeds/{state}/requests/events", response_class=Response, responses=content_doc(
    "text/event-stream", "Server-Sent Events: `event: request`, the newest view of each request") | errors_doc(
    401, 403, 404, 422, e404="a path that names no endpoint (e.g. a state with '/')"))
async def state_request_events(request: Request, seat: OfficerOfState) -> StreamingResponse:
    """Server-Sent Events (``event: request``) of this state's requests: every one at connect, then each
    as it is asked or answered. Not cursor-based: clients keep the newest view per request_id."""
    store: RequestStore = request.app.state.request_store
    sent: dict[str, str] = {}  # request_id -> the status last sent
    since = 0

    async def poll() -> list[bytes]:
        nonlocal since
        rows = await in_thread(store.changed_since, seat.state, max(0, since - REQUEST_LOOKBACK_MS))
        fresh = [r for r in rows if sent.get(r["request_id"]) != r["status"]]
        for r in fresh:
            sent[r["request_id"]] = r["status"]
            since = max(since, int(r["updated_at"]))
        return [sse("request", rq.view(r)) for r in fresh]

    return sse_stream(request, f"connected to the requests of {seat.state}", poll, drain=False)


def requests_on_items(app: FastAPI, state: str, views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Feed view hook: each item carries this state's requests about its report (with their answers).
    Blocking: called in the thread that read the page (:func:`hub.feeds.http.read_page`)."""
    if not views:
        return views
    rows = app.state.request_store.of_state(state, [v["report_id"] for v in views])
    by_report: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_report.setdefault(r["report_id"], []).append(rq.view(r))
    for v in views:
        v["requests"] = by_report.get(v["report_id"], [])
    return views


# -- requests: the agency's side -------------------------------------------------------------------
@router.get("/v1/agency/requests", response_model=None, responses=errors_doc(
    401, 403, 422, e403="a token of another kind, or `agency` names another agency"))
async def inbox(request: Request, who: AgencyOrAuditor,
                status: Annotated[str, Query(pattern="^(open|answered|all)$")] = "all",
                agency: Annotated[str | None, Query(max_length=40)] = None,
                limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100) -> Response:
    """The agency's request inbox: open requests first, then answered ones, newest first."""
    code = agency_of(who, agency)
    wanted = {"open": rq.OPEN, "answered": "ANSWERED", "all": None}[status]
    rows = await in_thread(request.app.state.request_store.inbox, code, wanted, limit)
    return _json({"agency": code, "requests": [rq.view(r) for r in rows]})


@router.post("/v1/agency/requests/{request_id}/answer", response_model=None, responses=errors_doc(
    400, 401, 403, 404, 409, 413, 422, 503, e400="malformed JSON", e404="no request to this agency has this id",
    e409="already answered, or the report is not routed yet", e503="the answer cannot be sent or audited right now"),
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "required": ["decision", "text"], "properties": {
                     "decision": {"type": "string", "enum": ["GRANT", "REFUSE", "ANSWER"]},
                     "text": {"type": "string", "maxLength": rq.MAX_TEXT},
                     "conditions": {"type": "string", "maxLength": rq.MAX_CONDITIONS}}}}}}})
async def answer(request: Request, request_id: str,
                 who: Annotated[Principal, Depends(principal_of(AGENCY, action="answer requests"))]) -> Response:
    """Answer a request once. GRANT of a CONSENT_ONWARD request shares the report with the named states
    (a ShareCommand on hub.intake; the pipeline delivers SHARED copies with provenance)."""
    _check_id(request_id, "request_id")
    body = await read_json(request, rq.MAX_BODY_BYTES)
    store: RequestStore = request.app.state.request_store
    row = await in_thread(store.get, request_id)
    if row is None or row["agency"] != who.subject:
        await deny_quietly(request, who, f"answer to {request_id}: "
                           + ("no such request" if row is None else f"a request to {row['agency']}"))
        raise ApiError(404, f"request_id: no request to {who.subject} has this id")
    try:
        ans = rq.check_answer(body, row["kind"])
    except rq.RequestInvalid as exc:
        return invalid(exc.errors)
    if row["status"] != rq.OPEN:
        raise ApiError(409, f"request_id: {request_id} was already answered ({row['status']} by {row['answered_by']})")
    by = await actor(request, who)
    share_body = None
    if row["kind"] == "CONSENT_ONWARD" and ans.decision == "GRANT":
        share_body = await in_thread(request.app.state.receipt_store.report_body, row["report_id"], int(row["version"]))
        if share_body is None:
            raise ApiError(409, f"report_id: the hub has no receipt of version {row['version']} yet (it has not "
                                "finished routing it); try again in a moment")
    try:
        done = await in_thread(lambda: store.answer(request_id, ans, by=by))
    except rq.AlreadyAnswered as exc:
        raise ApiError(409, f"request_id: {exc}") from exc
    try:
        if share_body is not None:
            await request.app.state.producer.send([share_record(share_command(done, share_body))])
            metrics.SHARES_SENT.inc()
        detail = {"request_id": request_id, "kind": row["kind"], "decision": ans.decision, "text": ans.text}
        if ans.conditions:
            detail["conditions"] = ans.conditions
        ev = audit_event(rq.answer_stage(row["kind"], ans.decision), report_id=row["report_id"],
                         version=int(row["version"]), agency=row["agency"], state=row["requester_state"], actor=by,
                         recipients=[s for s in row["to_states"].split(",") if s], occurred_at=done["answered_at"],
                         unique=request_id, detail=detail)
        await request.app.state.audit.emit([ev])
    except BrokerUnavailable as exc:  # undo: the request is open again, the answer can be sent again
        await in_thread(store.reopen, request_id)
        return unavailable(exc)
    metrics.REQUESTS_ANSWERED.labels(row["kind"], ans.decision).inc()
    metrics.REQUEST_ANSWER_SECONDS.labels(row["kind"]).observe(
        max(0.0, (int(done["answered_at"]) - int(row["created_at"])) / 1000))
    log.info("request answered", request_id=request_id, report_id=row["report_id"], decision=ans.decision,
             actor=by, shared_with=row["to_states"] if share_body is not None else None)
    out = rq.view(done)
    if share_body is not None:
        out["share"] = {"to_states": out["to_states"], "sent": True}
    return _json(out)

"""Gateway part: REST ingest for agency connectors (SPEC §7).

``POST /v1/reports`` (one JSON report) and ``POST /v1/reports/batch`` (JSON array or NDJSON,
at most 1000). The reporter's identity comes from the bearer agency key. Each accepted report is
produced as Avro to ``hub.intake`` (key ``agency:source_ref``, headers ``trace_id`` and
``idempotency_key``) and answered 202 only after the broker acknowledged it (acks=all). The
idempotency ledger (table ``ingest_ledger``) is written *after* the acknowledgement, so a crash in
between means at most a resend that the pipeline deduplicates again (the table and its queries:
:mod:`hub.ingest.store`).

The decisions are pure functions (:func:`ledger_decision`, :func:`parse_batch`); the handlers are
the shell around them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from hub.audit.emit import Audit
from hub.directory.access import authenticate
from hub.directory.auth import AGENCY, Principal
from hub.domain.audit_events import audit_event
from hub.domain.codec import REPORT
from hub.domain.jsonschema import overlay, record_schema
from hub.domain.report import (
    KINDS,
    MAX_NARRATIVE,
    MAX_SOURCE_REF,
    AgencyMismatch,
    FieldError,
    ReportInvalid,
    from_json,
)
from hub.domain.report import report_id as make_report_id
from hub.domain.wire import intake_record
from hub.ingest.store import Ledger, LedgerKey, LedgerOp
from hub.platform import metrics
from hub.platform.http import (
    ApiError,
    FieldProblem,
    GroupCommit,
    PlainRoute,
    error_body,
    error_response,
    errors_doc,
    json_response,
    read_body,
    request_id,
    trace_id,
    unavailable,
)
from hub.platform.kafka.producer import BrokerUnavailable, Producer
from hub.platform.keys import id_key
from hub.platform.settings import Settings

log = structlog.get_logger(__name__)

MAX_REPORT_BYTES = 512 * 1024  # one report (narrative ≤ 20 000 chars leaves plenty of room)
MAX_BATCH_BYTES = 32 * 1024 * 1024
MAX_BATCH_ITEMS = 1000
HUB_ASSIGNED = ("report_id", "agency", "reporter_state", "received_at")  # Report fields no body sends

# each endpoint is declared once, below: PlainRoute serves it straight (no dependency solver) and the
# OpenAPI document comes from the same declaration
router = APIRouter(tags=["ingest"], route_class=PlainRoute)

# --------------------------------------------------------------------------- OpenAPI documentation

# fields, nesting, enums and required fields from schemas/ (the Avro Report, less what the hub assigns);
# what only the JSON form has laid over it
REPORT_SCHEMA: dict[str, Any] = overlay(record_schema(REPORT, leave_out=HUB_ASSIGNED), {
    "title": "Report",
    "description": "An ALERT or SEIZURE report (SPEC §3). The agency and its state come from the key; "
                   "a body naming another agency (`agency`, `reporter_state`) is rejected with 403.",
    "properties": {
        "source_ref": {"maxLength": MAX_SOURCE_REF,
                       "description": "the agency's own reference; with the agency and version the idempotency key"},
        "version": {"minimum": 1, "description": "a higher version is an update of the same report"},
        "event_time": {"description": "RFC 3339, ≤ 1 h in the future"},
        "addressees": {"description": "member/partner states or CARICC"},
        "conveyance": {"properties": {
            "container_numbers": {"description": "ISO 6346, any formatting; the check digit must be right"}}},
        "goods": {"properties": {"hs_code": {"description": "6-10 digits"}}},
        "substances": {"description": "a SEIZURE needs at least one",
                       "items": {"properties": {"quantity": {"exclusiveMinimum": 0}}}},
        "risk_indicators": {"description": "an ALERT needs at least one"},
        "narrative": {"maxLength": MAX_NARRATIVE},
        "handling_note": {"description": "required with H3"},
        "evaluation": {"properties": {"information": {"minimum": 1, "maximum": 4}}},
        "trace_id": {"description": "optional; generated when absent"},
    },
    "example": {
        "kind": "SEIZURE", "source_ref": "KZ-CUS-2026-00042", "version": 1,
        "event_time": "2026-03-01T10:00:00Z", "tlp": "AMBER",
        "location": {"country": "KZ", "place": "Khorgos", "unlocode": "KZKHG"},
        "route": [{"country": "AF"}, {"country": "TJ"}, {"country": "KZ"}, {"country": "RU"}],
        "conveyance": {"mode": "ROAD", "container_numbers": ["CSQU 305438-3"], "vehicle_plate": "01 A 123 BC"},
        "substances": [{"type": "HEROIN", "quantity": 12.5, "unit": "KG", "concealment": "CARGO"}],
    },
})

ERRORS_DOC = errors_doc(
    400, 401, 403, 413, 503,
    e400="malformed JSON, or a malformed X-Trace-Id header",
    e403="the key is not an agency key, or the body claims another agency/state",
    e413="body too large (or a batch of more than 1000 reports)",
    e503="the broker is unreachable: nothing was accepted; retry after Retry-After seconds")


class Accepted(BaseModel):
    """202 of ``POST /v1/reports``: the report is on ``hub.intake`` (or was already: ``duplicate``)."""

    report_id: str
    duplicate: bool
    trace_id: str


class ItemResult(BaseModel):
    """One item of a batch: its ``index`` and the ``status`` it would have had alone; a 202 item
    carries ``report_id``, ``duplicate`` and ``trace_id``, a refused one the fields of the error body
    (``error``, ``detail``, ``errors``; ``report_id`` when its ``source_ref`` was readable)."""

    index: int
    status: int
    report_id: str | SkipJsonSchema[None] = None
    duplicate: bool | SkipJsonSchema[None] = None
    trace_id: str | SkipJsonSchema[None] = None
    error: str | SkipJsonSchema[None] = None
    detail: str | SkipJsonSchema[None] = None
    errors: list[FieldProblem] | SkipJsonSchema[None] = None


class BatchAccepted(BaseModel):
    """202 of ``POST /v1/reports/batch``: per-item results, good items accepted even when others fail."""

    accepted: int
    duplicates: int
    rejected: int
    results: list[ItemResult] = Field(description="one per item, in order")

# --------------------------------------------------------------------------- pure core


@dataclass
class Outcome:
    """What happens to one report: accepted (to produce), duplicate, or an error."""

    status: int
    report_id: str | None = None
    duplicate: bool = False
    error: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    reason: str | None = None  # metrics/audit reason class
    report: dict[str, Any] | None = None
    trace_id: str | None = None
    kind: str = "UNKNOWN"  # metrics label (a valid kind, else UNKNOWN)

    def body(self) -> dict[str, Any]:
        if self.status == 202:
            return {"report_id": self.report_id, "duplicate": self.duplicate, "trace_id": self.trace_id}
        return error_body(self.error or "", errors=self.errors or None, report_id=self.report_id or None)


def ledger_decision(version: int, known_versions: set[int]) -> str:
    """``duplicate`` (this version was accepted), ``stale`` (a higher one was, this one never) or ``new``."""
    if version in known_versions:
        return "duplicate"
    if known_versions and max(known_versions) > version:
        return "stale"
    return "new"


def parse_batch(raw: bytes) -> list[Any]:
    """A batch body: a JSON array, or NDJSON (one JSON value per non-blank line).

    Raises ValueError naming the line for malformed NDJSON.
    """
    text = raw.strip()
    if text.startswith(b"["):
        value = orjson.loads(text)
        if not isinstance(value, list):
            raise ValueError("a batch should be a JSON array or NDJSON")
        return value
    items = []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"line {n}: malformed JSON ({exc})") from exc
    return items


def check_item(body: Any, principal: Principal, settings: Settings, trace_id: str) -> Outcome:
    """Validate one JSON report for the authenticated agency (no I/O)."""
    kind = body.get("kind") if isinstance(body, dict) else None
    kind = kind if kind in KINDS else "UNKNOWN"
    try:
        report = from_json(body, agency=principal.subject, state=principal.state or "", settings=settings,
                           trace_id=trace_id, id_key=id_key(settings), utf8_checked=True)  # orjson-parsed
    except AgencyMismatch as exc:
        return Outcome(403, error=str(exc), reason="spoofed", trace_id=trace_id, kind=kind)
    except ReportInvalid as exc:
        rid = None
        if isinstance(body, dict) and isinstance(body.get("source_ref"), str) and body["source_ref"].strip():
            rid = make_report_id(id_key(settings), principal.subject, body["source_ref"].strip())
        return Outcome(422, report_id=rid, error=f"the report has {len(exc.errors)} invalid field(s): {exc}",
                       errors=[e.as_dict() for e in exc.errors], reason="invalid", trace_id=trace_id, kind=kind)
    return Outcome(202, report_id=report["report_id"], report=report, trace_id=report["trace_id"], kind=report["kind"])


# --------------------------------------------------------------------------- shell


def ledger_keys(outcomes: list[Outcome]) -> set[LedgerKey]:
    return {(o.report["agency"], o.report["source_ref"]) for o in outcomes if o.status == 202 and o.report}


def apply_ledger(outcomes: list[Outcome], known: dict[LedgerKey, dict[int, str]]) -> None:
    """Turn accepted outcomes into duplicates or stale rejections (also within one batch). Pure:
    ``known`` holds the accepted versions of every key (from :meth:`Ledger.known`)."""
    seen = {k: dict(v) for k, v in known.items()}
    for o in outcomes:
        if o.status != 202 or o.report is None:
            continue
        r = o.report
        k = (r["agency"], r["source_ref"])
        versions = seen.setdefault(k, {})
        decision = ledger_decision(r["version"], set(versions))
        if decision == "duplicate":
            o.duplicate, o.report = True, None
        elif decision == "stale":
            o.status, o.reason, o.report = 409, "stale", None
            o.error = (f"stale version {r['version']} of {r['source_ref']}: version {max(versions)} was already "
                       "accepted and this version never was")
        else:
            versions[r["version"]] = r["report_id"]


def audit_events(principal: Principal, outcomes: list[Outcome], request_id: str) -> list[dict[str, Any]]:
    """RECEIVED for each newly accepted report, REJECTED for each refused one (pure). The unique part of a
    REJECTED event id is the server's request id and the item's index, never anything the client sent."""
    events = []
    for i, o in enumerate(outcomes):
        if o.status == 202 and not o.duplicate and o.report is not None:
            r = o.report
            events.append(audit_event("RECEIVED", report_id=r["report_id"], version=r["version"],
                                      agency=principal.subject, state=principal.state, actor=principal.label,
                                      trace_id=r["trace_id"], detail={"source_ref": r["source_ref"]}))
        elif o.status != 202:
            events.append(audit_event("REJECTED", report_id=o.report_id, agency=principal.subject,
                                      state=principal.state, actor=principal.label, reason=o.reason,
                                      trace_id=o.trace_id, detail={"status": o.status, "error": (o.error or "")[:500]},
                                      unique=f"{request_id}:{i}"))
    return events


class Ingest:
    """Per-app state of the ingest part: settings, the ledger, and the shared producer and audit emitter."""

    def __init__(self, app: Any) -> None:
        self.settings: Settings = app.state.settings
        self.ledger = Ledger(app.state.db)
        self.ledger_calls: GroupCommit[LedgerOp, Any] = GroupCommit(self.ledger.apply, "ledger")
        self.producer: Producer = app.state.producer
        self.audit_emitter: Audit = app.state.audit

    async def settle(self, outcomes: list[Outcome]) -> None:
        """Ledger decisions, then produce every accepted report (raises BrokerUnavailable), then record them."""
        keys = ledger_keys(outcomes)
        if keys:
            apply_ledger(outcomes, await self.ledger_calls.call(("known", keys)))
        todo = [o.report for o in outcomes if o.status == 202 and o.report is not None]
        if not todo:
            return
        await self.producer.send([intake_record(r) for r in todo])
        await self.ledger_calls.call(("record", todo))

    async def audit(self, principal: Principal, outcomes: list[Outcome], request_id: str) -> None:
        # the reports are safe on the broker; an audit gap is logged loudly (required=False)
        await self.audit_emitter.emit(audit_events(principal, outcomes, request_id), required=False)

    def close(self) -> None:
        self.ledger_calls.close()


def _error(status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    return json_response(error_body(message, **extra), status, headers)


def _ingest(request: Request) -> Ingest:
    return request.app.state.ingest


def _count(outcomes: list[Outcome], principal: Principal) -> None:
    for o in outcomes:
        kind = o.kind
        if o.status == 202:
            if not o.duplicate:
                metrics.child(metrics.REPORTS_RECEIVED, kind, principal.subject).inc()
            else:
                metrics.child(metrics.REPORTS_DUPLICATE, kind, principal.subject).inc()
        else:
            metrics.child(metrics.REPORTS_REJECTED, kind, principal.subject, o.reason or "error").inc()


def _observe(route: str, status: int, started: float) -> None:
    metrics.child(metrics.HTTP_REQUESTS, route, "POST", str(status)).inc()
    metrics.child(metrics.HTTP_SECONDS, route).observe(time.perf_counter() - started)


async def _agency(request: Request) -> tuple[Principal, str] | Response:
    """Authenticate (agency key), then validate X-Trace-Id: (principal, trace id) or the answer."""
    try:
        principal = await authenticate(request, AGENCY, action="publish reports")
    except ApiError as exc:
        return error_response(exc)
    try:
        return principal, trace_id(request)
    except ApiError as exc:
        o = Outcome(400, error=exc.message, reason="bad_trace_id")
        _count([o], principal)
        await _ingest(request).audit(principal, [o], request_id(request))
        return error_response(exc)


@router.post("/v1/reports", status_code=202, responses=ERRORS_DOC | errors_doc(
    409, 422, e409="stale version: a higher version was accepted and this one never was",
    e422="field errors: every failing field path with the problem in plain words (`errors`)") | {
    202: {"model": Accepted, "description": "accepted (on hub.intake), or already accepted (`duplicate`)"}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": REPORT_SCHEMA}}}})
async def post_report(request: Request) -> Response:
    """Publish one report. Idempotent on (agency, source_ref, version): resubmitting answers the original
    `report_id` with `duplicate: true`."""
    started = time.perf_counter()
    resp = await _post_report(request)
    _observe("/v1/reports", resp.status_code, started)
    return resp


async def _post_report(request: Request) -> Response:
    ing = _ingest(request)
    who = await _agency(request)
    if isinstance(who, Response):
        return who
    principal, trace = who
    try:
        raw = await read_body(request, MAX_REPORT_BYTES)
    except ApiError as exc:
        o = Outcome(413, error="body too large", reason="too_large", trace_id=trace)
        _count([o], principal)
        await ing.audit(principal, [o], request_id(request))
        return error_response(exc)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        o = Outcome(400, error=f"malformed JSON: {exc}", reason="malformed", trace_id=trace)
        _count([o], principal)
        await ing.audit(principal, [o], request_id(request))
        return _error(400, o.error or "")
    o = check_item(body, principal, ing.settings, trace)
    try:
        await ing.settle([o])
    except BrokerUnavailable as exc:
        return unavailable(exc)
    _count([o], principal)
    if o.status == 202:
        await ing.audit(principal, [o], "")
        log.debug("report answered", status=o.status, duplicate=o.duplicate, report_id=o.report_id,
                  trace_id=o.trace_id, agency=principal.subject)
    else:
        await ing.audit(principal, [o], request_id(request))
        log.info("report refused", status=o.status, reason=o.reason, report_id=o.report_id, trace_id=o.trace_id,
                 agency=principal.subject)
    return json_response(o.body(), o.status)


@router.post("/v1/reports/batch", status_code=202, responses=ERRORS_DOC | errors_doc(
    422, e422="the batch is empty") | {
    202: {"model": BatchAccepted, "description": "per-item results (each with the status it would have had alone)"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "maxItems": MAX_BATCH_ITEMS, "items": REPORT_SCHEMA}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one report per line"}}}}})
async def post_batch(request: Request) -> Response:
    """Publish up to 1000 reports (JSON array or NDJSON). Each item gets its own result with the status it
    would have had alone (202, 403, 409, 422); good items are accepted even when others fail."""
    started = time.perf_counter()
    resp = await _post_batch(request)
    _observe("/v1/reports/batch", resp.status_code, started)
    return resp


async def _post_batch(request: Request) -> Response:
    ing = _ingest(request)
    who = await _agency(request)
    if isinstance(who, Response):
        return who
    principal, base = who

    async def whole_batch_rejected(status: int, reason: str, message: str) -> Response:
        o = Outcome(status, error=message, reason=reason, trace_id=base)
        _count([o], principal)
        await ing.audit(principal, [o], request_id(request))
        return _error(status, message)

    try:
        raw = await read_body(request, MAX_BATCH_BYTES)
    except ApiError as exc:
        await whole_batch_rejected(413, "too_large", "batch body too large")
        return error_response(exc)
    try:
        items = parse_batch(raw)
    except (ValueError, orjson.JSONDecodeError) as exc:
        return await whole_batch_rejected(400, "malformed", f"malformed batch: {exc}")
    if len(items) > MAX_BATCH_ITEMS:
        return await whole_batch_rejected(
            413, "too_large", f"a batch may hold at most {MAX_BATCH_ITEMS} reports, this one has {len(items)}")
    if not items:
        return _error(422, "the batch is empty", errors=[FieldError("", "at least one report is required").as_dict()])
    outcomes = [check_item(body, principal, ing.settings, f"{base}-{i}") for i, body in enumerate(items)]
    try:
        await ing.settle(outcomes)
    except BrokerUnavailable as exc:
        return unavailable(exc)
    _count(outcomes, principal)
    await ing.audit(principal, outcomes, request_id(request))
    for o in outcomes:
        log.debug("batch item answered", agency=principal.subject, report_id=o.report_id, trace_id=o.trace_id,
                  status=o.status, duplicate=o.duplicate, reason=o.reason)
    results = [{"index": i, "status": o.status, **o.body()} for i, o in enumerate(outcomes)]
    accepted = sum(1 for o in outcomes if o.status == 202 and not o.duplicate)
    dups = sum(1 for o in outcomes if o.duplicate)
    log.info("batch answered", agency=principal.subject, items=len(items), accepted=accepted, duplicates=dups)
    return json_response({"accepted": accepted, "duplicates": dups, "rejected": len(outcomes) - accepted - dups,
                          "results": results}, 202)


async def startup(app: FastAPI) -> None:
    app.state.ingest = Ingest(app)
    try:
        await app.state.producer.started()  # creates the topics (the broker may have restarted empty) and connects
        log.info("ingest ready", bootstrap=app.state.settings.bootstrap)
    except BrokerUnavailable as exc:
        log.warning("broker not reachable at startup; requests answer 503 until it is", error=str(exc))


async def shutdown(app: FastAPI) -> None:
    ing: Ingest | None = getattr(app.state, "ingest", None)
    if ing is not None:
        ing.close()

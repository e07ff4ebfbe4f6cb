"""Gateway part: the analyst workspace (SPEC §14) — incidents, search, statistics, exports.

Every endpoint is for the officer of the path's ``{state}`` (another token: 403 + ACCESS_DENIED)
and answers from that state's own documents only (:mod:`hub.analyst.store`): what it received and
what its agencies sent. Received reports shown in a search result or an incident are audited
DELIVERED (same event id as through the feed, so the audit store keeps one); every exported report
is audited EXPORTED before its rows leave the gateway.

* ``GET /v1/feeds/{state}/incidents?after=&limit=`` — incidents, most recently changed first
* ``GET /v1/feeds/{state}/incidents/{incident_id}`` — one incident (its id or its label)
* ``GET /v1/feeds/{state}/reports/{report_id}`` — one report this state holds
* ``GET /v1/feeds/{state}/search?q=&kind=&tlp=&direction=&from=&to=&unacknowledged=&limit=&cursor=``
* ``GET /v1/feeds/{state}/stats?by=substance|month|crossing_point|route_country|agency&from=&to=`` (and the
  search's filters)
* ``GET /v1/feeds/{state}/export.geojson`` · ``export.csv`` · ``export.i2.csv`` (the filters of search,
  ``q`` (all its result pages) and ``incident``: what the screen shows)
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from hub.analyst import exports
from hub.analyst.extract import DIMENSIONS, RECEIVED
from hub.analyst.store import Ambiguous, AnalystStore, BadRequest, Filters
from hub.analyst.text import fold
from hub.directory.access import OfficerOfState, StateOfficer
from hub.domain.audit_events import audit_event
from hub.domain.report import KINDS, SUBSTANCE_TYPES, TLPS
from hub.feeds.http import deliver
from hub.platform import clock
from hub.platform.http import RETRY_LATER, ApiError, content_doc, errors_doc, in_thread, request_id
from hub.platform.http import json_response as _json
from hub.platform.kafka.producer import BrokerUnavailable

log = structlog.get_logger(__name__)
router = APIRouter(tags=["analyst"])
EXPORT_BATCH = 500
NO_ENDPOINT = "a path that names no endpoint (e.g. a state with '/')"
NOT_AUDITED = "what would be shown cannot be audited right now; retry after Retry-After seconds"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SLUG = re.compile(r"[^a-z0-9]+")


async def startup(app: FastAPI) -> None:
    app.state.analyst = AnalystStore(app.state.db)


def _store(request: Request) -> AnalystStore:
    return request.app.state.analyst


# -- parameters -------------------------------------------------------------------------------------
def _time(value: str | None, field: str, end: bool) -> int | None:
    """Epoch ms of ``from``/``to``: an RFC 3339 time, or a date (``to`` a date includes that day)."""
    if not value:
        return None
    try:
        if _DATE.match(value):
            day = datetime.fromisoformat(value).replace(tzinfo=UTC)
            return int(((day + timedelta(days=1)) if end else day).timestamp() * 1000)
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, f"{field}: {value!r} is not a date (YYYY-MM-DD) or an RFC 3339 time") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def _choices(value: str | None, field: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        return ()
    out = tuple(v.strip().upper() for v in value.split(",") if v.strip())
    bad = [v for v in out if v not in allowed]
    if bad:
        raise ApiError(422, f"{field}: {', '.join(bad)} is not one of {', '.join(allowed)}")
    return out


def _countries(value: str | None) -> tuple[str, ...]:
    out = tuple(v.strip().upper() for v in (value or "").split(",") if v.strip())
    bad = [v for v in out if not _COUNTRY.match(v)]
    if bad:
        raise ApiError(422, f"country: {', '.join(bad)} is not a two-letter country code")
    return out


def filters(kind: str | None, tlp: str | None, direction: str | None, from_: str | None, to: str | None,
            unacknowledged: bool, incident: str | None = None, substance: str | None = None,
            country: str | None = None) -> Filters:
    directions = tuple(d.lower() for d in _choices(direction, "direction", ("RECEIVED", "SENT")))
    lo, hi = _time(from_, "from", end=False), _time(to, "to", end=True)
    if lo is not None and hi is not None and lo >= hi:
        raise ApiError(422, "to: must be after from")
    return Filters(kinds=_choices(kind, "kind", KINDS), tlps=_choices(tlp, "tlp", TLPS), directions=directions,
                   from_ms=lo, to_ms=hi, unacknowledged=unacknowledged, incident_id=incident,
                   substances=_choices(substance, "substance", SUBSTANCE_TYPES), countries=_countries(country))


Kind = Annotated[str | None, Query(description="ALERT, SEIZURE (comma list)")]
Tlp = Annotated[str | None, Query(description="TLP levels (comma list)")]
Direction = Annotated[str | None, Query(description="received, sent (default both)")]
From = Annotated[str | None, Query(alias="from", description="event time ≥ (date or RFC 3339)")]
To = Annotated[str | None, Query(description="event time < (RFC 3339), or up to the end of this date")]
Unacked = Annotated[bool, Query(description="only received reports no officer of this state acknowledged")]
Substance = Annotated[str | None, Query(description="substance types (comma list): reports holding one of them")]
Country = Annotated[str | None, Query(max_length=100, description="country codes (comma list): reported by, "
                                      "located in or routed through one of them")]


async def _delivered(request: Request, seat: StateOfficer, views: list[dict[str, Any]], via: str) -> None:
    """DELIVERED for the received reports shown (before they are shown)."""
    shown = [v for v in views if v.get("direction", RECEIVED) == RECEIVED and v.get("cursor") is not None]
    try:
        await deliver(request, shown, seat.state, seat.who, session=f"{via}:{request_id(request)}", via=via)
    except BrokerUnavailable as exc:
        raise ApiError(503, "audit: the hub cannot record the delivery right now; retry later",
                       RETRY_LATER) from exc


# -- the page's script (the officer page loads it beside app.js; served like hub.pages.officer's) ------
@router.get("/static/analyst.js", include_in_schema=False)
async def script() -> FileResponse:
    from hub.pages.officer import asset

    return asset("analyst.js", {"analyst.js"})


# -- incidents --------------------------------------------------------------------------------------
@router.get("/v1/feeds/{state}/incidents", response_model=None, responses=errors_doc(
    401, 403, 404, 422, e404=NO_ENDPOINT))
async def incidents(request: Request, seat: OfficerOfState,
                    after: Annotated[str | None, Query(max_length=220)] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Response:
    """This state's incidents, the most recently routed first (``next_after`` → older ones)."""
    try:
        return _json(await in_thread(_store(request).incidents, seat.state, after, limit))
    except BadRequest as exc:
        raise ApiError(422, str(exc)) from None


@router.get("/v1/feeds/{state}/incidents/{incident_id}", response_model=None, responses=errors_doc(
    401, 403, 404, 409, 422, 503, e404="no such incident in this state's feed",
    e409="the label names more than one incident of this state", e503=NOT_AUDITED))
async def incident(request: Request, seat: OfficerOfState, incident_id: str) -> Response:
    """One incident: reports, timeline, shared identifiers, parties, totals, places, routes.
    ``incident_id`` may also be the incident's label (``K7QM-4XD2``, any case, dash optional)."""
    if len(incident_id) > 200:
        raise ApiError(422, "incident_id: too long")
    try:
        found = await in_thread(_store(request).incident, seat.state, incident_id)
    except Ambiguous as exc:
        raise ApiError(409, f"incident_id: the label {incident_id} names {len(exc.candidates)} incidents of "
                            f"{seat.state}: {', '.join(exc.candidates)}") from None
    if found is None:
        raise ApiError(404, f"incident_id: no incident {incident_id} in the feed of {seat.state}")
    views = [{"report_id": r["report_id"], "version": r["version"], "item_id": r["item"].get("item_id"),
              "cursor": r["cursor"], "delivery": r["delivery"], "item": r["item"], "direction": r["direction"]}
             for r in found["report_list"]]
    await _delivered(request, seat, views, "incident")
    return _json(found)


# -- one report (the links of the officer page) -----------------------------------------------------
@router.get("/v1/feeds/{state}/reports/{report_id}", response_model=None, responses=errors_doc(
    401, 403, 404, 422, 503, e404="no such report in this state's feed (another state's looks the same)",
    e503=NOT_AUDITED))
async def one_report(request: Request, seat: OfficerOfState, report_id: str) -> Response:
    """One report this state holds (received or sent), as a search result; 404 for any other id (a
    report of another state's feed looks exactly like a made-up one)."""
    if len(report_id) > 200:
        raise ApiError(422, "report_id: too long")
    found = await in_thread(_store(request).report, seat.state, report_id)
    if found is None:
        raise ApiError(404, f"report_id: no report {report_id} in the feed of {seat.state}")
    await _delivered(request, seat, [found], "report")
    return _json(found)


# -- search -----------------------------------------------------------------------------------------
@router.get("/v1/feeds/{state}/search", response_model=None, responses=errors_doc(
    401, 403, 404, 422, 503, e404=NO_ENDPOINT, e503=NOT_AUDITED))
async def search(request: Request, seat: OfficerOfState, q: Annotated[str, Query(max_length=500)] = "",
                 kind: Kind = None, tlp: Tlp = None, direction: Direction = None, from_: From = None,
                 to: To = None, unacknowledged: Unacked = False, substance: Substance = None,
                 country: Country = None, limit: Annotated[int, Query(ge=1, le=200)] = 20,
                 cursor: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    """Ranked search over this state's reports: identifiers in any formatting, names in any script
    (fuzzy), substances (RU/EN synonyms), places, narrative text; ``next`` is the next page's cursor."""
    f = filters(kind, tlp, direction, from_, to, unacknowledged, substance=substance, country=country)
    try:
        page = await in_thread(_store(request).search, seat.state, q, f, limit, cursor)
    except BadRequest as exc:
        raise ApiError(422, str(exc)) from None
    await _delivered(request, seat, page["results"], "search")
    return _json(page)


# -- statistics -------------------------------------------------------------------------------------
@router.get("/v1/feeds/{state}/stats", response_model=None, responses=errors_doc(
    401, 403, 404, 422, e404=NO_ENDPOINT))
async def stats(request: Request, seat: OfficerOfState, by: Annotated[str, Query()] = "substance",
                from_: From = None, to: To = None, kind: Kind = None, tlp: Tlp = None, direction: Direction = None,
                unacknowledged: Unacked = False, substance: Substance = None,
                country: Country = None) -> Response:
    """Reports and kilograms per substance, month, crossing point, route country or agency
    (event days from/to, UTC), of the reports the filters select."""
    if by not in DIMENSIONS:
        raise ApiError(422, f"by: {by!r} is not one of {', '.join(DIMENSIONS)}")
    f = filters(kind, tlp, direction, from_, to, unacknowledged, substance=substance, country=country)
    return _json(await in_thread(_store(request).stats, seat.state, by, f.from_ms, f.to_ms, f))


# -- exports ----------------------------------------------------------------------------------------
FORMATS = {
    "geojson": ("application/geo+json", "geojson"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "i2.csv": ("text/csv; charset=utf-8", "i2.csv"),
}


def exported_events(rows: list[dict[str, Any]], seat: StateOfficer, fmt: str, export_id: str,
                    selection: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """EXPORTED audit events, one per report in the export (pure); ``selection`` (the query and the
    filters the export was made with) goes into every event as ``filter``."""
    chosen = "; ".join(f"{k}={v}" for k, v in (selection or {}).items())
    return [audit_event("EXPORTED", report_id=r["report_id"], version=r["version"], agency=r["agency"],
                        state=seat.state, actor=seat.who.label, unique=export_id,
                        detail={"format": fmt, "export": export_id, "direction": r["direction"],
                                "source": r["source_id"], "tlp": r["tlp"], "handling_code": r["handling_code"],
                                "filter": chosen})
            for r in rows]


def export_name(state: str, stamp: str, selection: dict[str, str], ext: str) -> str:
    """``hub-<state>-<UTC stamp>[-<what was chosen>].<ext>`` (pure): the file says what it holds."""
    parts = []
    for key, value in selection.items():
        words = [_SLUG.sub("-", fold(v)).strip("-") for v in value.split(",")]
        text = "+".join(w for w in words if w)
        if key in ("q", "incident"):
            text = f"{'search' if key == 'q' else 'incident'}-{text}"
        elif key in ("from", "to"):
            text = f"{key}-{text[:10]}"
        elif key == "unacknowledged":
            text = "unacknowledged"
        if text:
            parts.append(text)
    tail = "-".join(parts)[:80].strip("-+")
    return f"hub-{state.lower()}-{stamp}{'-' + tail if tail else ''}.{ext}"


async def _export(request: Request, seat: StateOfficer, fmt: str, f: Filters, q: str = "",
                  incident: str | None = None) -> StreamingResponse:
    store = _store(request)
    export_id = request_id(request)
    batches: Iterator[list[dict[str, Any]]] = (store.search_batches(seat.state, q, f, EXPORT_BATCH) if q.strip()
                                               else store.batches(seat.state, f, EXPORT_BATCH))
    selection = {**({"q": q.strip()} if q.strip() else {}), **f.described()}
    if incident:
        selection["incident"] = incident  # as the officer named it (the label), not the keyed id

    async def next_batch() -> list[dict[str, Any]] | None:
        batch = await in_thread(next, batches, None)
        if batch:
            await request.app.state.audit.emit(exported_events(batch, seat, fmt, export_id, selection))
        return batch

    try:
        first = await next_batch()  # audited before the response starts: a broker failure is a 503
    except BadRequest as exc:
        raise ApiError(422, str(exc)) from None
    except BrokerUnavailable as exc:
        raise ApiError(503, "audit: the hub cannot record the export right now; retry later",
                       RETRY_LATER) from exc
    count = 0

    async def audited() -> AsyncIterator[list[dict[str, Any]]]:
        nonlocal count
        batch = first
        while batch:
            count += len(batch)
            yield batch
            batch = await next_batch()  # a failure now aborts the response (the file is visibly cut)
        log.info("export streamed", state=seat.state, actor=seat.who.label, format=fmt, reports=count,
                 export=export_id)

    async def body() -> AsyncIterator[bytes]:
        writer = exports.Writer(fmt)
        yield writer.head().encode()
        async for batch in audited():
            cursors = {}
            if fmt == "csv":
                cursors = await in_thread(store.cursors, [r["source_id"] for r in batch if r["direction"] == RECEIVED])
            yield writer.rows(batch, cursors).encode()
        yield writer.tail().encode()

    media, ext = FORMATS[fmt]
    stamp = datetime.fromtimestamp(clock.now_ms() / 1000, UTC).strftime("%Y%m%d-%H%M")
    name = export_name(seat.state, stamp, selection, ext)
    return StreamingResponse(body(), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
        "X-Export-Id": export_id})


def _export_route(fmt: str) -> Any:
    async def endpoint(request: Request, seat: OfficerOfState, kind: Kind = None, tlp: Tlp = None,
                       direction: Direction = None, from_: From = None, to: To = None,
                       unacknowledged: Unacked = False, substance: Substance = None, country: Country = None,
                       q: Annotated[str, Query(max_length=500, description="a search: export its results")] = "",
                       incident: Annotated[str | None, Query(max_length=200)] = None) -> StreamingResponse:
        f = filters(kind, tlp, direction, from_, to, unacknowledged, substance=substance, country=country)
        if incident:
            try:
                found = await in_thread(_store(request).find_incident, seat.state, incident)
            except Ambiguous as exc:
                raise ApiError(409, f"incident: the label {incident} names {len(exc.candidates)} incidents") from None
            if found is None:
                raise ApiError(404, f"incident: no incident {incident} in the feed of {seat.state}")
            f = Filters(**{**f.__dict__, "incident_id": found})
        return await _export(request, seat, fmt, f, q, incident)

    endpoint.__name__ = f"export_{fmt.replace('.', '_')}"
    endpoint.__doc__ = (f"Stream this state's reports as {fmt} (TLP and handling code on every row/feature): those "
                        "the filters, the search ``q`` and the ``incident`` select, as on the officer's screen; the "
                        "file name says what was chosen; every exported report is audited EXPORTED with the filter.")
    return endpoint


EXPORT_DOCS = {
    "geojson": {200: {"description": "the export as an attachment: a GeoJSON FeatureCollection", "content": {
        "application/geo+json": {"schema": {"type": "object", "required": ["type", "features"], "properties": {
            "type": {"const": "FeatureCollection"}, "features": {"type": "array", "items": {"type": "object"}}}}}}}},
    "csv": content_doc("text/csv", "the export as an attachment (CSV, a header row first)"),
    "i2.csv": content_doc("text/csv", "the export as an attachment (i2 entities and links, CSV)"),
}


for _fmt in FORMATS:
    router.add_api_route(
        f"/v1/feeds/{{state}}/export.{_fmt}", _export_route(_fmt), methods=["GET"], response_model=None,
        response_class=StreamingResponse,
        responses=EXPORT_DOCS[_fmt] | errors_doc(
            401, 403, 404, 409, 422, 503, e404="no such incident in this state's feed (`incident`)",
            e409="the `incident` label names more than one incident", e503="the export cannot be audited right now"))

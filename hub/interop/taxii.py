"""Gateway part: each state's feed as STIX 2.1 over TAXII 2.1, read-only (SPEC §15).

* ``GET /taxii2/`` — discovery; one API root, ``/taxii2/feeds/``.
* ``GET /taxii2/feeds/`` — the API root; ``GET /taxii2/feeds/collections/`` — the collections the token may
  read: an officer's own state (the centre's officers: ``CARICC``); auditors and agencies: none.
* ``GET /taxii2/feeds/collections/{id}/`` · ``…/objects/`` · ``…/objects/{object_id}/`` ·
  ``…/objects/{object_id}/versions/`` · ``…/manifest/`` with ``added_after``, ``limit``, ``next``,
  ``match[type]``, ``match[id]``, ``match[version]``, ``match[spec_version]``.
* ``GET /taxii2/schemas/caricc-hub-extension-v1.json`` — the JSON schema of the CARICC STIX extension.

Credentials: ``Authorization: Bearer <officer token>``, or HTTP Basic with the token as the password
(any user name), since many TAXII clients only do Basic. Every answer is
``application/taxii+json;version=2.1``; a request whose ``Accept`` allows no TAXII 2.1 answer gets 406.
Errors are TAXII error messages (``title``, ``description``, ``http_status``). A collection of another
state is 403 and audited ACCESS_DENIED like a feed (SPEC §8).

The objects come from :class:`~hub.interop.store.StixStore` (derived from the state's feed items only;
every read first maps the items the feed gained, and the gateway maps every state's backlog once in
the background when it starts).
Every feed item whose report content is served through ``objects`` is audited ``DELIVERED`` (the same
event id as when its feed serves it to this officer, so the provider's ``delivered_at`` counts it) and
``EXPORTED`` (``detail.format`` = ``stix2.1``, one event per item and request) before the answer leaves.
Manifests and version lists (ids, versions and dates only) are not audited per report.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from hub.directory.auth import OFFICER, Principal
from hub.domain.audit_events import audit_event
from hub.interop import stix
from hub.interop.store import VERSION_WORDS, Query, StixStore
from hub.platform.http import ApiError, bearer, in_thread, mark_audited, request_id
from hub.platform.kafka.producer import BrokerUnavailable
from hub.platform.tasks import cancel

log = structlog.get_logger(__name__)
router = APIRouter(tags=["taxii"])

TAXII = "application/taxii+json;version=2.1"
ROOT = "/taxii2/feeds/"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_CONTENT = 10 * 1024 * 1024
_NEXT = re.compile(r"^(\d{1,19})\.(\d{1,6})$")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,250}--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{1,250}$")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")


def collection_id(state: str) -> str:
    """The TAXII collection id of a state's feed (a UUIDv5, stable)."""
    return stix.stix_id("collection", state).split("--", 1)[1]


async def startup(app: FastAPI) -> None:
    app.state.stix_store = StixStore(app.state.db)
    app.state.stix_warmup = asyncio.get_running_loop().create_task(warm_up(app))


async def shutdown(app: FastAPI) -> None:
    await cancel(getattr(app.state, "stix_warmup", None))


async def warm_up(app: FastAPI) -> None:
    """Map every state's feed items not mapped yet, once, in the background after the gateway started, so
    a collection's first read does not map a long feed (a read maps what is left, as always)."""
    store: StixStore = app.state.stix_store
    for state in app.state.settings.recipients:
        try:
            n = await in_thread(store.sync, state)
        except Exception as exc:  # the database is away: reads map on demand later
            log.warning("STIX warm-up failed", state=state, error=str(exc))
            return
        if n:
            log.info("STIX collection mapped", state=state, items=n)


# -- answers ----------------------------------------------------------------------------------------
class TaxiiError(Exception):
    def __init__(self, status: int, title: str, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(title)
        self.status, self.title, self.description, self.headers = status, title, description, headers or {}


def taxii(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=TAXII, headers=headers)


def error_body(status: int, title: str, description: str) -> dict[str, Any]:
    return {"title": title, "description": description, "http_status": str(status)}


def _error(exc: TaxiiError) -> Response:
    return taxii(error_body(exc.status, exc.title, exc.description), exc.status, exc.headers)


def accepts_taxii(accept: str | None) -> bool:
    """Whether an ``Accept`` header allows ``application/taxii+json;version=2.1`` (absent: yes)."""
    if accept is None or not accept.strip():
        return True
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        params = {k.strip().lower(): v.strip().strip('"') for k, v in params.items()}
        if params.get("q") in ("0", "0.0", "0.00", "0.000"):
            continue
        if media in ("*/*", "application/*"):
            return True
        if media == "application/taxii+json" and params.get("version", "2.1") == "2.1":
            return True
    return False


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- who ---------------------------------------------------------------------------------------------
CHALLENGE = {"WWW-Authenticate": 'Basic realm="CARICC hub TAXII", Bearer'}


def token_of(authorization: str | None) -> str | None:
    """The token of ``Bearer <token>`` or of ``Basic base64(user:token)`` (the password)."""
    token = bearer(authorization)
    if token is not None:
        return token
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, sep, password = decoded.partition(":")
        return password.strip() or None if sep else None
    return None


async def who(request: Request) -> Principal:
    header = request.headers.get("authorization")
    if not header:
        raise TaxiiError(401, "Authentication required",
                         "send 'Authorization: Bearer <officer token>' or HTTP Basic with the token as the password",
                         CHALLENGE)
    token = token_of(header)
    if token is None:
        raise TaxiiError(401, "Malformed credentials",
                         "expected 'Bearer <officer token>' or HTTP Basic with the token as the password", CHALLENGE)
    principal = await request.app.state.auth.principal(token)
    if principal is None:
        raise TaxiiError(401, "Unknown or revoked token", "the token is not valid (any more)", CHALLENGE)
    request.scope.setdefault("state", {})["principal"] = principal
    return principal


def readable(p: Principal) -> list[str]:
    """The states whose collection ``p`` may read: an officer's own; nobody else's."""
    return [p.state] if p.kind == OFFICER and p.state else []


def collection_info(state: str) -> dict[str, Any]:
    return {"id": collection_id(state), "title": f"Feed of {state}",
            "description": f"The routed feed of {state} as STIX 2.1: report versions, incidents as {state} "
                           "sees them, agencies, places, relationships; TLP 2.0 and handling-code markings.",
            "alias": state.lower(), "can_read": True, "can_write": False, "media_types": [stix.MEDIA_TYPE]}


async def seat(request: Request, cid: str) -> tuple[Principal, str]:
    """The principal and the state of collection ``cid``: 404 for an unknown id, 403 (audited
    ACCESS_DENIED) for a collection the token may not read."""
    p = await who(request)
    state = next((s for s in request.app.state.settings.recipients if collection_id(s) == cid), None)
    if state is None:
        raise TaxiiError(404, "Unknown collection", f"no collection {cid[:64]!r} on this API root")
    if state not in readable(p):
        reason = (f"{p.kind} token cannot read TAXII collections" if p.kind != OFFICER
                  else f"officer of {p.state} asked for the TAXII collection of {state}")
        mark_audited(request)
        await request.app.state.denials.deny(request, 403, actor=p.label, reason=reason, state=state)
        log.warning("taxii access denied", actor=p.label, state=state)
        raise TaxiiError(403, "Forbidden", f"your token is not valid for the collection of {state}")
    return p, state


# -- parameters --------------------------------------------------------------------------------------
def _many(request: Request, name: str) -> list[str]:
    out: list[str] = []
    for v in request.query_params.getlist(name):
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


def parse_query(request: Request, default_versions: tuple[str, ...] = ("last",)) -> Query:
    qp = request.query_params
    known = {"added_after", "limit", "next", "match[type]", "match[id]", "match[version]", "match[spec_version]"}
    unknown = sorted(k for k in qp if k not in known)
    if unknown:
        raise TaxiiError(400, "Unknown parameter", f"{unknown[0]}: not a parameter of this endpoint "
                                                   f"(allowed: {', '.join(sorted(known))})")
    limit = DEFAULT_LIMIT
    if "limit" in qp:
        raw = qp["limit"]
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 10**9:
            raise TaxiiError(400, "Invalid limit", f"limit: {raw[:40]!r} is not a whole number ≥ 1")
        limit = min(int(raw), MAX_LIMIT)
    after: tuple[int, int] = (0, -1)
    if "next" in qp:
        m = _NEXT.match(qp["next"])
        if not m:
            raise TaxiiError(400, "Invalid next", f"next: {qp['next'][:40]!r} is not a token this server gave")
        after = (int(m.group(1)), int(m.group(2)))
    added_after = None
    if "added_after" in qp:
        raw = qp["added_after"]
        try:
            t = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise TaxiiError(400, "Invalid added_after", f"added_after: {raw[:40]!r} is not an RFC 3339 timestamp") \
                from None
        if t.tzinfo is None:
            raise TaxiiError(400, "Invalid added_after", "added_after: give a time zone (e.g. Z)")
        added_after = int(t.timestamp() * 1000)
    types = _many(request, "match[type]")
    for t in types:
        if not _TYPE.match(t):
            raise TaxiiError(400, "Invalid match[type]", f"match[type]: {t[:60]!r} is not a STIX type")
    ids = _many(request, "match[id]")
    for i in ids:
        if not _ID.match(i):
            raise TaxiiError(400, "Invalid match[id]", f"match[id]: {i[:80]!r} is not a STIX identifier")
    versions = _many(request, "match[version]") or list(default_versions)
    for v in versions:
        if v not in VERSION_WORDS and not _STAMP.match(v):
            raise TaxiiError(400, "Invalid match[version]",
                             f"match[version]: {v[:40]!r} is not first, last, all or a STIX timestamp")
    return Query(after=after, added_after_ms=added_after, types=tuple(types), ids=tuple(ids), versions=tuple(versions),
                 spec_versions=tuple(_many(request, "match[spec_version]")), limit=limit)


def _headers(rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    if not rows:
        return {}
    added = [int(r["added_ms"]) for r in rows]
    return {"X-TAXII-Date-Added-First": _iso(min(added)), "X-TAXII-Date-Added-Last": _iso(max(added))}


def _next(rows: Sequence[dict[str, Any]]) -> str:
    return f"{int(rows[-1]['seq'])}.{int(rows[-1]['pos'])}"


# -- audit ---------------------------------------------------------------------------------------------
def read_events(rows: Sequence[dict[str, Any]], state: str, p: Principal, export_id: str) -> list[dict[str, Any]]:
    """DELIVERED and EXPORTED audit events for the feed items whose report content ``rows`` carry (pure)."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r in rows:
        if not r["content"] or r["item_id"] in seen:
            continue
        seen.add(r["item_id"])
        common = {"report_id": r["report_id"], "version": int(r["report_version"]), "agency": r["agency"],
                  "state": state, "actor": p.label, "trace_id": r["trace_id"]}
        out.append(audit_event("DELIVERED", **common, unique=r["item_id"],
                               detail={"item_id": r["item_id"], "cursor": int(r["seq"]), "session": f"taxii:{export_id}",
                                       "via": "taxii", "delivery": r["delivery"]}))
        out.append(audit_event("EXPORTED", **common, unique=export_id,
                               detail={"format": "stix2.1", "export": export_id, "via": "taxii",
                                       "item_id": r["item_id"], "direction": "received"}))
    return out


async def audited(request: Request, rows: Sequence[dict[str, Any]], state: str, p: Principal) -> None:
    events = read_events(rows, state, p, request_id(request))
    if not events:
        return
    try:
        await request.app.state.audit.emit(events)
    except BrokerUnavailable as exc:
        raise TaxiiError(503, "Audit unavailable", "the hub cannot record this read right now; retry later",
                         {"Retry-After": "5"}) from exc


# -- routes ----------------------------------------------------------------------------------------------
async def _guard(request: Request) -> None:
    if not accepts_taxii(request.headers.get("accept")):
        raise TaxiiError(406, "Not Acceptable", f"this server answers {TAXII} only")


Handler = Callable[[Request], Awaitable[Response]]


def _route(path: str) -> Callable[[Handler], Handler]:
    """Register a GET handler whose TaxiiError (and any ApiError) becomes a TAXII error message. TAXII
    routes stay out of the OpenAPI document: the protocol is OASIS TAXII 2.1 (docs/stix.md), with its
    own error body."""

    def wrap(fn: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                await _guard(request)
                return await fn(request)
            except TaxiiError as exc:
                return _error(exc)
            except ApiError as exc:
                return _error(TaxiiError(exc.status_code, "Error", exc.message, dict(exc.headers or {})))

        endpoint.__name__ = fn.__name__
        endpoint.__doc__ = fn.__doc__
        router.add_api_route(path, endpoint, methods=["GET"], response_class=Response, include_in_schema=False)
        return fn

    return wrap


@_route("/taxii2/")
async def discovery(request: Request) -> Response:
    """TAXII 2.1 discovery: one API root."""
    await who(request)
    return taxii({"title": "CARICC intelligence-sharing hub", "default": ROOT,
                  "description": "Each state's routed feed as STIX 2.1 (SPEC §15), read-only.",
                  "api_roots": [ROOT]})


@_route(ROOT)
async def api_root(request: Request) -> Response:
    """The API root."""
    await who(request)
    return taxii({"title": "Feeds", "description": "One collection per state feed the token may read.",
                  "versions": [TAXII], "max_content_length": MAX_CONTENT})


@_route(ROOT + "collections/")
async def collections(request: Request) -> Response:
    """The collections this token may read (an officer: its own state's)."""
    p = await who(request)
    states = readable(p)
    return taxii({"collections": [collection_info(s) for s in states]} if states else {})


@_route(ROOT + "collections/{cid}/")
async def collection(request: Request) -> Response:
    """One collection."""
    _, state = await seat(request, request.path_params["cid"])
    return taxii(collection_info(state))


async def _rows(request: Request, state: str, q: Query) -> tuple[list[dict[str, Any]], bool]:
    store: StixStore = request.app.state.stix_store
    await in_thread(store.sync, state)
    return await in_thread(store.page, state, q)


def _envelope(rows: list[dict[str, Any]], more: bool) -> bytes:
    """A TAXII envelope, the stored object JSON written as it is."""
    if not rows:
        return b'{"more":false}'
    head = b'{"more":true,"next":"%s",' % _next(rows).encode() if more else b'{"more":false,'
    return head + b'"objects":[' + b",".join(r["object"].encode() for r in rows) + b"]}"


@_route(ROOT + "collections/{cid}/objects/")
async def objects(request: Request) -> Response:
    """The collection's objects (an envelope), oldest first; ``match[version]`` defaults to ``last``."""
    p, state = await seat(request, request.path_params["cid"])
    q = parse_query(request)
    rows, more = await _rows(request, state, q)
    await audited(request, rows, state, p)
    return Response(_envelope(rows, more), media_type=TAXII, headers=_headers(rows))


@_route(ROOT + "collections/{cid}/objects/{object_id}/")
async def one_object(request: Request) -> Response:
    """The versions of one object (an envelope); ``match[version]`` defaults to ``last``."""
    p, state = await seat(request, request.path_params["cid"])
    oid = request.path_params["object_id"]
    if not _ID.match(oid):
        raise TaxiiError(404, "Unknown object", f"{oid[:80]!r} is not a STIX identifier")
    q = parse_query(request)
    if q.ids:
        raise TaxiiError(400, "Invalid match[id]", "match[id]: not a parameter of this endpoint")
    q = Query(**{**q.__dict__, "ids": (oid,)})
    rows, more = await _rows(request, state, q)
    if not rows and not await in_thread(request.app.state.stix_store.holds, state, oid):
        raise TaxiiError(404, "Unknown object", f"no object {oid} in the collection of {state}")
    await audited(request, rows, state, p)
    return Response(_envelope(rows, more), media_type=TAXII, headers=_headers(rows))


@_route(ROOT + "collections/{cid}/objects/{object_id}/versions/")
async def versions(request: Request) -> Response:
    """The versions of one object, in the order the collection got them."""
    _, state = await seat(request, request.path_params["cid"])
    oid = request.path_params["object_id"]
    q = parse_query(request)
    store: StixStore = request.app.state.stix_store
    await in_thread(store.sync, state)
    if not _ID.match(oid) or not await in_thread(store.holds, state, oid):
        raise TaxiiError(404, "Unknown object", f"no object {oid[:80]} in the collection of {state}")
    rows, more = await in_thread(store.versions, state, oid, q)
    body: dict[str, Any] = {"more": more}
    if rows:
        body["versions"] = [r["version"] for r in rows]
    if more:
        body["next"] = _next(rows)
    return taxii(body, headers=_headers(rows))


@_route(ROOT + "collections/{cid}/manifest/")
async def manifest(request: Request) -> Response:
    """Manifest of the collection's objects (id, date added, version, media type)."""
    _, state = await seat(request, request.path_params["cid"])
    q = parse_query(request)
    rows, more = await _rows(request, state, q)
    body: dict[str, Any] = {"more": more}
    if rows:
        body["objects"] = [{"id": r["stix_id"], "date_added": _iso(int(r["added_ms"])), "version": r["version"],
                            "media_type": stix.MEDIA_TYPE} for r in rows]
    if more:
        body["next"] = _next(rows)
    return taxii(body, headers=_headers(rows))


@router.post(ROOT + "collections/{cid}/objects/", response_class=Response, include_in_schema=False)
async def add_objects(request: Request) -> Response:
    """Collections are read-only (``can_write`` false): 405, the body is never read."""
    return _error(TaxiiError(405, "Read-only collection",
                             "this server only serves the states' feeds; nothing can be added", {"Allow": "GET"}))


@router.get("/taxii2/schemas/" + stix.SCHEMA_FILE, response_class=Response, include_in_schema=False)
async def extension_schema() -> Response:
    """The JSON schema of the CARICC STIX property extension (public: it holds no data)."""
    return Response(orjson.dumps(stix.extension_schema(), option=orjson.OPT_INDENT_2),
                    media_type="application/schema+json")


@_route("/taxii2/{rest:path}")
async def unknown(request: Request) -> Response:
    """Any other path under /taxii2/: a TAXII 404 (registered last, so it never hides an endpoint)."""
    await who(request)
    raise TaxiiError(404, "Not found", f"{request.url.path[:200]} is not an endpoint of this TAXII server "
                                       f"(discovery: /taxii2/, API root: {ROOT})")

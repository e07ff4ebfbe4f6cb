"""The gateway's foundation: one producer, one auth dependency, one body reader, one audit emitter.

Every endpoint of the gateway is built from these pieces (see FOUNDATION notes in docs/feeds.md,
"Writing an endpoint"):

* **Auth** — :func:`bearer` is the one parser of ``Authorization: Bearer <token>``;
  :class:`Auth` turns a token into a :class:`~hub.auth.Principal` with a short-TTL cache
  (:data:`TOKEN_TTL_S`): a revoked token is refused everywhere within that bound, and the
  database lookup of a cache miss runs in a thread, never on the event loop.
  :func:`authenticate` (plain function) and :func:`principal_of` (FastAPI dependency) answer 401
  without a valid token and 403 for a token of another kind; :func:`officer_of_state` (dependency)
  answers 403 and audits ``ACCESS_DENIED`` when the token is not an officer of the path's state.
  The ready-made annotations :data:`AnyPrincipal`, :data:`AgencyKey`, :data:`AuditorToken` and
  :data:`OfficerOfState` are what an endpoint declares.
* **Body** — :func:`read_body` / :func:`read_json` read the request body with an explicit size limit
  (413 beyond it, without buffering the rest). Endpoints never declare a pydantic body parameter
  (FastAPI would read and parse it *before* the auth dependency runs); they call ``read_json`` in
  the handler, i.e. after authentication and before parsing.
* **Records** — :class:`Producer` (``app.state.producer``): one aiokafka producer per process,
  started lazily, sending :class:`hub.wire.Record` s and awaiting every acknowledgement; a broker
  failure raises :class:`BrokerUnavailable` (answer it with :func:`unavailable`: 503 +
  ``Retry-After``) and the next send reconnects and re-creates missing topics.
* **Audit** — :class:`Audit` (``app.state.audit``): :meth:`Audit.emit` puts the events of one call
  in one ``AuditBatch`` record (schema release v2) and awaits its acknowledgement.
* **Request facts** — :func:`trace_id` (validated ``X-Trace-Id`` or a new one), :func:`request_id`
  (a server-generated id, the unique part of REJECTED/ACCESS_DENIED audit ids), :func:`in_thread`
  (blocking database calls off the event loop).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import orjson
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from hub.auth import AGENCY, AUDITOR, OFFICER, PREFIX, Credentials, Principal, hash_token
from hub.codec import AUDIT_BATCH, codec
from hub.kafka import producer as make_producer
from hub.settings import Settings
from hub.topics import AUDIT, ensure_topics
from hub.wire import EVENT_ID, Record, audit_key

log = structlog.get_logger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

TOKEN_TTL_S = 2.0  # a revoked token is refused by every endpoint and open stream within this bound
TOKEN_CACHE_ENTRIES = 10_000
BROKER_TIMEOUT_S = 10.0  # how long a request waits for the broker before answering 503
RETRY_AFTER_S = 5
AUDIT_BATCH_EVENTS = 200  # events per AuditBatch record (keeps a record well under the 1 MB limit)
TRACE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


# --------------------------------------------------------------------------- errors
class ApiError(HTTPException):
    """A clear client error: ``status``, a message naming the field, optional headers.

    FastAPI renders it as ``{"detail": message}``; the ingest endpoints render ``{"error": message}``
    (SPEC §7) with :func:`error_response`.
    """

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, message, headers=dict(headers) if headers else None)
        self.message = message


def error_response(exc: ApiError, **extra: Any) -> JSONResponse:
    """``{"error": message, **extra}`` with the error's status and headers (the ingest style)."""
    return JSONResponse({"error": exc.message, **extra}, status_code=exc.status_code, headers=exc.headers)


class BrokerUnavailable(RuntimeError):
    """The broker did not take or acknowledge the records (answer 503 with :func:`unavailable`)."""


def unavailable(exc: Exception, key: str = "error") -> JSONResponse:
    log.warning("broker unavailable", error=str(exc))
    return JSONResponse({key: "the hub cannot reach its broker right now; nothing was accepted, retry later"},
                        status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking call (a database statement) in a worker thread, off the event loop.

    :class:`hub.db.Database` keeps one connection per thread, so this is safe for it.
    """
    return await asyncio.to_thread(fn, *args)


# --------------------------------------------------------------------------- request facts
def request_id(request: Request) -> str:
    """A server-generated id of this request (stable for the request; never from the client)."""
    state = request.scope.setdefault("state", {})
    rid = state.get("request_id")
    if rid is None:
        rid = state["request_id"] = uuid.uuid4().hex
    return rid


def trace_id(request: Request) -> str:
    """The client's ``X-Trace-Id`` when valid (1–64 of ``[A-Za-z0-9_-]``), else a new one; 400 when invalid."""
    value = request.headers.get("x-trace-id")
    if value is None:
        return uuid.uuid4().hex
    if not TRACE_ID_RE.fullmatch(value):
        raise ApiError(400, "X-Trace-Id: should be 1–64 characters of A–Z, a–z, 0–9, '_' or '-' "
                            f"(got {len(value)} characters)")
    return value


def client_address(request: Request) -> str:
    client = request.scope.get("client")
    return str(client[0]) if client else "unknown"


def mark_audited(request: Request) -> None:
    """Tell the denial middleware this 401/403 was already audited in more detail."""
    request.scope.setdefault("state", {})["audited"] = True


# --------------------------------------------------------------------------- auth
def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (None when absent or malformed)."""
    if authorization and authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
        return token or None
    return None


class Auth:
    """Bearer tokens → principals, cached for :data:`TOKEN_TTL_S` seconds.

    Only valid tokens are cached (a token issued a moment ago works at once); a cache miss looks the
    token's hash up in a worker thread. Revocation is honoured within the TTL: a cached principal is
    looked up again once its entry is older than ``ttl``.
    """

    def __init__(self, credentials: Credentials, ttl: float = TOKEN_TTL_S, entries: int = TOKEN_CACHE_ENTRIES) -> None:
        self.credentials = credentials
        self.ttl = ttl
        self.entries = entries
        self._cache: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    async def principal(self, token: str | None) -> Principal | None:
        """The principal of a valid, unrevoked token (as of at most ``ttl`` seconds ago); else None."""
        if not token or not token.startswith(tuple(PREFIX.values())):
            return None
        h = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(h)
        if hit is not None and hit[0] > now:
            return hit[1]
        p = await in_thread(self.credentials.authenticate, token)
        if p is None:
            self._cache.pop(h, None)
            return None
        self._cache[h] = (now + self.ttl, p)
        self._cache.move_to_end(h)
        while len(self._cache) > self.entries:
            self._cache.popitem(last=False)
        return p

    def forget(self) -> None:
        """Drop every cached principal (the next request looks each token up again)."""
        self._cache.clear()


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


WHAT = {AGENCY: "agency key", OFFICER: "officer token", AUDITOR: "auditor token"}


async def authenticate(request: Request, *kinds: str, action: str = "use this endpoint") -> Principal:
    """The principal of the request's bearer token, of one of ``kinds`` (any kind when empty).

    401 (``WWW-Authenticate: Bearer``) without a valid token; 403 for a token of another kind.
    Both are audited ACCESS_DENIED by the denial middleware.
    """
    what = " or ".join(WHAT[k] for k in kinds) if kinds else "token"
    header = request.headers.get("authorization")
    challenge = {"WWW-Authenticate": "Bearer"}
    if not header:
        raise ApiError(401, f"missing key: send 'Authorization: Bearer <{what}>'", challenge)
    token = bearer(header)
    if token is None or " " in token:
        raise ApiError(401, f"malformed Authorization header: expected 'Bearer <{what}>'", challenge)
    who = await request.app.state.auth.principal(token)
    if who is None:
        raise ApiError(401, "unknown or revoked key", challenge)
    if kinds and who.kind not in kinds:
        raise ApiError(403, f"{_a(who.kind)} {who.kind} key cannot {action}; use {_a(what)} {what}")
    request.scope.setdefault("state", {})["principal"] = who
    return who


def principal_of(*kinds: str, action: str = "use this endpoint") -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the request's principal, of one of ``kinds`` (any kind when none given)."""

    async def dependency(request: Request) -> Principal:
        return await authenticate(request, *kinds, action=action)

    return dependency


AnyPrincipal = Annotated[Principal, Depends(principal_of())]
AgencyKey = Annotated[Principal, Depends(principal_of(AGENCY))]
AuditorToken = Annotated[Principal, Depends(principal_of(AUDITOR, action="use the audit API"))]


@dataclass(frozen=True)
class StateOfficer:
    """An officer token checked against the ``{state}`` of the path."""

    who: Principal
    state: str


async def officer_of_state(request: Request, state: str) -> StateOfficer:
    """Dependency for paths with ``{state}``: the token must be an officer of that state (or of the centre
    for ``CARICC``). Otherwise 403 and an ``ACCESS_DENIED`` audit event naming the actor, the state asked
    for and the reason (aggregated per source and window, see :mod:`hub.gateway.denials`)."""
    who = await authenticate(request)
    state = state.upper()
    if who.kind == OFFICER and who.state == state:
        return StateOfficer(who, state)
    reason = (f"{who.kind} token cannot read feeds" if who.kind != OFFICER
              else f"officer of {who.state} asked for the feed of {state}")
    mark_audited(request)
    await request.app.state.denials.deny(request, 403, actor=who.label, reason=reason, state=state)
    log.warning("feed access denied", actor=who.label, state=state)
    raise ApiError(403, f"state: your token is not valid for the feed of {state}")


OfficerOfState = Annotated[StateOfficer, Depends(officer_of_state)]


# --------------------------------------------------------------------------- body
async def read_body(request: Request, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes (413 when larger; the rest is never read).

    Call it after authentication: an unauthenticated request is answered before its body is read
    (and its connection closed, see :mod:`hub.gateway.denials`).
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"body of {int(declared)} bytes is larger than the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _field(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


async def read_json(request: Request, limit: int, model: type[M] | None = None) -> Any:
    """The body as JSON (400 when malformed, 413 beyond ``limit``), validated by ``model`` when given
    (422 naming every failing field: ``{"detail": "report_id: Field required", "errors": [...]}``)."""
    raw = await read_body(request, limit)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from None
    if model is None:
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        errors = [{"field": _field(e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        raise BodyInvalid(errors) from None


class BodyInvalid(ApiError):
    """422 with every failing field (``errors``)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(422, "; ".join(f"{e['field']}: {e['problem']}" for e in errors) or "invalid body")
        self.errors = errors


def json_body_doc(model: type[BaseModel], limit: int) -> dict[str, Any]:
    """``openapi_extra`` documenting a body read with :func:`read_json` (FastAPI cannot see it)."""
    schema = model.model_json_schema()
    schema["description"] = (schema.get("description") or "") + f" (at most {limit} bytes)"
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# --------------------------------------------------------------------------- records
class Producer:
    """The process's one Kafka producer (``app.state.producer``).

    Started on first use (so the gateway starts while the broker is still coming up); after a failure
    it is dropped, and the next send reconnects and re-creates missing topics (an embedded broker that
    restarted has forgotten them, and broker auto-create would get their partitions wrong).
    """

    def __init__(self, settings: Settings, timeout: float = BROKER_TIMEOUT_S) -> None:
        self.settings = settings
        self.timeout = timeout
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self.topics_ready = False

    async def started(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                if not self.topics_ready:
                    try:
                        await asyncio.wait_for(ensure_topics(self.settings), self.timeout)
                        self.topics_ready = True
                    except Exception as exc:
                        raise BrokerUnavailable(f"cannot create topics: {exc!r}") from exc
                p = make_producer(self.settings, request_timeout_ms=int(self.timeout * 1000))
                try:
                    await asyncio.wait_for(p.start(), self.timeout)
                except Exception as exc:
                    await _quiet_stop(p)
                    raise BrokerUnavailable(f"cannot connect to the broker: {exc!r}") from exc
                self._producer = p
            return self._producer

    async def send(self, records: Iterable[Record]) -> None:
        """Send every record and wait until the broker acknowledged all of them (acks=all).

        Raises BrokerUnavailable (and drops the producer) when it cannot.
        """
        records = list(records)
        if not records:
            return
        prod = await self.started()
        try:
            futures = [prod.send(r.topic, r.value, key=r.key, headers=r.headers) for r in records]
            queued = await asyncio.wait_for(asyncio.gather(*futures), self.timeout)
            await asyncio.wait_for(asyncio.gather(*queued), self.timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            await self.reset()
            raise BrokerUnavailable(f"broker did not acknowledge: {exc!r}") from exc

    async def reset(self) -> None:
        async with self._lock:
            p, self._producer = self._producer, None
            self.topics_ready = False
        if p is not None:
            await _quiet_stop(p)

    async def close(self) -> None:
        await self.reset()


async def _quiet_stop(p: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(p.stop(), 5)
    except Exception as exc:
        log.warning("producer stop failed", error=repr(exc))


# --------------------------------------------------------------------------- audit
def audit_batch_records(events: Sequence[Mapping[str, Any]], per_record: int = AUDIT_BATCH_EVENTS) -> list[Record]:
    """AuditBatch records (v2) holding ``events`` in order, keyed like the first event of each record."""
    enc = codec()
    out = []
    for i in range(0, len(events), per_record):
        chunk = list(events[i:i + per_record])
        out.append(Record(AUDIT, audit_key(chunk[0]), enc.encode(AUDIT_BATCH, {"events": chunk}),
                          [(EVENT_ID, chunk[0]["event_id"].encode())]))
    return out


class Audit:
    """The one audit emitter of the gateway (``app.state.audit``)."""

    def __init__(self, producer: Producer) -> None:
        self.producer = producer

    async def emit(self, events: Sequence[Mapping[str, Any]], *, required: bool = True) -> bool:
        """Put ``events`` on hub.audit (one AuditBatch record per call, split every
        :data:`AUDIT_BATCH_EVENTS` events) and wait for the acknowledgement.

        ``required``: raise BrokerUnavailable when it fails (e.g. an acknowledgement must not be
        answered unless audited); otherwise log the gap loudly and return False.
        """
        if not events:
            return True
        try:
            await self.producer.send(audit_batch_records(events))
            return True
        except BrokerUnavailable as exc:
            if required:
                raise
            log.error("audit events not sent", error=str(exc), events=len(events),
                      stages=sorted({e["stage"] for e in events}))
            return False

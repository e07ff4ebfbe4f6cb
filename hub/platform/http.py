"""The HTTP toolkit every slice's router is built from: errors and JSON answers, the body reader
with its explicit size limit, request facts (trace id, request id, client address), blocking work off
the event loop (:func:`in_thread`, :class:`GroupCommit`).

* **Body** — :func:`read_body` / :func:`read_json` read the request body with an explicit size limit
  (413 beyond it, without buffering the rest). Endpoints never declare a pydantic body parameter
  (FastAPI would read and parse it *before* the auth dependency runs); they call ``read_json`` in
  the handler, i.e. after authentication and before parsing.
* **Errors** — every error answer of the REST API has one shape, :class:`ErrorBody`:
  ``{"error": message, "detail": message, "errors"?: [{field, problem}], ...}`` (``error`` as SPEC §7
  says; ``detail``, the same text, for clients written for FastAPI's default shape). :func:`error_body`
  builds it, :func:`install_error_handlers` renders ``HTTPException`` s (:class:`ApiError`) and
  FastAPI's parameter validation errors in it, and :func:`errors_doc` declares it in the OpenAPI
  document for every status an operation may answer.
* **Request facts** — :func:`trace_id` (validated ``X-Trace-Id`` or a new one), :func:`request_id`
  (a server-generated id, the unique part of REJECTED/ACCESS_DENIED audit ids), :func:`in_thread`
  (blocking database calls off the event loop).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import orjson
import structlog
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)


T = TypeVar("T")


A = TypeVar("A")


R = TypeVar("R")


M = TypeVar("M", bound=BaseModel)


RETRY_AFTER_S = 5
RETRY_LATER: Mapping[str, str] = MappingProxyType({"Retry-After": str(RETRY_AFTER_S)})  # the headers of a 503


TRACE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ApiError(HTTPException):
    """A clear client error: ``status``, a message naming the field, optional headers.

    Rendered as :class:`ErrorBody` (``{"error": message, "detail": message}``) by the handler of
    :func:`install_error_handlers`, or by :func:`error_response` where a handler answers itself.
    """

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, message, headers=dict(headers) if headers else None)
        self.message = message


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON answer serialized with orjson (what FastAPI's JSONResponse does, several times faster)."""
    return Response(orjson.dumps(body), status_code=status, headers=dict(headers) if headers else None,
                    media_type="application/json")


# --------------------------------------------------------------------------- the one error shape


class FieldProblem(BaseModel):
    """One failing field: its path (``conveyance.container_numbers[0]``; ``""`` for the whole body) and
    the problem in plain words."""

    model_config = ConfigDict(title="FieldProblem")

    field: str
    problem: str


class ErrorBody(BaseModel):
    """Every error answer of the REST API (4xx and 503): ``error`` says what is wrong, naming the field
    or parameter first (``after: 'x' is not a cursor``); ``detail`` is the same text (for clients
    written for FastAPI's default error shape); ``errors`` lists every failing field of a 422."""

    model_config = ConfigDict(title="Error", extra="allow")

    error: str = Field(description="what is wrong, in plain words (the field or parameter first)")
    detail: str = Field(description="the same text as `error`")
    errors: list[FieldProblem] | SkipJsonSchema[None] = Field(
        default=None, description="every failing field (422 answers)")
    report_id: str | SkipJsonSchema[None] = Field(
        default=None, description="the report concerned, when the answer is about one (ingest, dry run)")
    request_id: str | SkipJsonSchema[None] = Field(
        default=None, description="the open request that conflicts (409 of a second request)")


def error_body(message: str, **extra: Any) -> dict[str, Any]:
    """The :class:`ErrorBody` of ``message`` (``extra``: ``errors``, ``report_id``, ... when given)."""
    return {"error": message, "detail": message, **{k: v for k, v in extra.items() if v is not None}}


def error_response(exc: ApiError, **extra: Any) -> Response:
    """The error as an :class:`ErrorBody` answer with its status and headers (``errors`` of a 422 included)."""
    errors = getattr(exc, "errors", None)
    return json_response(error_body(exc.message, errors=errors, **extra), exc.status_code, exc.headers)


def unavailable(exc: Exception) -> Response:
    """503 (with Retry-After): the broker is unreachable."""
    log.warning("broker unavailable", error=str(exc))
    return json_response(error_body("the hub cannot reach its broker right now; nothing was accepted, retry later"),
                         503, RETRY_LATER)


def _location(loc: Sequence[Any]) -> str:
    """A parameter's name from a validation error location (``("query", "limit")`` → ``limit``)."""
    parts = list(loc[1:]) if loc and loc[0] in ("query", "path", "header", "cookie", "body") else list(loc)
    return _field(parts) if parts else "request"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (204, 304) or exc.status_code < 200:
        return Response(status_code=exc.status_code, headers=exc.headers)
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    errors = getattr(exc, "errors", None)
    return json_response(error_body(message, errors=errors), exc.status_code, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _location(e.get("loc", ())), "problem": str(e.get("msg", "invalid"))} for e in exc.errors()]
    message = "; ".join(f"{e['field']}: {e['problem']}" for e in errors) or "invalid request"
    return json_response(error_body(message, errors=errors), 422)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every ``HTTPException`` (:class:`ApiError`, unknown paths, 405) and every parameter
    validation error (FastAPI's ``RequestValidationError``, 422) with an :class:`ErrorBody`; and say in
    the OpenAPI document that every operation that may answer 401 takes a bearer token."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_bearer_security(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_bearer_security(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with a ``bearer`` security scheme on every operation documenting a 401 (pure)."""
    doc.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
        "type": "http", "scheme": "bearer",
        "description": "an agency key, desk user, officer, auditor or metrics token, per operation"}
    for ops in doc.get("paths", {}).values():
        for op in ops.values():
            if "401" in op.get("responses", {}):
                op["security"] = [{"bearer": []}]
    return doc


ERROR_DESCRIPTIONS: Mapping[int, str] = MappingProxyType({
    400: "bad request: malformed JSON, a malformed X-Trace-Id header, or a parameter out of range",
    401: "no token, or an unknown or revoked one (WWW-Authenticate: Bearer)",
    403: "the token may not do this (another kind of token, or another state or agency)",
    404: "not found: nothing with this id here (or a path that names no endpoint)",
    409: "conflict with what the hub already holds",
    413: "the body is larger than the limit",
    422: "invalid parameters or body: `error` names the field, `errors` lists every failing one",
    429: "too many open requests",
    503: "a dependency (the broker, the audit trail) is unreachable; retry after Retry-After seconds",
})


_ERROR_HEADERS: Mapping[int, dict[str, Any]] = MappingProxyType({
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}},
})


def errors_doc(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of an operation for the error ``statuses`` it may answer: each an
    :class:`ErrorBody` with a description (the default of :data:`ERROR_DESCRIPTIONS`, or
    ``descriptions["e404"]`` for 404 etc.). Merge the success answers in with ``|``."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody,
                                 "description": descriptions.get(f"e{status}", ERROR_DESCRIPTIONS[status])}
        if status in _ERROR_HEADERS:
            entry["headers"] = _ERROR_HEADERS[status]
        out[status] = entry
    return out


def content_doc(media_type: str, description: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entry of a success answer that is not JSON (Server-Sent Events, CSV, text). Declare
    the route with ``response_class=Response`` (no media type of its own): FastAPI documents the route's
    answers in its response class's media type, so an ``EventSourceResponse`` class would put the error
    bodies under ``text/event-stream`` too."""
    return {status: {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}}


class GroupCommit(Generic[A, R]):
    """Blocking work of many concurrent requests done in batches by one dedicated thread.

    ``await call(arg)`` queues ``arg``; while the thread runs a batch, later calls wait and then go
    together into the next batch: ``batch_fn([arg, ...]) -> [result, ...]`` (same order). Under load
    a whole group of requests costs one thread hand-off and one database transaction instead of one
    each; alone, a call costs the same as ``in_thread``. An exception of ``batch_fn`` is raised in
    every call of that batch.
    """

    def __init__(self, batch_fn: Callable[[list[A]], list[R]], name: str) -> None:
        self.batch_fn = batch_fn
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: list[tuple[A, asyncio.Future[R]]] = []
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # batches run (for tests and the bench)

    async def call(self, arg: A) -> R:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[R] = loop.create_future()
        self._pending.append((arg, fut))
        if not self._running:
            self._running = True
            self._task = loop.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                self.batches += 1
                try:
                    results = await loop.run_in_executor(self._executor, self.batch_fn, [a for a, _ in batch])
                except Exception as exc:
                    for _, f in batch:
                        if not f.done():
                            f.set_exception(exc)
                    continue
                for (_, f), r in zip(batch, results, strict=True):
                    if not f.done():
                        f.set_result(r)
        finally:
            self._running = False

    def close(self) -> None:
        self._executor.shutdown(wait=True)


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking call (a database statement) in a worker thread, off the event loop.

    :class:`hub.db.Database` keeps one connection per thread, so this is safe for it.
    """
    return await asyncio.to_thread(fn, *args)


_ID_PREFIX = os.urandom(8).hex()  # per process: ids of different processes never collide


_ID_COUNTER = itertools.count(1)


def new_id() -> str:
    """A new id unique across processes and time (32 hex digits: a random process prefix + a counter)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def request_id(request: Request) -> str:
    """A server-generated id of this request (stable for the request; never from the client)."""
    state = request.scope.setdefault("state", {})
    rid = state.get("request_id")
    if rid is None:
        rid = state["request_id"] = new_id()
    return rid


def trace_id(request: Request) -> str:
    """The client's ``X-Trace-Id`` when valid (1–64 of ``[A-Za-z0-9_-]``), else a new one; 400 when invalid."""
    value = request.headers.get("x-trace-id")
    if value is None:
        return os.urandom(16).hex()  # random: it travels to every recipient, so it must not count requests
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


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (None when absent or malformed)."""
    if authorization and authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
        return token or None
    return None


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
    (422 naming every failing field: ``{"error": "report_id: Field required", "errors": [...]}``)."""
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


class PlainRoute(APIRoute):
    """A route registered once, with FastAPI's decorator (so the OpenAPI document comes from the same
    declaration), whose handler takes the :class:`Request` and returns a :class:`Response` itself.

    FastAPI runs no dependency solver, parameter validation or response serialization for it: the
    handler authenticates, reads its body with an explicit limit and answers (the ingest hot path).
    Use it as ``APIRouter(route_class=PlainRoute)``; ``include_router`` keeps the class.
    """

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        return self.endpoint

"""Denied requests (SPEC §8, §9): audited ACCESS_DENIED, aggregated so a flood stays bounded; unread
bodies are never read.

:class:`DenialMiddleware` (pure ASGI, so Server-Sent Events stream through untouched) does two things
for every HTTP request:

* **Unread bodies close the connection.** When the answer starts before the request body was read to
  its end (a 401/403 from the auth dependency, a 413 from the body reader), the answer carries
  ``Connection: close`` and the server closes the connection after it instead of reading and
  discarding the rest (an unauthenticated 150 MB upload costs the gateway at most uvicorn's 64 KiB
  read-ahead).
* **Every 401/403 is audited** as ``ACCESS_DENIED`` naming the actor (the token's principal when it is
  valid, else ``anonymous`` or ``invalid-token`` -- never the token itself), the path, method, status
  and client address. Handlers that audited the denial in more detail (the officer-of-state check)
  set ``scope["state"]["audited"]``.

Aggregation (:class:`Denials`): the **source** of a denial is (client address, actor, state asked
for); the **window** is ``HUB_DENIAL_WINDOW_SECONDS`` (default 60 s, aligned to the clock). The first
denial of a source in a window is audited at once (``detail.count`` = 1); the later ones of that
window are counted and audited as one record when the window closes (``detail.aggregated`` = true,
``detail.count`` = how many, ``detail.paths`` = JSON object path → count, at most
:data:`MAX_PATHS` paths). At most :data:`MAX_SOURCES` sources are tracked per window; denials of
further sources are counted in one overflow record (``actor`` ``*``, ``detail.sources``). So a
window adds at most ``2 × MAX_SOURCES + 1`` audit records however many requests are denied (a flood
from one client: 2 records per window). Event ids take their unique part from the server (request id /
window), never from the client.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import structlog

from hub.audit.emit import Audit
from hub.domain.audit_events import audit_event
from hub.platform.http import bearer
from hub.platform.tasks import cancel

log = structlog.get_logger(__name__)

Scope = dict[str, Any]
MAX_SOURCES = 1000
MAX_PATHS = 20
OVERFLOW = ("*", "*", None)


@dataclass
class _Source:
    reason: str
    count: int = 0  # later denials (after the first, which was audited at once)
    paths: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    sources: set[tuple[str, str, str | None]] = field(default_factory=set)  # overflow entry only
    first_at: int = 0
    last_at: int = 0


def _ms() -> int:
    return int(time.time() * 1000)


class Denials:
    """ACCESS_DENIED audit events, aggregated per source and window (see the module docstring)."""

    def __init__(self, audit: Audit, window_s: float, max_sources: int = MAX_SOURCES) -> None:
        self.audit = audit
        self.window_s = max(0.05, float(window_s))
        self.max_sources = max_sources
        self._window = self._index()
        self._open: dict[tuple[str, str, str | None], _Source] = {}
        self._task: asyncio.Task[None] | None = None
        self.emitted = 0  # audit events handed to the emitter (for tests and metrics)

    def _index(self) -> int:
        return int(time.time() // self.window_s)

    async def deny(self, request: Any, status: int, *, actor: str, reason: str, state: str | None = None) -> None:
        """Record one denied request (audits at once when it is its source's first in the window)."""
        scope = request.scope if hasattr(request, "scope") else request
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        path, method = scope.get("path", ""), scope.get("method", "")
        await self._roll()
        key = (address, actor, state)
        now = _ms()
        entry = self._open.get(key)
        if entry is None and len(self._open) < self.max_sources:
            self._open[key] = _Source(reason, first_at=now, last_at=now)
            rid = scope.setdefault("state", {}).get("request_id") or uuid.uuid4().hex
            ev = audit_event("ACCESS_DENIED", state=state, actor=actor, reason=reason, occurred_at=now,
                             unique=f"denied:{rid}",
                             detail={"path": path, "method": method, "status": status, "client": address,
                                     "count": 1, "window_start": self._window_start(), "window_s": self.window_s})
            await self._emit([ev])
            return
        if entry is None:
            entry = self._open.setdefault(OVERFLOW, _Source("denials of sources beyond the per-window limit",
                                                            first_at=now))
            entry.sources.add(key)
        entry.count += 1
        entry.last_at = now
        entry.statuses[status] += 1
        if path in entry.paths or len(entry.paths) < MAX_PATHS:
            entry.paths[path] += 1
        else:
            entry.paths["(other paths)"] += 1

    def _window_start(self) -> str:
        return str(int(self._window * self.window_s * 1000))

    async def _roll(self) -> None:
        """Close the window when the clock moved past it: audit every aggregate, start a new one."""
        w = self._index()
        if w != self._window:
            closed, start = self._open, self._window_start()
            self._open, self._window = {}, w
            await self._flush(closed, start)

    async def _flush(self, closed: dict[tuple[str, str, str | None], _Source], start: str) -> None:
        events = []
        for (address, actor, state), e in closed.items():
            if e.count == 0:
                continue
            detail = {"aggregated": "true", "count": e.count, "client": address, "window_start": start,
                      "window_s": self.window_s, "first_at": e.first_at, "last_at": e.last_at,
                      "paths": json.dumps(dict(e.paths), sort_keys=True),
                      "statuses": json.dumps({str(k): v for k, v in sorted(e.statuses.items())})}
            if e.sources:
                detail["sources"] = len(e.sources)
            events.append(audit_event("ACCESS_DENIED", state=state, actor=actor, occurred_at=e.last_at,
                                      reason=f"{e.count} more denied in this window: {e.reason}",
                                      unique=f"denied-window:{start}:{address}:{uuid.uuid4().hex}", detail=detail))
        await self._emit(events)

    async def _emit(self, events: list[dict[str, Any]]) -> None:
        if events:
            self.emitted += len(events)
            await self.audit.emit(events, required=False)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.window_s / 4))
            try:
                await self._roll()
            except Exception as exc:  # never let the loop die
                log.warning("denial aggregation flush failed", error=str(exc))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        """Stop the flush loop and audit every open aggregate."""
        await cancel(self._task)
        self._task = None
        closed, self._open = self._open, {}
        await self._flush(closed, self._window_start())


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
        if name == b"transfer-encoding":
            return True
    return False


class DenialMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = not _has_body(scope)
        status: list[int] = []

        async def receive_tracked() -> dict[str, Any]:
            nonlocal body_done
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body_done = True
            return message

        async def send_tracked(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                if not body_done:  # answered before the body was read: never read the rest
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive_tracked, send_tracked)
        if not status or status[0] not in (401, 403):
            return
        state = scope.get("state") or {}
        if state.get("audited"):
            return
        application = scope["app"]
        try:
            actor = await _actor(application, scope)
            reason = "no valid token" if status[0] == 401 else f"{actor} is not allowed here"
            await application.state.denials.deny(scope, status[0], actor=actor, reason=reason)
        except Exception as exc:  # the answer already went out; keep the attempt in the log
            log.error("could not audit a denied request", error=str(exc), path=scope["path"], status=status[0])


async def _actor(application: Any, scope: Scope) -> str:
    who = (scope.get("state") or {}).get("principal")
    if who is not None:
        return str(who.label)
    auth = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
    if not auth:
        return "anonymous"
    found = await application.state.auth.principal(bearer(auth))
    return found.label if found is not None else "invalid-token"

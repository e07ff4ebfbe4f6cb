"""Compose the gateway's FastAPI app from its parts.

Each part is a module with ``router`` (an ``APIRouter``) and optionally ``async startup(app)`` /
``async shutdown(app)``. Shared resources live on ``app.state`` and are created here, once per
process (see :mod:`hub.gateway.base`): ``settings``, ``db``, ``auth`` (:class:`~hub.gateway.base.Auth`),
``producer`` (:class:`~hub.gateway.base.Producer`), ``audit`` (:class:`~hub.gateway.base.Audit`) and
``denials`` (:class:`~hub.gateway.denials.Denials`).

A part may also declare ``FAST_ROUTES`` ({(method, path): handler(request) -> response}): those exact
paths are served by :class:`FastRoutes` straight from the middleware stack, without FastAPI's router
and dependency layers (the ingest hot path). The part keeps its FastAPI routes for the OpenAPI
document; both call the same handler.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from hub.audit.emit import Audit
from hub.directory.access import Auth
from hub.directory.auth import Credentials
from hub.gateway.denials import DenialMiddleware, Denials
from hub.platform.db import Database
from hub.platform.kafka.producer import Producer
from hub.platform.settings import Settings

PARTS: tuple[str, ...] = (
    "hub.gateway.ops",
    "hub.ingest.http",  # connectors: POST /v1/reports, /v1/reports/batch
    "hub.feeds.http",  # feeds: SSE, JSON pages, acks
    "hub.audit.http",  # audit trail/verify for auditor tokens
    "hub.analyst.http",  # analyst workspace: incidents, search, stats, exports (§14)
    "hub.pages.officer",  # officer web page
    "hub.provider.http",  # provider (SPEC §13): status, receipts, requests, answers
    "hub.pages.desk",  # provider: the agency desk page and the officer page's request panel
    "hub.projections.http",  # read models: lag per projection (GET /v1/projections)
)


Handler = Callable[[Request], Awaitable[Response]]


class FastRoutes:
    """Pure-ASGI dispatch of a few exact (method, path) routes to plain ``handler(request)`` functions;
    everything else goes to ``app``."""

    def __init__(self, app: Any, routes: dict[tuple[str, str], Handler]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        handler = self.routes.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        response = await handler(Request(scope, receive))
        await response(scope, receive, send)


class GatewayApp(FastAPI):
    """The FastAPI app behind :class:`~hub.gateway.denials.DenialMiddleware` and :class:`FastRoutes`.

    Both sit in front of FastAPI itself, so the hot ingest routes skip FastAPI's per-request work
    (telemetry hooks, the exception middlewares, the router and dependency solver) while every
    answer, fast or not, passes the denial middleware."""

    fast_routes: dict[tuple[str, str], Handler]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        outer = self.__dict__.get("_outer")
        if outer is None:
            outer = self.__dict__["_outer"] = DenialMiddleware(FastRoutes(super().__call__, self.fast_routes))
        scope["app"] = self
        await outer(scope, receive, send)


def create_app(settings: Settings) -> GatewayApp:
    modules = [importlib.import_module(name) for name in PARTS]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = []
        try:
            app.state.denials.start()
            for m in modules:
                if hasattr(m, "startup"):
                    await m.startup(app)
                started.append(m)
            yield
        finally:
            for m in reversed(started):
                if hasattr(m, "shutdown"):
                    await m.shutdown(app)
            await app.state.denials.close()
            await app.state.producer.close()
            app.state.db.close()

    app = GatewayApp(title="CARICC intelligence-sharing hub", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.db = Database(settings.db_url)
    app.state.credentials = Credentials(app.state.db)
    app.state.auth = Auth(app.state.credentials)
    app.state.producer = Producer(settings)
    app.state.audit = Audit(app.state.producer)
    app.state.denials = Denials(app.state.audit, settings.denial_window_seconds)
    for m in modules:
        app.include_router(m.router)
    app.fast_routes = {}
    for m in modules:
        app.fast_routes |= getattr(m, "FAST_ROUTES", {})
    return app

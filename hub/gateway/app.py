"""Compose the gateway's FastAPI app from its parts.

Each part is a module with ``router`` (an ``APIRouter``) and optionally ``async startup(app)`` /
``async shutdown(app)``. Shared resources live on ``app.state`` and are created here, once per
process (see :mod:`hub.gateway.base`): ``settings``, ``db``, ``auth`` (:class:`~hub.gateway.base.Auth`),
``producer`` (:class:`~hub.gateway.base.Producer`), ``audit`` (:class:`~hub.gateway.base.Audit`) and
``denials`` (:class:`~hub.gateway.denials.Denials`).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub.auth import Credentials
from hub.db import Database
from hub.gateway.base import Audit, Auth, Producer
from hub.gateway.denials import DenialMiddleware, Denials
from hub.settings import Settings

PARTS: tuple[str, ...] = (
    "hub.gateway.ops",
    "hub.gateway.ingest",  # connectors: POST /v1/reports, /v1/reports/batch
    "hub.gateway.feeds",  # feeds: SSE, JSON pages, acks
    "hub.gateway.audit_api",  # audit trail/verify for auditor tokens
    "hub.gateway.analyst",  # analyst workspace: incidents, search, stats, exports (§14)
    "hub.gateway.web",  # officer web page
)


def create_app(settings: Settings) -> FastAPI:
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

    app = FastAPI(title="CARICC intelligence-sharing hub", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.db = Database(settings.db_url)
    app.state.credentials = Credentials(app.state.db)
    app.state.auth = Auth(app.state.credentials)
    app.state.producer = Producer(settings)
    app.state.audit = Audit(app.state.producer)
    app.state.denials = Denials(app.state.audit, settings.denial_window_seconds)
    for m in modules:
        app.include_router(m.router)
    app.add_middleware(DenialMiddleware)
    return app

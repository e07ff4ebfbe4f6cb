"""Compose the gateway's FastAPI app from its parts.

Each part is a module with ``router`` (an ``APIRouter``) and optionally ``async startup(app)`` /
``async shutdown(app)``. Shared resources live on ``app.state`` and are created here, once per
process (see :mod:`hub.gateway.base`): ``settings``, ``db``, ``auth`` (:class:`~hub.gateway.base.Auth`),
``producer`` (:class:`~hub.gateway.base.Producer`), ``audit`` (:class:`~hub.gateway.base.Audit`) and
``denials`` (:class:`~hub.gateway.denials.Denials`).

Every route is registered once, by its part's router; the hot ingest routes are
:class:`~hub.platform.http.PlainRoute` s (no dependency solver), served by the same router. The
middleware is declared here, in the open: :class:`~hub.gateway.denials.DenialMiddleware` sees every
answer and audits ACCESS_DENIED for 401/403 that no endpoint audited itself. Every error answers
one documented shape (:class:`~hub.platform.http.ErrorBody`; the handlers of
:func:`~hub.platform.http.install_error_handlers`).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub.audit.emit import Audit
from hub.directory.access import Auth
from hub.directory.agencies import kafka_native_codes
from hub.directory.auth import Credentials
from hub.gateway.denials import DenialMiddleware, Denials
from hub.platform.db import Database
from hub.platform.http import install_error_handlers
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
    "hub.interop.taxii",  # interoperability (§15): each state feed as STIX 2.1 over TAXII 2.1
    "hub.pages.docs",  # /docs: Swagger UI served by the gateway (no CDN)
    "hub.projections.http",  # read models: lag per projection (GET /v1/projections)
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

    # FastAPI's own /docs and /redoc load their scripts from a CDN: hub.pages.docs serves /docs instead
    app = FastAPI(title="CARICC intelligence-sharing hub", version="0.1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.db = Database(settings.db_url)
    app.state.credentials = Credentials(app.state.db)
    app.state.auth = Auth(app.state.credentials)
    app.state.producer = Producer(settings, agency_codes=lambda: kafka_native_codes(settings))
    app.state.audit = Audit(app.state.producer)
    app.state.denials = Denials(app.state.audit, settings.denial_window_seconds)
    for m in modules:
        app.include_router(m.router)
    install_error_handlers(app)  # one error body everywhere (hub.platform.http.ErrorBody)
    app.add_middleware(DenialMiddleware)
    return app

"""Operations endpoints of the gateway: ``/healthz``, ``/readyz``, ``/metrics``.

``/metrics`` shows per-agency traffic, so it is not open: it answers only a request carrying the
metrics token (``Authorization: Bearer <token>``, compared in constant time), 401 otherwise (audited
like every 401). The token is ``HUB_METRICS_TOKEN``; when unset, the development profile creates
``HUB_DATA_DIR/metrics.token`` (0600) on first start, and the production profile
(``HUB_KAFKA_BOOTSTRAP`` set) refuses to start without it. Prometheus sends it with
``authorization: {credentials_file: …}`` (deploy/prometheus/prometheus.yml).

``/readyz`` answers from checks a background task refreshes every few seconds (broker reachable with
the hub's topics, database answering), so probes and scrapes never wait on the broker. The same task
sets ``hub_dependency_up{dependency}``.
"""

from __future__ import annotations

import asyncio
import hmac
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.platform.health import BrokerProbe, database_check, readiness
from hub.platform.http import ApiError, bearer, content_doc, errors_doc
from hub.platform.kafka import topics
from hub.platform.keys import MIN_KEY_CHARS, MissingSecret, _from_file
from hub.platform.metrics import BUILD_INFO, DEPENDENCY_UP
from hub.platform.settings import Settings
from hub.platform.tasks import cancel

log = structlog.get_logger(__name__)
router = APIRouter(tags=["operations"])
CHECK_INTERVAL = 5.0


def metrics_token(settings: Settings) -> str:
    """The bearer token of ``/metrics`` (``HUB_METRICS_TOKEN``, else HUB_DATA_DIR/metrics.token in the dev profile)."""
    if settings.metrics_token:
        if len(settings.metrics_token) < MIN_KEY_CHARS:
            raise MissingSecret(f"HUB_METRICS_TOKEN: should have at least {MIN_KEY_CHARS} characters")
        return settings.metrics_token
    if not settings.embedded:
        raise MissingSecret("HUB_METRICS_TOKEN is required with HUB_KAFKA_BOOTSTRAP (production profile): "
                            "Prometheus sends it to scrape the gateway's /metrics")
    return _from_file(Path(settings.data_dir) / "metrics.token").decode()


def _version() -> str:
    try:
        return version("caricc-hub")
    except PackageNotFoundError:
        return "unknown"


async def refresh(app: FastAPI) -> dict[str, object]:
    """Run every check once and publish the results (``app.state.health`` and the gauges)."""
    results: dict[str, object] = {
        "broker": await app.state.broker_probe.check(),
        "database": await asyncio.to_thread(database_check, app.state.db),
    }
    for name, result in results.items():
        DEPENDENCY_UP.labels(name).set(1 if result is True else 0)
        if result is not True and app.state.health.get(name) is True:
            log.warning("dependency check failed", dependency=name, problem=result)
    app.state.health = results
    return results


async def _loop(app: FastAPI) -> None:
    while True:
        try:
            await refresh(app)
        except Exception as exc:  # never let the health loop die
            log.warning("health check loop error", error=str(exc))
        await asyncio.sleep(CHECK_INTERVAL)


async def startup(app: FastAPI) -> None:
    settings = app.state.settings
    app.state.metrics_token = metrics_token(settings).encode()
    BUILD_INFO.labels(_version(), "gateway").set(1)
    app.state.health = {"broker": None, "database": None}
    app.state.broker_probe = BrokerProbe(settings, required_topics=(topics.INTAKE, topics.AUDIT))
    app.state.health_task = asyncio.create_task(_loop(app))


async def shutdown(app: FastAPI) -> None:
    await cancel(getattr(app.state, "health_task", None))
    probe = getattr(app.state, "broker_probe", None)
    if probe is not None:
        await probe.close()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Alive (the process answers HTTP)."""
    return {"status": "ok"}


READINESS_DOC = {"type": "object", "required": ["ready", "checks"], "properties": {
    "ready": {"type": "boolean"},
    "checks": {"type": "object", "additionalProperties": {"type": "string"},
               "description": "each dependency: `ok`, `not checked yet`, or what is wrong"}}}


@router.get("/readyz", responses={
    200: {"description": "ready", "content": {"application/json": {"schema": READINESS_DOC}}},
    503: {"description": "not ready: `checks` says which dependency is not", "content": {
        "application/json": {"schema": READINESS_DOC}}}})
async def readyz(request: Request, response: Response) -> dict[str, object]:
    """Ready: the broker answers and has the hub's topics, and the database answers (503 otherwise)."""
    state = request.app.state
    checks = getattr(state, "health", None) or {"broker": None, "database": None}
    ready, body = readiness(checks)
    response.status_code = 200 if ready else 503
    return body


@router.get("/metrics", response_class=Response, responses=content_doc(
    CONTENT_TYPE_LATEST.split(";")[0], "every hub_* series of this process (Prometheus text format)") | errors_doc(
    401, e401="no or a wrong metrics token (WWW-Authenticate: Bearer)"))
async def metrics(request: Request) -> Response:
    """Prometheus text format (every ``hub_*`` series of this process); needs the metrics token."""
    token = bearer(request.headers.get("authorization"))
    if token is None or not hmac.compare_digest(token.encode(), request.app.state.metrics_token):
        raise ApiError(401, "authorization: /metrics needs 'Authorization: Bearer <metrics token>' "
                            "(HUB_METRICS_TOKEN, or HUB_DATA_DIR/metrics.token)", {"WWW-Authenticate": "Bearer"})
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

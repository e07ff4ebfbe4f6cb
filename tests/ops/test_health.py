"""/healthz and /readyz on a real gateway (uvicorn) against the embedded broker and SQLite."""

from __future__ import annotations

import asyncio
import time

import httpx

from hub.gateway.app import create_app
from hub.platform.health import readiness
from hub.platform.kafka.embedded import free_port
from hub.platform.kafka.topics import ensure_topics
from hub.platform.settings import Settings
from tests.conftest import hub_settings
from tests.helpers import metrics_auth

from .conftest import serve


def test_readiness_aggregation() -> None:
    assert readiness({"broker": True, "database": True}) == (
        True, {"ready": True, "checks": {"broker": "ok", "database": "ok"}})
    ready, body = readiness({"broker": True, "tables": "recovering 3 of 8 partitions", "db": None})
    assert not ready
    assert body["checks"] == {"broker": "ok", "tables": "recovering 3 of 8 partitions", "db": "not checked yet"}
    assert readiness({})[0] is False
    assert readiness({"x": False})[1]["checks"]["x"] == "failed"


def _wait_ready(base: str, want: int) -> httpx.Response:
    deadline = time.monotonic() + 15
    while True:
        r = httpx.get(f"{base}/readyz", timeout=5)
        if r.status_code == want or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def test_ready_with_broker_topics_and_database(settings: Settings) -> None:
    asyncio.run(ensure_topics(settings))
    with serve(create_app(settings)) as base:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        r = _wait_ready(base, 200)
        assert r.status_code == 200, r.text
        assert r.json() == {"ready": True, "checks": {"broker": "ok", "database": "ok"}}
        text = httpx.get(f"{base}/metrics", headers=metrics_auth(settings)).text
        assert 'hub_dependency_up{dependency="broker"} 1.0' in text
        assert 'hub_dependency_up{dependency="database"} 1.0' in text


def test_not_ready_when_broker_unreachable(tmp_path) -> None:
    dead = hub_settings(kafka_bootstrap=f"127.0.0.1:{free_port()}", data_dir=str(tmp_path))
    with serve(create_app(dead)) as base:
        assert httpx.get(f"{base}/healthz").status_code == 200  # alive, but…
        r = httpx.get(f"{base}/readyz")
        deadline = time.monotonic() + 15
        while r.json()["checks"]["broker"] == "not checked yet" and time.monotonic() < deadline:
            time.sleep(0.1)
            r = httpx.get(f"{base}/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["ready"] is False
        assert body["checks"]["database"] == "ok"
        assert "broker 127.0.0.1:" in body["checks"]["broker"]
        assert 'hub_dependency_up{dependency="broker"} 0.0' in httpx.get(f"{base}/metrics", headers=metrics_auth(dead)).text

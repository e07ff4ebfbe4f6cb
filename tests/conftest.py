"""Shared fixtures: one embedded broker per test session, settings pointing at it, subprocess env."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub import settings as settings_mod
from hub.embedded import EmbeddedBroker
from hub.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# the secrets of the test profile (hub/keys.py); subprocesses get them through hub_env
TEST_ID_KEY = b"test-id-key-not-a-secret"
TEST_AUDIT_KEY = b"test-audit-key-not-a-secret"
TEST_METRICS_TOKEN = "test-metrics-token-not-a-secret"  # the gateway's /metrics (hub/gateway/ops.py)


def hub_settings(**overrides: object) -> Settings:
    """Settings of the test profile: defaults, the test secrets, then ``overrides``."""
    return settings_mod.load({}, id_key=TEST_ID_KEY.decode(), audit_key=TEST_AUDIT_KEY.decode(),
                             metrics_token=TEST_METRICS_TOKEN, **overrides)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    b = EmbeddedBroker(log_path=str(log)).start()
    yield b
    b.stop()


@pytest.fixture
def settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    """Settings for the embedded profile on the session broker, with a private data dir."""
    return hub_settings(embedded_port=broker.port, data_dir=str(tmp_path / "hub"), partitions=2)


def hub_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for ``python -m hub …`` subprocesses that use ``settings``."""
    env = dict(os.environ)
    env.update({
        "HUB_EMBEDDED_PORT": str(settings.embedded_port),
        "HUB_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "HUB_DATA_DIR": settings.data_dir,
        "HUB_PARTITIONS": str(settings.partitions),
        "HUB_LOG_FORMAT": "json",
        "PYTHONPATH": str(ROOT),
    })
    if settings.id_key:
        env["HUB_ID_KEY"] = settings.id_key
    if settings.audit_key:
        env["HUB_AUDIT_KEY"] = settings.audit_key
    if settings.metrics_token:
        env["HUB_METRICS_TOKEN"] = settings.metrics_token
    if settings.database_url:
        env["HUB_DATABASE_URL"] = settings.database_url
    env.update(extra)
    return env


HUB = [sys.executable, "-m", "hub"]

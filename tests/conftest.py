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


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    b = EmbeddedBroker(log_path=str(log)).start()
    yield b
    b.stop()


@pytest.fixture
def settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    """Settings for the embedded profile on the session broker, with a private data dir."""
    return settings_mod.load({}, embedded_port=broker.port, data_dir=str(tmp_path / "hub"), partitions=2)


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
    if settings.database_url:
        env["HUB_DATABASE_URL"] = settings.database_url
    env.update(extra)
    return env


HUB = [sys.executable, "-m", "hub"]

"""hub.intake is the pipeline's sequencer (one consume hop, docs/pipeline.md): created with ONE partition,
and a hub.intake left with several partitions by the two-hop layout is refused by `hub worker`, naming
the topic and what to do (partitions cannot be removed)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.platform.kafka.clients import client_settings
from hub.platform.kafka.topics import INTAKE, SEQUENCED_TOPICS, VALIDATED, all_topics, check_sequenced
from hub.platform.settings import Settings
from tests.conftest import HUB, broker_settings, hub_env, hub_settings, start_broker

pytestmark = pytest.mark.both_brokers


def test_the_sequenced_topics_have_one_partition_whatever_the_setting() -> None:
    specs = {t.name: t.partitions for t in all_topics(hub_settings(partitions=4))}
    assert {INTAKE, VALIDATED} <= SEQUENCED_TOPICS
    assert specs[INTAKE] == specs[VALIDATED] == 1
    assert specs["hub.audit"] == 4  # the others keep HUB_PARTITIONS


@pytest.fixture(scope="module")
def old_layout(broker_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A broker whose hub.intake was created with 3 partitions (what the two-hop layout did)."""
    tmp = tmp_path_factory.mktemp("sequenced")
    broker = start_broker(broker_kind, tmp / "broker")
    try:
        s = broker_settings(broker, data_dir=str(tmp), partitions=3)

        async def create() -> None:
            admin = AIOKafkaAdminClient(bootstrap_servers=s.bootstrap, **client_settings(s).admin)
            await admin.start()
            try:
                await admin.create_topics([NewTopic(INTAKE, 3, 1)])
            finally:
                await admin.close()

        asyncio.run(create())
        yield s
    finally:
        broker.stop()


def test_a_multi_partition_intake_is_refused(old_layout: Settings, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"hub.intake has 3 partitions.*exactly 1.*hub topics create"):
        asyncio.run(check_sequenced(old_layout))
    r = subprocess.run([*HUB, "worker", "--port", "0", "--store", "memory"], env=hub_env(old_layout),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "hub.intake has 3 partitions" in r.stderr, r.stderr[-2000:]

"""Topics are created explicitly and idempotently; an Avro report makes a real broker round trip."""

from __future__ import annotations

import subprocess

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from hub.domain.codec import REPORT, codec
from hub.platform.kafka import topics
from hub.platform.kafka.clients import client_settings
from tests.conftest import HUB, hub_env
from tests.factories import report


def test_topics_create_is_idempotent_via_the_cli(settings) -> None:
    first = subprocess.run([*HUB, "topics", "create"], env=hub_env(settings), capture_output=True,
                           text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([*HUB, "topics", "create"], env=hub_env(settings), capture_output=True,
                            text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert "0 topic(s) created" in second.stdout


async def test_avro_report_round_trip_through_created_topics(settings) -> None:
    await topics.ensure_topics(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **client_settings(settings).admin)
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics([topics.INTAKE, topics.feed("UZ")])}
        assert settings.partitions > 1
        assert len(described[topics.INTAKE]["partitions"]) == 1  # the sequencer (docs/pipeline.md)
        assert len(described[topics.feed("UZ")]["partitions"]) == settings.partitions
        assert set(await admin.list_topics()) >= {t.name for t in topics.all_topics(settings)}
    finally:
        await admin.close()

    cs = client_settings(settings)
    r = report(source_ref="RT-1")
    data = codec().encode(REPORT, r)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, **cs.producer)
    await producer.start()
    try:
        await producer.send_and_wait(topics.INTAKE, data, key=b"KZ-CUSTOMS:RT-1",
                                     headers=[("trace_id", b"t-1")])
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topics.INTAKE, bootstrap_servers=settings.bootstrap,
                                group_id="roundtrip-test", **cs.consumer)
    await consumer.start()
    try:
        found = None
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                for m in msgs:
                    if m.key == b"KZ-CUSTOMS:RT-1":
                        found = m
            if found:
                break
    finally:
        await consumer.stop()
    assert found is not None
    assert dict(found.headers)["trace_id"] == b"t-1"
    back = codec().decode(found.value, expect=REPORT)
    assert back["report_id"] == r["report_id"] and back["source_ref"] == "RT-1"


async def test_the_gateway_producer_recreates_the_agency_intake_topics_it_is_given(settings) -> None:
    from hub.domain.wire import intake_record
    from hub.platform.kafka.producer import Producer

    prod = Producer(settings, agency_codes=lambda: ["TJ-GW-NATIVE"])
    try:
        await prod.send([intake_record(report(source_ref="GW-1"))])
    finally:
        await prod.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **client_settings(settings).admin)
    await admin.start()
    try:
        assert topics.agency_intake("TJ-GW-NATIVE") in await admin.list_topics()
    finally:
        await admin.close()

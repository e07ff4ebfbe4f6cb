"""Topics are created explicitly and idempotently; an Avro report makes a real broker round trip."""

from __future__ import annotations

import subprocess
import uuid

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


async def test_a_record_sent_at_once_lands_where_a_lingering_send_puts_its_key(settings) -> None:
    """``Producer.send(now=True)`` (an SSE stream's DELIVERED audit: no linger) picks the partition the
    default partitioner picks for the same key, so the records of one key stay in order."""
    from hub.platform.kafka.io import Record
    from hub.platform.kafka.producer import Producer

    await topics.ensure_topics(settings)
    topic = topics.feed(settings.recipients[0])
    keys = [f"key-{n}".encode() for n in range(24)]
    run = uuid.uuid4().hex.encode()  # this test's records, on a topic other tests share
    lingered, now = b"lingered-" + run, b"now-" + run
    prod = Producer(settings)
    try:
        await prod.send([Record(topic, k, lingered) for k in keys])
        await prod.send([Record(topic, k, now) for k in keys], now=True)
    finally:
        await prod.close()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.bootstrap, group_id=None,
                                **client_settings(settings).consumer)
    await consumer.start()
    where: dict[bytes, dict[bytes, int]] = {lingered: {}, now: {}}
    try:
        while len(where[lingered]) + len(where[now]) < 2 * len(keys):
            batches = await consumer.getmany(timeout_ms=2000)
            assert batches, "the records did not all come back"
            for tp, msgs in batches.items():
                for m in msgs:
                    if m.value in where:
                        where[m.value][m.key] = tp.partition
    finally:
        await consumer.stop()
    assert where[now] == where[lingered] and len(where[now]) == len(keys)
    assert len(set(where[now].values())) > 1  # the keys are spread: the partition is really chosen

"""The lag monitor on both brokers: produce N, consume and commit M, the gauge shows N−M."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.platform.kafka.clients import client_settings
from hub.platform.kafka.io import consumer, producer
from hub.platform.kafka.lag import LagMonitor, lag, topic_sizes
from hub.platform.metrics import CONSUMER_LAG, TOPIC_MESSAGES
from hub.platform.settings import Settings

pytestmark = pytest.mark.both_brokers


def test_lag_arithmetic() -> None:
    hw = {("t", 0): 10, ("t", 1): 5, ("t", 2): 7}
    committed = {("t", 0): 4, ("t", 1): None, ("t", 2): 9}
    assert lag(hw, committed, {("t", 1): 2}) == {("t", 0): 6, ("t", 1): 3, ("t", 2): 0}
    assert topic_sizes(hw, {("t", 1): 2}) == {"t": 20}


async def _create(settings: Settings, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **client_settings(settings).admin)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def _produce(settings: Settings, topic: str, n: int) -> None:
    p = producer(settings)
    await p.start()
    try:  # batched sends: exactly the case where the embedded broker's end_offsets() is wrong
        futures = [await p.send(topic, b"m%d" % i, partition=i % 2) for i in range(n)]
        await asyncio.gather(*futures)
    finally:
        await p.stop()


async def _consume_commit(settings: Settings, topic: str, group: str, m: int) -> None:
    c = consumer(settings, group_id=group)  # manual assignment: commits without a group join
    await c.start()
    c.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
    try:
        got = 0
        while got < m:
            batch = await c.getmany(timeout_ms=1000, max_records=m - got)
            got += sum(len(v) for v in batch.values())
        await c.commit()
    finally:
        await c.stop()


def _gauge(group: str, topic: str, partition: int) -> float:
    return CONSUMER_LAG.labels(group, topic, str(partition))._value.get()


async def test_monitor_reports_produced_minus_committed(settings: Settings) -> None:
    topic, group = f"ops.lag.{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    await _create(settings, topic, 2)
    await _produce(settings, topic, 40)
    await _consume_commit(settings, topic, group, 15)

    async with LagMonitor(settings, group, [topic], interval=0.2) as monitor:
        result = await monitor.measure()
        assert sum(result.values()) == 40 - 15
        assert _gauge(group, topic, 0) + _gauge(group, topic, 1) == 25
        assert TOPIC_MESSAGES.labels(topic)._value.get() == 40

        # it follows new traffic and new commits (background task as the worker/sink will run it)
        task = asyncio.create_task(monitor.run())
        await _produce(settings, topic, 10)
        await _consume_commit(settings, topic, group, 5)
        for _ in range(50):
            if _gauge(group, topic, 0) + _gauge(group, topic, 1) == 50 - 20:
                break
            await asyncio.sleep(0.1)
        await monitor.stop()
        await asyncio.wait_for(task, 10)
    assert _gauge(group, topic, 0) + _gauge(group, topic, 1) == 30
    assert TOPIC_MESSAGES.labels(topic)._value.get() == 50


async def test_group_that_never_committed_lags_by_everything(settings: Settings) -> None:
    topic = f"ops.lag.{uuid.uuid4().hex[:8]}"
    await _create(settings, topic, 2)
    await _produce(settings, topic, 9)
    async with LagMonitor(settings, "nobody", [topic]) as monitor:
        assert await monitor.measure() == {(topic, 0): 5, (topic, 1): 4}


async def test_size_only_topics_have_no_lag_series(settings: Settings) -> None:
    lagged, sized = f"ops.lag.{uuid.uuid4().hex[:8]}", f"ops.dlq.{uuid.uuid4().hex[:8]}"
    await _create(settings, lagged, 2)
    await _create(settings, sized, 2)
    await _produce(settings, lagged, 4)
    await _produce(settings, sized, 7)
    async with LagMonitor(settings, "g-size", [lagged], size_topics=[sized]) as monitor:
        assert await monitor.measure() == {(lagged, 0): 2, (lagged, 1): 2}
    assert TOPIC_MESSAGES.labels(sized)._value.get() == 7
    assert TOPIC_MESSAGES.labels(lagged)._value.get() == 4

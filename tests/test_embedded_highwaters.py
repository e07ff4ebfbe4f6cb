"""The embedded broker's ListOffsets undercounts batched partitions; fetch_highwaters is right."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub import kafka
from hub.embedded import fetch_highwaters


async def test_fetch_highwaters_counts_every_record(settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic("hw.test", 2, 1)])
    await admin.close()
    prod = kafka.producer(settings, linger_ms=20)
    await prod.start()
    try:
        futs = [await prod.send("hw.test", b"x", partition=0) for _ in range(50)]
        futs += [await prod.send("hw.test", b"y", partition=0) for _ in range(7)]
        await asyncio.gather(*futs)
    finally:
        await prod.stop()
    tps = [TopicPartition("hw.test", 0), TopicPartition("hw.test", 1)]
    got = await fetch_highwaters(settings.bootstrap, tps)
    assert got == {tps[0]: 57, tps[1]: 0}
    # faust hands in its own TP named tuples: answered under the same keys
    from faust.types import TP

    ftps = [TP("hw.test", 0), TP("hw.test", 1)]
    assert await fetch_highwaters(settings.bootstrap, ftps) == {ftps[0]: 57, ftps[1]: 0}
    # and the reason the function exists: the broker's own end offsets fall short when batched
    c = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap)
    await c.start()
    try:
        assert (await c.end_offsets(tps))[tps[0]] <= 57
    finally:
        await c.stop()

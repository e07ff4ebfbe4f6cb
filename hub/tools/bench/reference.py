"""The two reference points every pipeline figure is compared with, measured in the same run.

* codec floor: decode + encode of the same report bytes in a tight loop, no Kafka;
* raw pass-through: an aiokafka consumer → producer copying the same bytes between two topics
  (same client settings as the hub), i.e. what Kafka I/O alone costs on this machine.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.domain.codec import REPORT, codec
from hub.platform.kafka import io as kafka
from hub.platform.kafka.clients import client_settings
from hub.platform.settings import Settings


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("inf")


def codec_floor(encoded: Sequence[bytes], min_seconds: float = 1.0) -> Rate:
    """Decode + re-encode every report, repeatedly, for at least ``min_seconds``."""
    c = codec()
    done = 0
    start = time.perf_counter()
    while True:
        for data in encoded:
            c.encode(REPORT, c.decode(data))
        done += len(encoded)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return Rate(done, elapsed)


async def _create(settings: Settings, names: Sequence[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **client_settings(settings).admin)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, settings.replication_factor) for n in names])
    finally:
        await admin.close()


async def passthrough(settings: Settings, encoded: Sequence[bytes], partitions: int | None = None,
                      progress: Callable[[int], None] | None = None) -> Rate:
    """Copy ``encoded`` from one topic to another with a consumer→producer loop; time the copy."""
    run = uuid.uuid4().hex[:8]
    src, dst = f"bench.pt.{run}.in", f"bench.pt.{run}.out"
    await _create(settings, [src, dst], partitions or settings.partitions)
    prod = kafka.producer(settings)
    await prod.start()
    try:
        futures = [await prod.send(src, data, key=str(i).encode()) for i, data in enumerate(encoded)]
        await asyncio.gather(*futures)
        cons = kafka.consumer(settings, src, group_id=f"bench-pt-{run}", max_poll_records=2000)
        await cons.start()
        try:
            copied = 0
            start = None
            pending = []
            while copied < len(encoded):
                batch = await cons.getmany(timeout_ms=500, max_records=2000)
                if start is None and batch:
                    start = time.perf_counter()
                for msgs in batch.values():
                    for m in msgs:
                        pending.append(await prod.send(dst, m.value, key=m.key))
                        copied += 1
                if pending:
                    await asyncio.gather(*pending)
                    pending.clear()
                    await cons.commit()
                    if progress:
                        progress(copied)
            elapsed = time.perf_counter() - (start or time.perf_counter())
        finally:
            await cons.stop()
    finally:
        await prod.stop()
    return Rate(len(encoded), elapsed)

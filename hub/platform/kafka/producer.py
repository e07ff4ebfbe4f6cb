"""The process's one Kafka producer of records (``app.state.producer`` in the gateway).

Started lazily, sending :class:`hub.platform.kafka.io.Record` s (built by :mod:`hub.domain.wire`) and awaiting every acknowledgement; a broker
failure raises :class:`BrokerUnavailable` (the HTTP answer is
:func:`hub.platform.http.unavailable`: 503 + ``Retry-After``) and the next send reconnects and
re-creates missing topics.

The pipeline worker has its own, :class:`hub.pipeline.shell.output.BatchProducer`: the same aiokafka
client underneath, but the worker fills whole record batches itself, awaits them at its checkpoint
and, on a broker failure, resumes from the last checkpoint instead of answering 503 -- so neither the
deadline, nor the reset and reconnect here, nor the topic re-creation apply there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from hub.platform.kafka.io import Record
from hub.platform.kafka.io import producer as make_producer
from hub.platform.kafka.topics import ensure_topics
from hub.platform.settings import Settings

log = structlog.get_logger(__name__)


BROKER_TIMEOUT_S = 10.0  # how long a request waits for the broker before answering 503


class BrokerUnavailable(RuntimeError):
    """The broker did not take or acknowledge the records (answer 503 with :func:`unavailable`)."""


class Producer:
    """The process's one Kafka producer (``app.state.producer``).

    Started on first use (so the gateway starts while the broker is still coming up); after a failure
    it is dropped, and the next send reconnects and re-creates missing topics (an embedded broker that
    restarted has forgotten them, and broker auto-create would get their partitions wrong).
    """

    def __init__(self, settings: Settings, timeout: float = BROKER_TIMEOUT_S, *,
                 agency_codes: Callable[[], Iterable[str]] = tuple) -> None:
        """``agency_codes``: the Kafka-native agencies whose intake topics are re-created with the
        others (the composing process passes ``lambda: kafka_native_codes(settings)`` of
        :mod:`hub.directory.agencies`; this platform module does not read the directory)."""
        self.settings = settings
        self.timeout = timeout
        self.agency_codes = agency_codes
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self.topics_ready = False

    async def started(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                if not self.topics_ready:
                    try:
                        await asyncio.wait_for(ensure_topics(self.settings, agency_codes=self.agency_codes()), self.timeout)
                        self.topics_ready = True
                    except Exception as exc:
                        raise BrokerUnavailable(f"cannot create topics: {exc!r}") from exc
                p = make_producer(self.settings, request_timeout_ms=int(self.timeout * 1000))
                try:
                    await asyncio.wait_for(p.start(), self.timeout)
                except Exception as exc:
                    await _quiet_stop(p)
                    raise BrokerUnavailable(f"cannot connect to the broker: {exc!r}") from exc
                self._producer = p
            return self._producer

    async def send(self, records: Iterable[Record], *, now: bool = False) -> None:
        """Send every record and wait until the broker acknowledged all of them (acks=all).

        ``now``: the records leave at once, without the producer's linger, in one closed batch per
        partition (for a caller that waits on the acknowledgement before it may go on, e.g. the SSE
        streams' DELIVERED audit); each record's partition is the one the default partitioner would
        choose for its key.

        Raises BrokerUnavailable (and drops the producer) when it cannot.
        """
        records = list(records)
        if not records:
            return
        prod = await self.started()
        try:
            # no task per record: each send() only appends to aiokafka's batch (it waits only for
            # metadata or buffer space); then every delivery future is awaited, all under one deadline
            async with asyncio.timeout(self.timeout):
                if now:
                    delivered = await _send_now(prod, records)
                else:
                    delivered = [await prod.send(r.topic, r.value, key=r.key, headers=r.headers) for r in records]
                for d in delivered:
                    await d
        except (KafkaError, OSError, TimeoutError) as exc:
            await self.reset()
            raise BrokerUnavailable(f"broker did not acknowledge: {exc!r}") from exc

    async def reset(self) -> None:
        async with self._lock:
            p, self._producer = self._producer, None
            self.topics_ready = False
        if p is not None:
            await _quiet_stop(p)

    async def close(self) -> None:
        await self.reset()


async def _send_now(prod: AIOKafkaProducer, records: list[Record]) -> list[asyncio.Future[Any]]:
    """The records in closed batches, one per partition (more if one is full): aiokafka sends a
    closed batch without lingering. Each record goes to the partition the default partitioner would
    choose for its key (aiokafka's own :class:`DefaultPartitioner`; a record without a key: the first)."""
    by_partition: dict[tuple[str, int], list[Record]] = {}
    of_topic: dict[str, list[int]] = {}
    for r in records:
        if r.topic not in of_topic:
            of_topic[r.topic] = sorted(await prod.partitions_for(r.topic))
        partitions = of_topic[r.topic]
        p = DefaultPartitioner()(r.key, partitions, partitions) if r.key else partitions[0]
        by_partition.setdefault((r.topic, p), []).append(r)
    out: list[asyncio.Future[Any]] = []
    for (topic, partition), recs in by_partition.items():
        batch = prod.create_batch()
        for r in recs:
            if batch.append(key=r.key, value=r.value, timestamp=None, headers=r.headers) is None:
                batch.close()
                out.append(await prod.send_batch(batch, topic, partition=partition))
                batch = prod.create_batch()
                if batch.append(key=r.key, value=r.value, timestamp=None, headers=r.headers) is None:
                    raise KafkaError(f"a record of {len(r.value)} bytes does not fit in a batch")
        batch.close()
        out.append(await prod.send_batch(batch, topic, partition=partition))
    return out


async def _quiet_stop(p: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(p.stop(), 5)
    except Exception as exc:
        log.warning("producer stop failed", error=repr(exc))

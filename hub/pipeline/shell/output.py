"""Batched producing for the pipeline worker: one aiokafka ``BatchBuilder`` per topic-partition.

The agents decide a whole batch of inputs, hand every output record to :class:`Output` (a plain
append, no future, no await) and then call :meth:`Output.send` once: it fills one record batch per
topic-partition (``create_batch``), submits each with ``send_batch`` and returns a
:class:`Delivery` — one future per record batch instead of one per record. Awaiting the delivery
is what the checkpoint (:mod:`hub.pipeline.shell.checkpoint`) calls "acknowledged".

Partitions are chosen exactly like aiokafka's (and the Java client's) default partitioner —
``murmur2(key) & 0x7fffffff % partitions`` — so a key lands on the same partition whoever produced
it; keyless records go to partition 0. Every record is a :class:`hub.domain.wire.Record`, so keys and
headers are those of :mod:`hub.domain.wire`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from hub.domain.wire import Record
from hub.platform import metrics
from hub.platform.kafka.io import producer as new_producer
from hub.platform.kafka.topics import AUDIT, DLQ, FEED_PREFIX, RECEIPTS, VALIDATED
from hub.platform.settings import Settings

CHANGELOG_SUFFIX = "-changelog"


@lru_cache(maxsize=1 << 16)
def _hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def partition_for(key: bytes | None, partitions: int) -> int:
    """The default partitioner's choice for ``key`` (partition 0 without a key)."""
    return 0 if key is None or partitions <= 1 else _hash(key) % partitions


@lru_cache(maxsize=1024)  # topic names are few (feeds, audit, receipts, dlq, validated, changelogs)
def topic_class(topic: str) -> str:
    """A bounded metric label for a topic: feed, audit, receipts, dlq, validated, changelog, other."""
    if topic.startswith(FEED_PREFIX):
        return "feed"
    if topic.endswith(CHANGELOG_SUFFIX):
        return "changelog"
    return {AUDIT: "audit", RECEIPTS: "receipts", DLQ: "dlq", VALIDATED: "validated"}.get(topic, "other")


@dataclass
class Sent:
    """One record batch handed to the producer: where it went, how many records, their future."""

    topic: str
    partition: int
    count: int
    future: asyncio.Future[Any]


@dataclass
class Delivery:
    """The record batches of one :meth:`Output.send`. ``await delivery.wait()`` returns the base
    offset of every batch once the broker acknowledged all of them, and raises the first failure."""

    batches: list[Sent] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(b.count for b in self.batches)

    async def wait(self) -> list[int]:
        if not self.batches:
            return []
        results = await asyncio.gather(*(b.future for b in self.batches), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return [int(r.offset) for r in results]


class BatchProducer:
    """The worker's one aiokafka producer, shared by the agents' :class:`Output` s and started on first
    use; each Output fills and submits whole record batches on its client (``create_batch`` /
    ``send_batch``) and the checkpoint awaits them.

    Not :class:`hub.platform.kafka.producer.Producer` (the HTTP processes'), which sends record by
    record, waits for every acknowledgement under a deadline, turns a broker failure into
    ``BrokerUnavailable`` (a 503) and reconnects on the next send, re-creating missing topics. Here a
    failure reaches the agent and the worker resumes from its last checkpoint (the worker created
    the topics at start)."""

    def __init__(self, settings: Settings, client: AIOKafkaProducer | None = None) -> None:
        self.settings = settings
        self.client = client  # created inside the event loop (aiokafka needs a running loop)
        self._started: asyncio.Future[None] | None = None

    async def get(self) -> AIOKafkaProducer:
        if self._started is None:
            if self.client is None:
                self.client = new_producer(self.settings)
            self._started = asyncio.ensure_future(self.client.start())
        await asyncio.shield(self._started)
        assert self.client is not None
        return self.client

    async def stop(self) -> None:
        if self._started is not None and self.client is not None:
            self._started = None
            await self.client.stop()


class Output:
    """The records one agent queued for its next :meth:`send`. Each agent has its own (a send must
    carry only that agent's batch), over the worker's shared :class:`BatchProducer`."""

    def __init__(self, producer: BatchProducer) -> None:
        self.producer = producer
        self._pending: list[tuple[Record, int | None]] = []
        self.produced: Counter[str] = Counter()  # records by topic class (also a metric)

    def add(self, record: Record, partition: int | None = None) -> None:
        """Queue one record for the next :meth:`send` (``partition`` None: by key)."""
        self._pending.append((record, partition))

    def extend(self, records: Iterable[Record]) -> None:
        self._pending.extend((r, None) for r in records)

    def __len__(self) -> int:
        return len(self._pending)

    async def send(self) -> Delivery:
        """Build one record batch per topic-partition from the queued records (more when one is
        full) and submit each; returns without waiting for acknowledgements."""
        pending, self._pending = self._pending, []
        delivery = Delivery()
        if not pending:
            return delivery
        client = await self.producer.get()
        counts: dict[str, int] = {}
        groups: dict[tuple[str, int], list[Record]] = {}
        for rec, part in pending:
            if part is None:
                n = counts.get(rec.topic)
                if n is None:
                    n = counts[rec.topic] = len(await client.partitions_for(rec.topic))
                part = partition_for(rec.key, n)
            groups.setdefault((rec.topic, part), []).append(rec)
        for (topic, part), recs in groups.items():
            await self._send_group(client, topic, part, recs, delivery)
            label = topic_class(topic)
            self.produced[label] += len(recs)
            metrics.child(metrics.PIPELINE_RECORDS, label).inc(len(recs))
        return delivery

    async def _send_group(self, client: AIOKafkaProducer, topic: str, partition: int, recs: Sequence[Record],
                          delivery: Delivery) -> None:
        batch = client.create_batch()
        count = 0
        for rec in recs:
            if batch.append(timestamp=None, key=rec.key, value=rec.value, headers=rec.headers) is None:
                # full: submit it, start the next one (the first record always fits a fresh batch)
                delivery.batches.append(Sent(topic, partition, count, await self._submit(client, batch, topic, partition)))
                batch = client.create_batch()
                count = 0
                if batch.append(timestamp=None, key=rec.key, value=rec.value, headers=rec.headers) is None:
                    raise ValueError(f"record for {topic} does not fit an empty batch")
            count += 1
        delivery.batches.append(Sent(topic, partition, count, await self._submit(client, batch, topic, partition)))

    @staticmethod
    async def _submit(client: AIOKafkaProducer, batch: Any, topic: str, partition: int) -> asyncio.Future[Any]:
        batch.close()
        fut: asyncio.Future[Any] = await client.send_batch(batch, topic, partition=partition)
        return fut

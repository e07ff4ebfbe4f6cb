"""Fakes of the aiokafka producer and of faust tables, recording what happened in one shared log."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka.structs import RecordMetadata, TopicPartition


class FakeBatch:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.records: list[tuple[bytes | None, bytes | None, list]] = []
        self.closed = False

    def append(self, *, timestamp: Any, key: bytes | None, value: bytes | None, headers: list) -> Any:
        if self.closed or len(self.records) >= self.capacity:
            return None
        self.records.append((key, value, list(headers)))
        return object()

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeProducer:
    """create_batch/send_batch/partitions_for like AIOKafkaProducer. Every send_batch gets a future the
    test resolves (``ack``/``fail``) or that resolves at once (``auto``)."""

    log: list[str]
    partitions: dict[str, int] = field(default_factory=dict)
    capacity: int = 1000
    auto: bool = True
    fail_topics: set[str] = field(default_factory=set)
    sent: list[tuple[str, int, FakeBatch, asyncio.Future]] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    started: int = 0

    async def start(self) -> None:
        self.started += 1

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partitions.get(topic, 1)))

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.capacity)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future:
        assert batch.closed, "a batch is closed before it is submitted"
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self.sent.append((topic, partition, batch, fut))
        self.log.append(f"send {topic}/{partition} x{len(batch.records)}")
        if self.auto:
            self.resolve(len(self.sent) - 1)
        return fut

    def resolve(self, i: int) -> None:
        topic, partition, batch, fut = self.sent[i]
        if topic in self.fail_topics:
            fut.set_exception(ConnectionError(f"{topic} unreachable"))
            self.log.append(f"failed {topic}/{partition}")
            return
        base = self.offsets.get((topic, partition), 0)
        self.offsets[(topic, partition)] = base + len(batch.records)
        fut.set_result(RecordMetadata(topic, partition, TopicPartition(topic, partition), base, -1, 0, 0))
        self.log.append(f"acked {topic}/{partition}")


class FakeChangelog:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_topic_name(self) -> str:
        return self.name


class FakeTable:
    """The parts of a faust Table the checkpoint uses."""

    key_serializer = "json"
    value_serializer = "json"

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log
        self.changelog_topic = FakeChangelog(f"hub-pipeline-{name}-changelog")
        self.data: dict[Any, Any] = {}
        self.applied: list[Any] = []

    def apply_changelog_batch(self, events: list[Any]) -> None:
        self.log.append(f"apply {self.name} x{len(events)}")
        self.applied.extend(events)
        for ev in events:
            if ev.message.value is None:
                self.data.pop(ev.key, None)
            else:
                self.data[ev.key] = ev.value

    def items(self) -> Any:
        return self.data.items()

"""Batched producing (hub/pipeline/shell/output.py): one record batch per topic-partition, keys on the
partition aiokafka's default partitioner picks, one future per batch."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner

from hub.domain.wire import Record
from hub.pipeline.shell.output import BatchProducer, Output, partition_for, topic_class
from tests.conftest import hub_settings
from tests.pipeline.fakes import FakeProducer


def output(**kw: object) -> tuple[Output, FakeProducer]:
    fake = FakeProducer([], **kw)  # type: ignore[arg-type]
    return Output(BatchProducer(hub_settings(), client=fake)), fake  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [1, 2, 4, 7])
def test_partition_is_the_default_partitioners(n: int) -> None:
    parts = list(range(n))
    for i in range(300):
        key = f"I-{i:020x}".encode()
        assert partition_for(key, n) == DefaultPartitioner()(key, parts, parts)
    assert partition_for(None, n) == 0


async def test_one_batch_per_topic_partition_and_order_kept() -> None:
    out, fake = output(partitions={"hub.feed.KZ": 4, "hub.audit": 4})
    keys = [f"I-{i}".encode() for i in range(40)]
    for k in keys:
        out.add(Record("hub.feed.KZ", k, b"v" + k))
        out.add(Record("hub.audit", k, b"a" + k))
    out.add(Record("hub.dlq", b"D-1", b"d"), partition=0)
    delivery = await out.send()
    tps = [(t, p) for t, p, _b, _f in fake.sent]
    assert len(tps) == len(set(tps)) == len(delivery.batches)
    for topic, part, batch, _f in fake.sent:
        if topic == "hub.dlq":
            continue
        # exactly the keys of this partition, in the order they were added
        assert [k for k, _v, _h in batch.records] == [k for k in keys if partition_for(k, 4) == part]
    assert delivery.records == 81 and sum(out.produced.values()) == 81
    assert out.produced == {"feed": 40, "audit": 40, "dlq": 1}
    assert len(await delivery.wait()) == len(fake.sent)
    assert len(out) == 0 and (await out.send()).batches == []  # nothing left queued


async def test_a_full_batch_is_sent_and_the_next_one_started() -> None:
    out, fake = output(capacity=3)
    for i in range(7):
        out.add(Record("hub.dlq", b"k", str(i).encode()))
    delivery = await out.send()
    assert [b.count for b in delivery.batches] == [3, 3, 1]
    assert [v for _t, _p, b, _f in fake.sent for _k, v, _h in b.records] == [str(i).encode() for i in range(7)]
    assert await delivery.wait() == [0, 3, 6]  # base offsets, batch after batch


async def test_a_failed_batch_fails_the_delivery() -> None:
    out, _fake = output(fail_topics={"hub.audit"})
    out.add(Record("hub.dlq", b"k", b"v"))
    out.add(Record("hub.audit", b"k", b"v"))
    delivery = await out.send()
    with pytest.raises(ConnectionError):
        await delivery.wait()


async def test_the_producer_is_started_once_for_all_outputs() -> None:
    fake = FakeProducer([])
    prod = BatchProducer(hub_settings(), client=fake)  # type: ignore[arg-type]
    a, b = Output(prod), Output(prod)
    a.add(Record("hub.dlq", b"k", b"v"))
    b.add(Record("hub.dlq", b"k", b"w"))
    await a.send()
    await b.send()
    assert fake.started == 1


def test_topic_classes() -> None:
    assert [topic_class(t) for t in ("hub.feed.KZ", "hub.audit", "hub.receipts", "hub.dlq", "hub.pipeline.validated",
                                     "hub-pipeline-reports-changelog", "x")] == [
        "feed", "audit", "receipts", "dlq", "validated", "changelog", "other"]

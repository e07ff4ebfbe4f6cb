"""GroupedAudit: the DELIVERED events of streams woken together go in one send, each stream returns
only once the broker acknowledged the send holding its events, and a failed send fails every caller
in it (nothing is shown that was not audited)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from hub.audit.emit import Audit, GroupedAudit
from hub.domain.audit_events import audit_event
from hub.domain.codec import AUDIT_BATCH, codec
from hub.platform.kafka.clients import client_settings
from hub.platform.kafka.embedded import free_port
from hub.platform.kafka.producer import BrokerUnavailable, Producer
from hub.platform.kafka.topics import AUDIT, ensure_topics


def _events(run: str, stream: int) -> list[dict]:
    return [audit_event("DELIVERED", report_id=f"{run}-r{n}", version=1, state="KZ", actor=f"officer:s{stream}",
                        unique=f"{run}-r{n}:s{stream}", detail={"session": f"s{stream}"}) for n in range(3)]


async def test_streams_woken_together_share_one_send_and_every_event_is_on_the_topic(settings) -> None:
    await ensure_topics(settings)
    run = uuid.uuid4().hex[:10]
    prod = Producer(settings)
    grouped = GroupedAudit(Audit(prod))
    try:
        await asyncio.gather(*(grouped.emit(_events(run, s)) for s in range(20)))  # 20 streams, one wake-up
        assert grouped.sends == 1
        await grouped.emit(_events(run, 99))  # a later caller: a send of its own
        assert grouped.sends == 2
    finally:
        await prod.close()
    cons = AIOKafkaConsumer(AUDIT, bootstrap_servers=settings.bootstrap, group_id=None,
                            **client_settings(settings).consumer)
    await cons.start()
    seen: set[str] = set()
    try:
        while len(seen) < 21 * 3:
            batches = await cons.getmany(timeout_ms=3000)
            assert batches, f"only {len(seen)} of the events came back"
            for msgs in batches.values():
                for m in msgs:
                    for e in codec().decode(m.value, expect=AUDIT_BATCH)["events"]:
                        if e["report_id"] and e["report_id"].startswith(run):
                            seen.add(f"{e['report_id']}/{e['actor']}")
    finally:
        await cons.stop()
    assert len(seen) == 21 * 3


async def test_a_send_that_fails_fails_every_caller_in_it(settings) -> None:
    gone = dataclasses.replace(settings, kafka_bootstrap=f"127.0.0.1:{free_port()}")  # nobody listens there
    prod = Producer(gone, timeout=2.0)
    grouped = GroupedAudit(Audit(prod))
    try:
        results = await asyncio.gather(*(grouped.emit(_events("x", s)) for s in range(5)), return_exceptions=True)
    finally:
        await prod.close()
    assert len(results) == 5 and all(isinstance(r, BrokerUnavailable) for r in results)
    with pytest.raises(BrokerUnavailable):  # and the next caller tries again (and fails again here)
        await grouped.emit(_events("y", 0))

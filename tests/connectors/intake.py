"""Reading hub.intake from the beginning in tests (never end offsets: the embedded broker gets them wrong)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition

from hub.domain.codec import AUDIT_BATCH, REPORT, codec
from hub.platform.kafka.io import consumer
from hub.platform.kafka.topics import AUDIT, INTAKE
from hub.platform.settings import Settings


async def read_from_start(settings: Settings, topic: str, pick: Callable[[Any], list[dict[str, Any]]], count: int,
                          timeout: float = 20.0, settle: float = 1.0) -> list[dict[str, Any]]:
    """What ``pick`` makes of each record on ``topic`` (read from the beginning; a list, empty for a
    record of no interest), reading until ``count`` were found and then ``settle`` more seconds (so
    duplicates would show), or until ``timeout``."""
    c = consumer(settings, group_id=None)
    await c.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or set())]
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while time.monotonic() < deadline and (settle_until is None or time.monotonic() < settle_until):
            batch = await c.getmany(timeout_ms=200, max_records=2000)
            for records in batch.values():
                for m in records:
                    found += pick(m)
            if settle_until is None and len(found) >= count:
                settle_until = time.monotonic() + settle
        return found
    finally:
        await c.stop()


async def read_intake(settings: Settings, want: Callable[[dict[str, Any]], bool], count: int,
                      timeout: float = 20.0, settle: float = 1.0, topic: str = INTAKE,
                      schema: str = REPORT) -> list[dict[str, Any]]:
    """Messages on ``topic`` (default hub.intake) that match ``want`` (dicts with key, headers, report), reading until ``count``
    matched and then ``settle`` more seconds (so duplicates would show), or until ``timeout``."""

    def pick(m: Any) -> list[dict[str, Any]]:
        msg = {"key": m.key.decode() if m.key else None,
               "headers": {k: v.decode() for k, v in m.headers},
               "raw": m.value}
        if not want(msg):
            return []
        msg["report"] = codec().decode(m.value, expect=schema)
        return [msg]

    return await read_from_start(settings, topic, pick, count, timeout, settle)


def read_intake_sync(settings: Settings, want: Callable[[dict[str, Any]], bool], count: int,
                     **kw: Any) -> list[dict[str, Any]]:
    return asyncio.run(read_intake(settings, want, count, **kw))


async def read_audit(settings: Settings, want: Callable[[dict[str, Any]], bool], count: int,
                     timeout: float = 20.0, settle: float = 1.0) -> list[dict[str, Any]]:
    """Audit events on hub.audit matching ``want`` (an AuditEvent dict), from AuditEvent and AuditBatch
    records alike, reading until ``count`` matched and then ``settle`` more seconds (or ``timeout``)."""

    def pick(m: Any) -> list[dict[str, Any]]:
        name, value = codec().decode_named(m.value)
        events = value["events"] if name == AUDIT_BATCH else [value]
        return [e for e in events if want(e)]

    return await read_from_start(settings, AUDIT, pick, count, timeout, settle)

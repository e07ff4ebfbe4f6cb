"""The sink (``hub sink``): ``hub.feed.*`` → feed store, ``hub.audit`` → audit store (AuditEvent
and AuditBatch records), ``hub.receipts`` → the projections (read models such as the provider's
report status) that are handed every written batch.

At-least-once: a batch is written to the database (idempotent inserts keyed by ``item_id`` /
``event_id``) and only then are the Kafka offsets committed. A crash between the two replays the
batch, which the unique ids absorb. Messages that cannot be decoded go to ``hub.dlq`` with their raw
bytes and the reason; they never block the sink.

:func:`classify` is the pure core (records → feed items, audit events, receipts, dead letters).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaConsumer

from hub.audit.store import AuditStore
from hub.domain import wire
from hub.domain.codec import AUDIT_BATCH, AUDIT_EVENT, DEAD_LETTER, FEED_ITEM, RECEIPT, DecodeError, codec
from hub.domain.wire import send_avro
from hub.platform import metrics
from hub.platform.clock import now_ms
from hub.platform.db import Database
from hub.platform.kafka.io import consumer, producer
from hub.platform.kafka.lag import LagMonitor
from hub.platform.kafka.topics import AUDIT, DLQ, FEED_PREFIX, RECEIPTS, ensure_topics, feed, recipient_of
from hub.platform.settings import Settings

log = structlog.get_logger(__name__)

GROUP = "hub-sink"


@dataclass
class Sorted:
    feed_items: list[dict[str, Any]] = field(default_factory=list)
    audit_events: list[dict[str, Any]] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)


class Projection(Protocol):
    """A read model kept by the sink beside the feed and audit stores (provider status, search, ...).

    ``apply`` runs after the stores wrote a batch, inside the same transaction (it must write through
    the sink's database, on the calling thread), and before its offsets are committed. It must be
    idempotent and work from ``batch`` itself: when a batch is replayed after a crash, its items
    and events are already stored, so ``added_items``/``added_events`` (the rows new in this
    write, with their ``seq``) are empty."""

    def apply(self, batch: Sorted, added_items: list[dict[str, Any]], added_events: list[dict[str, Any]]) -> None: ...


def dead_letter(record: Any, reason: str) -> dict[str, Any]:
    return wire.dead_letter(record, stage="sink", reason=reason, now_ms=now_ms())


def classify(records: Iterable[Any]) -> Sorted:
    """Decode consumed records (objects with topic/partition/offset/key/value/headers)."""
    out = Sorted()
    c = codec()
    for rec in records:
        try:
            if rec.topic == AUDIT:
                name, value = c.decode_named(rec.value)
                if name == AUDIT_BATCH:
                    out.audit_events.extend(value["events"])
                elif name == AUDIT_EVENT:
                    out.audit_events.append(value)
                else:
                    raise DecodeError(DecodeError.PROBLEM_TYPE, f"{name.rsplit('.', 1)[-1]} on {AUDIT}")
            elif rec.topic == RECEIPTS:
                out.receipts.append(c.decode(rec.value, expect=RECEIPT))
            elif rec.topic.startswith(FEED_PREFIX):
                item = c.decode(rec.value, expect=FEED_ITEM)
                if item["recipient"] != recipient_of(rec.topic):
                    raise DecodeError("wrong_recipient",
                                      f"recipient {item['recipient']} on topic {rec.topic}")
                out.feed_items.append(item)
        except DecodeError as exc:
            out.dead_letters.append(dead_letter(rec, f"{exc.problem}: {exc}"))
        except Exception as exc:  # nothing is lost: anything undecodable goes to the DLQ
            out.dead_letters.append(dead_letter(rec, f"undecodable: {type(exc).__name__}: {exc}"))
    return out


class Sink:
    def __init__(self, settings: Settings, db: Database | None = None, group: str = GROUP,
                 projections: Sequence[Projection] = ()) -> None:
        from hub.feeds.store import FeedStore

        self.settings = settings
        self.group = group
        self.db = db or Database(settings.db_url)
        self.feeds = FeedStore(self.db)
        self.audit = AuditStore(self.db, settings)
        self.topics = [AUDIT, RECEIPTS, *(feed(r) for r in settings.recipients)]
        self.projections = list(projections)
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    def write(self, batch: Sorted) -> tuple[int, int]:
        """Write one decoded batch (blocking DB work). Returns (feed items added, audit events added).

        Feed items, audit events and the projections' writes are ONE transaction (they share the
        database connection; a projection's own transaction is a savepoint in it): one commit per
        batch, and a batch is stored whole or not at all. Like the stores, the projections are
        idempotent, replayed with the batch after a crash (the offsets are committed afterwards)."""
        with self.db.transaction():
            added_items = self.feeds.add(batch.feed_items)
            added_events = self.audit.store(batch.audit_events)
            for projection in self.projections:
                projection.apply(batch, added_items, added_events)
        for stage, n in Counter(row["stage"] for row in added_events).items():
            metrics.AUDIT_STORED.labels(stage).inc(n)
        if added_events:
            metrics.AUDIT_SINK_LAG.set(max(0.0, time.time() - added_events[-1]["occurred_at"] / 1000))
        if added_items:  # one line per batch, not per row (a structlog line costs about as much as the row)
            log.info("feed items stored", items=len(added_items),
                     cursors={r["recipient"]: r["seq"] for r in added_items},
                     report_ids=sorted({r["report_id"] for r in added_items}))
        return len(added_items), len(added_events)

    async def write_until_done(self, batch: Sorted) -> None:
        """Write a batch, retrying while the database is unavailable (offsets stay uncommitted)."""
        delay = 0.5
        while True:
            try:
                await asyncio.to_thread(self.write, batch)
                return
            except Exception as exc:
                if self._stop.is_set():
                    raise
                log.error("database write failed; retrying", error=f"{type(exc).__name__}: {exc}",
                          retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        await ensure_topics(self.settings)
        cons: AIOKafkaConsumer = consumer(self.settings, *self.topics, group_id=self.group, max_poll_records=500)
        prod = producer(self.settings)
        await prod.start()
        await cons.start()
        log.info("sink started", topics=len(self.topics), database=self.db.dialect, group=self.group)
        monitor = LagMonitor(self.settings, group_id=self.group, topics=self.topics)
        lag_task = asyncio.create_task(monitor.run())
        if ready:
            ready.set()
        try:
            while not self._stop.is_set():
                batches = await cons.getmany(timeout_ms=500, max_records=500)
                records = [r for recs in batches.values() for r in recs]
                if not records:
                    continue
                batch = classify(records)
                for dl in batch.dead_letters:
                    await send_avro(prod, DLQ, DEAD_LETTER, dl, key=dl["dead_letter_id"])
                    metrics.DLQ_MESSAGES.labels("sink", dl["reason"].split(":", 1)[0]).inc()
                    log.warning("message sent to the DLQ", topic=dl["source_topic"], offset=dl["source_offset"],
                                reason=dl["reason"])
                await self.write_until_done(batch)
                await cons.commit()
        finally:
            await monitor.stop()
            await lag_task
            await cons.stop()
            await prod.stop()
            log.info("sink stopped")

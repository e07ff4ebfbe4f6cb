"""The sink (``hub sink``): the hub's read models, each kept by its own consumer.

Every projection (:mod:`hub.projections`: ``feeds``, ``audit``, ``analyst``, ``provider``) runs as
an independent :class:`ProjectionConsumer` — its own consumer group (``hub-sink-<name>``), offsets,
database transaction and lag. ``hub sink`` runs them all in one process as independent tasks (or a
chosen few: ``--projection NAME``, to give the feed its own process); a slow projection delays only
itself.

At-least-once, per projection: a batch is written to the database (idempotent writes keyed by
deterministic ids) and only then are that projection's Kafka offsets committed. A crash between the
two replays the batch, which the unique ids absorb. Messages that cannot be decoded go to
``hub.dlq`` with their raw bytes and the reason — by the one projection that owns their topic —
and never block the sink. While the database is down a projection retries the same batch with
back-off and commits nothing meanwhile.

:func:`rebuild` replays a projection's topics from the beginning into freshly created tables
(``hub projection rebuild NAME``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.domain.codec import DEAD_LETTER
from hub.domain.wire import send_avro
from hub.platform import metrics
from hub.platform.db import Database
from hub.platform.kafka.io import consumer, producer
from hub.platform.kafka.lag import LagMonitor
from hub.platform.kafka.topics import DLQ, ensure_topics
from hub.platform.settings import Settings
from hub.projections import progress
from hub.projections.base import Projection, Sorted, classify, dead_letter
from hub.projections.registry import NAMES, build

log = structlog.get_logger(__name__)

GROUP = "hub-sink"  # prefix: each projection's group is hub-sink-<name>
BATCH = 500  # records per fetch
# bounded fetch buffers per consumer (back-pressure during a backfill: a projection holds at most
# about this much of its topics in memory, however far behind it is)
FETCH_MAX_BYTES = 4 * 1024 * 1024
PARTITION_FETCH_BYTES = 512 * 1024

__all__ = ["GROUP", "NAMES", "ProjectionConsumer", "Sink", "Sorted", "classify", "dead_letter", "rebuild"]


def group_of(prefix: str, projection: Projection) -> str:
    return f"{prefix}-{projection.name}"


def slices(batch: Sorted, size: int) -> list[Sorted]:
    """A batch cut into pieces of at most ``size`` records, in order (pure)."""
    if len(batch) <= size:
        return [batch]
    out: list[Sorted] = []
    for attr in ("feed_rows", "feed_items", "receipts", "audit_events"):
        rows = getattr(batch, attr)
        for i in range(0, len(rows), size):
            out.append(Sorted(**{attr: rows[i:i + size]}))
    return out


def write(projection: Projection, batch: Sorted, *, last_record_ms: int | None = None,
          backlog: int | None = None) -> int:
    """Apply one decoded batch to one projection (blocking): one transaction, or on SQLite one per
    :attr:`~hub.projections.base.Projection.sqlite_slice` records. Returns rows added."""
    added = 0
    parts = slices(batch, projection.sqlite_slice) if projection.db.dialect == "sqlite" else [batch]
    for n, part in enumerate(parts, start=1):
        t0 = time.perf_counter()
        last = n == len(parts)
        added += projection.apply(part, last_record_ms=last_record_ms if last else None,
                                  backlog=backlog if last else None)
        progress.BATCH_SECONDS.labels(projection.name).observe(time.perf_counter() - t0)
    progress.ROWS.labels(projection.name).inc(len(batch))
    return added


class WriteFailed(Exception):
    """A write failed after its records were decoded (the decoded batch travels with it: retried as is)."""

    def __init__(self, batch: Sorted) -> None:
        super().__init__("projection write failed")
        self.batch = batch


def written_offsets(batches: dict[TopicPartition, list[Any]]) -> dict[TopicPartition, int]:
    """The offsets to commit once ``batches`` (one fetch) is written: past the last record of each partition."""
    return {tp: recs[-1].offset + 1 for tp, recs in batches.items() if recs}


async def commit_written(cons: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
    """Commit the offsets of a written batch. A partition this consumer lost in a rebalance meanwhile is
    left out: its new owner reads those records again (at least once; the writes are idempotent)."""
    mine = cons.assignment()
    offsets = {tp: o for tp, o in offsets.items() if tp in mine}
    if offsets:
        await cons.commit(offsets)


class ProjectionConsumer:
    """One projection's consumer loop: fetch → decode and write (one trip to a thread) → DLQ what it
    owns → commit the offsets (while the next batch is fetched)."""

    def __init__(self, settings: Settings, projection: Projection, group: str = GROUP,
                 stop: asyncio.Event | None = None) -> None:
        self.settings = settings
        self.projection = projection
        self.name = projection.name
        self.group = group_of(group, projection)
        self.topics = projection.topics()
        self._stop = stop or asyncio.Event()
        self.lag = progress.LAG.labels(self.name)

    def stop(self) -> None:
        self._stop.set()

    def decode_and_write(self, records: list[Any], last_record_ms: int, backlog: int) -> Sorted:
        """Decode consumed records and write them (blocking: one trip to a thread for both). Returns
        the decoded batch (its dead letters are the caller's to send); a failed write raises
        :class:`WriteFailed` carrying it, so a retry writes without decoding again."""
        with self.projection.turn():
            batch = self.projection.decode(records)
            try:
                write(self.projection, batch, last_record_ms=last_record_ms, backlog=backlog)
            except Exception as exc:
                raise WriteFailed(batch) from exc
        return batch

    async def write_until_done(self, batch: Sorted | list[Any], last_record_ms: int | None, backlog: int) -> Sorted:
        """Write a batch, retrying while the database is unavailable (offsets stay uncommitted).
        ``batch``: decoded, or the consumed records (decoded in the same trip to a thread as the
        first write). Returns the decoded batch."""
        delay = 0.5
        while True:
            try:
                if isinstance(batch, Sorted):
                    await asyncio.to_thread(write, self.projection, batch, last_record_ms=last_record_ms,
                                            backlog=backlog)
                    return batch
                return await asyncio.to_thread(self.decode_and_write, batch, last_record_ms or 0, backlog)
            except Exception as exc:
                if isinstance(exc, WriteFailed):
                    batch, exc = exc.batch, exc.__cause__ or exc  # decoded once; retry the write only
                if self._stop.is_set():
                    raise
                if last_record_ms is not None:
                    self.lag.set(max(0.0, time.time() - last_record_ms / 1000))
                log.error("database write failed; retrying", projection=self.name,
                          error=f"{type(exc).__name__}: {exc}", retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def run(self, prod: Any, ready: asyncio.Event | None = None) -> None:
        cons: AIOKafkaConsumer = consumer(self.settings, *self.topics, group_id=self.group, max_poll_records=BATCH,
                                          fetch_max_bytes=FETCH_MAX_BYTES,
                                          max_partition_fetch_bytes=PARTITION_FETCH_BYTES)
        await cons.start()
        monitor = LagMonitor(self.settings, group_id=self.group, topics=self.topics)
        lag_task = asyncio.create_task(monitor.run())
        log.info("projection started", projection=self.name, topics=len(self.topics), group=self.group,
                 database=self.projection.db.dialect)
        if ready:
            ready.set()
        beat = 0.0
        committing: asyncio.Task[None] | None = None  # the last batch's offset commit, still under way
        try:
            while not self._stop.is_set():
                polled = time.time()
                batches = await cons.getmany(timeout_ms=500, max_records=BATCH)
                fetched = time.time()
                records = [r for recs in batches.values() for r in recs]
                if not records:
                    self.lag.set(0.0)
                    if time.monotonic() - beat >= progress.HEARTBEAT_S:
                        beat = time.monotonic()
                        await asyncio.to_thread(progress.heartbeat, self.projection.db, self.name, 0)
                    continue
                backlog = 0
                for tp, recs in batches.items():
                    hw = cons.highwater(tp)
                    if hw is not None and recs:
                        backlog += max(0, hw - recs[-1].offset - 1)
                last_ms = max(r.timestamp for r in records)
                # decoding is CPU work: off the event loop, which the other projections' consumers share,
                # in turns with the other projections' (the feed's first: Projection.decode), and in the
                # same trip to a thread as the write
                batch = await self.write_until_done(records, last_ms, backlog)
                # what could not be decoded goes to the DLQ before the offsets move past it
                for dl in batch.dead_letters:
                    if not self.projection.owns_dead_letter(dl["source_topic"]):
                        continue
                    await send_avro(prod, DLQ, DEAD_LETTER, dl, key=dl["dead_letter_id"])
                    metrics.DLQ_MESSAGES.labels("sink", dl["reason"].split(":", 1)[0]).inc()
                    log.warning("message sent to the DLQ", projection=self.name, topic=dl["source_topic"],
                                offset=dl["source_offset"], reason=dl["reason"])
                # where a batch's time went (`hub bench --only sse` reads these lines: the feed's latency path)
                if log.is_enabled_for(logging.DEBUG):  # its fields cost a pass over the batch: only when read
                    log.debug("projection batch", projection=self.name, records=len(records),
                              first_record_ms=min(r.timestamp for r in records), last_record_ms=last_ms,
                              polled_ms=round(polled * 1000, 1), fetched_ms=round(fetched * 1000, 1),
                              written_ms=round(time.time() * 1000, 1), **self.projection.trace())
                # the offsets of what is now written; committed while the next batch is fetched (a broker
                # round trip off the latency path), one commit at a time and in order
                if committing is not None:
                    await committing
                committing = asyncio.create_task(commit_written(cons, written_offsets(batches)))
                self.lag.set(progress.lag_seconds(last_ms, backlog, int(time.time() * 1000)))
            if committing is not None:
                await committing
        finally:
            if committing is not None and not committing.done():
                committing.cancel()
            await monitor.stop()
            await lag_task
            await cons.stop()
            log.info("projection stopped", projection=self.name)


class Sink:
    """Several projections in one process, each an independent task (``hub sink``).

    ``write`` applies a decoded batch to every projection in turn, each in its own transaction (the
    path the consumers take, without Kafka: what tests and tools call)."""

    def __init__(self, settings: Settings, db: Database | None = None, group: str = GROUP,
                 projections: Sequence[Projection] | None = None) -> None:
        self.settings = settings
        self.group = group
        self.db = db or Database(settings.db_url)
        self.projections = list(projections) if projections is not None else build(NAMES, self.db, settings)
        self._stop = asyncio.Event()
        self.consumers = [ProjectionConsumer(settings, p, group, self._stop) for p in self.projections]

    def stop(self) -> None:
        self._stop.set()

    def write(self, batch: Sorted) -> dict[str, int]:
        """Apply one decoded batch to every projection (blocking). Returns rows added per projection."""
        return {p.name: write(p, batch) for p in self.projections}

    async def run(self, ready: asyncio.Event | None = None) -> None:
        await ensure_topics(self.settings)
        prod = producer(self.settings)
        await prod.start()
        readies = [asyncio.Event() for _ in self.consumers]
        tasks = [asyncio.create_task(c.run(prod, r), name=f"projection-{c.name}")
                 for c, r in zip(self.consumers, readies, strict=True)]
        log.info("sink started", projections=[c.name for c in self.consumers], database=self.db.dialect)
        waiter = asyncio.gather(*(r.wait() for r in readies))
        try:
            done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            if waiter in done and ready:
                ready.set()
            # a projection that fails for good (not a database outage: that it retries) ends the process,
            # so the supervisor restarts it; the others stop with it
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                if t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            waiter.cancel()
            self._stop.set()
            for t in tasks:
                if not t.done():
                    try:
                        await asyncio.wait_for(t, 15)
                    except (TimeoutError, Exception):
                        t.cancel()
            await prod.stop()
            for p in self.projections:
                p.close()
            log.info("sink stopped")


# --------------------------------------------------------------------------- rebuild
Progress = Callable[[int, int, float], None]  # (records so far, records to read, seconds)


async def rebuild(settings: Settings, db: Database, name: str, group: str = GROUP,
                  on_progress: Progress | None = None, every: float = 2.0,
                  assignment_timeout: float = 60.0) -> dict[str, Any]:
    """Drop projection ``name``'s tables, replay its topics from the beginning into new ones, and
    commit its group's offsets as it goes, so the restarted projection continues where the rebuild
    ended. The rebuild joins the projection's own consumer group: when it is not given every
    partition (the projection is still running somewhere) it stops before dropping anything."""
    (projection,) = build([name], db, settings)
    await ensure_topics(settings)
    gid = group_of(group, projection)
    cons = consumer(settings, *projection.topics(), group_id=gid, max_poll_records=BATCH,
                    fetch_max_bytes=FETCH_MAX_BYTES, max_partition_fetch_bytes=PARTITION_FETCH_BYTES)
    await cons.start()
    t0 = time.monotonic()
    done = 0
    try:
        tps = {TopicPartition(t, p) for t in projection.topics() for p in (cons.partitions_for_topic(t) or ())}
        deadline = time.monotonic() + assignment_timeout
        while cons.assignment() != tps:
            if time.monotonic() > deadline:
                raise RuntimeError(f"consumer group {gid} gave this rebuild {len(cons.assignment())} of {len(tps)} "
                                   f"partitions: stop projection {name!r} (hub sink) first; nothing was dropped")
            await cons.getmany(timeout_ms=200)  # joins the group; what it fetches is read again below
            tps = {TopicPartition(t, p) for t in projection.topics() for p in (cons.partitions_for_topic(t) or ())}
        await cons.seek_to_beginning(*tps)
        await asyncio.to_thread(projection.reset)
        starts = await cons.beginning_offsets(list(tps))
        ends = await cons.end_offsets(list(tps))  # a hint for the progress lines (not exact on every broker)
        total_hint = sum(max(0, ends[tp] - starts.get(tp, 0)) for tp in tps)
        last_say = 0.0
        while True:
            batches = await cons.getmany(timeout_ms=1000, max_records=BATCH)
            records = [r for recs in batches.values() for r in recs]
            if records:
                batch = classify(records)
                await asyncio.to_thread(write, projection, batch, last_record_ms=max(r.timestamp for r in records),
                                        backlog=0)
                await cons.commit()
                done += len(records)
            # the end: every partition read up to the high watermark its last fetch reported
            caught_up = True
            for tp in tps:
                hw = cons.highwater(tp)
                if hw is None or await cons.position(tp) < hw:
                    caught_up = False
                    break
            if on_progress and (time.monotonic() - last_say >= every or (caught_up and not records)):
                last_say = time.monotonic()
                on_progress(done, max(total_hint, done), time.monotonic() - t0)
            if caught_up and not records:
                break
        await cons.commit()
    finally:
        await cons.stop()
        projection.close()
    seconds = time.monotonic() - t0
    return {"projection": name, "records": done, "seconds": round(seconds, 1),
            "records_per_s": round(done / seconds, 1) if seconds else None}

"""Consumer lag per topic/partition (``hub_consumer_lag_messages``), correct on Kafka and on Tansu.

Lag = end offset (high watermark) − the group's committed offset. On Apache Kafka the end offset is
``end_offsets()`` (ListOffsets). On the embedded broker it is NOT: Tansu answers ListOffsets wrongly once
producers batch (measured: 1 for a partition holding 50 records). There the monitor reads the high watermark that every fetch
response carries: a group-less consumer is assigned the partitions, positioned at the last known high
watermark and fetches (at most ``max_partition_fetch_bytes`` per partition, so it reads almost nothing);
aiokafka records the response's watermark (``consumer.highwater``). Committed offsets come from the
group coordinator (OffsetFetch via ``consumer.committed``; the admin client's variant fails on Tansu).

Usage, in a worker or sink process (a background task next to the real consumer)::

    from hub.platform.kafka.lag import LagMonitor
    monitor = LagMonitor(settings, group_id="hub-pipeline", topics=[topics.INTAKE], size_topics=[topics.DLQ])
    task = asyncio.create_task(monitor.run())     # updates the gauges every ``interval`` seconds
    ...
    await monitor.stop(); await task

``LagMonitor(...).measure()`` takes one measurement (what the tests call). The arithmetic is the pure
function :func:`lag`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.platform.kafka.clients import client_settings
from hub.platform.metrics import CONSUMER_LAG, LAG_MONITOR_ERRORS, TOPIC_MESSAGES
from hub.platform.settings import Settings

log = structlog.get_logger(__name__)

Partition = tuple[str, int]


def lag(highwater: Mapping[Partition, int], committed: Mapping[Partition, int | None],
        log_start: Mapping[Partition, int]) -> dict[Partition, int]:
    """Messages not yet committed per partition: watermark − committed (log start if never committed).

    Never negative (a commit can run ahead of a stale watermark between two measurements).
    """
    out: dict[Partition, int] = {}
    for tp, hw in highwater.items():
        done = committed.get(tp)
        if done is None or done < 0:
            done = log_start.get(tp, 0)
        out[tp] = max(0, hw - done)
    return out


def topic_sizes(highwater: Mapping[Partition, int], log_start: Mapping[Partition, int]) -> dict[str, int]:
    """Messages held per topic (sum over partitions of watermark − log start)."""
    out: dict[str, int] = {}
    for (topic, p), hw in highwater.items():
        out[topic] = out.get(topic, 0) + max(0, hw - log_start.get((topic, p), 0))
    return out


class LagMonitor:
    """Measures a consumer group's lag on ``topics`` and publishes it as Prometheus gauges."""

    def __init__(self, settings: Settings, group_id: str, topics: Iterable[str], *, interval: float = 5.0,
                 fetch_wait_ms: int | None = None, size_topics: Iterable[str] = ()) -> None:
        """``topics``: lag of ``group_id`` on them (and their size); ``size_topics``: size only
        (``hub_topic_messages``), e.g. ``[topics.DLQ]`` which the group does not consume."""
        self.settings = settings
        self.group_id = group_id
        self.lag_topics = tuple(topics)
        self.topics = self.lag_topics + tuple(t for t in size_topics if t not in self.lag_topics)
        self.interval = interval
        cs = client_settings(settings)
        self.fetch_wait_ms = fetch_wait_ms or (cs.consumer.get("fetch_max_wait_ms") or 100)
        self._consumer: AIOKafkaConsumer | None = None
        self._tps: list[TopicPartition] = []
        self._next: dict[TopicPartition, int] = {}
        self._stopping = asyncio.Event()
        self.last: dict[Partition, int] = {}

    async def _start(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            cs = client_settings(self.settings)
            base = {k: v for k, v in cs.consumer.items()
                    if k in ("session_timeout_ms", "heartbeat_interval_ms")} | cs.security
            # group_id only for OffsetFetch; the monitor never subscribes (so never joins) nor commits
            c = AIOKafkaConsumer(bootstrap_servers=self.settings.bootstrap, group_id=self.group_id,
                                 enable_auto_commit=False, auto_offset_reset="earliest",
                                 fetch_max_wait_ms=self.fetch_wait_ms, max_partition_fetch_bytes=1024,
                                 **base)
            await c.start()
            self._consumer = c
        return self._consumer

    async def _assign(self, c: AIOKafkaConsumer) -> None:
        # all topics' metadata (Kafka answers a consumer without subscriptions with no topics, so
        # the consumer's own metadata would not know the watched ones)
        cluster = await c._client.fetch_all_metadata()
        tps = []
        for t in self.topics:
            parts = cluster.partitions_for_topic(t) or set()
            tps += [TopicPartition(t, p) for p in sorted(parts)]
        if set(tps) != set(self._tps):
            c.assign(tps)
            self._tps = tps
            start = await c.beginning_offsets(tps) if tps else {}
            self._start_offsets = {tp: start.get(tp, 0) for tp in tps}
            for tp in tps:
                self._next.setdefault(tp, self._start_offsets[tp])

    async def measure(self) -> dict[Partition, int]:
        """One measurement: updates the gauges and returns lag per (topic, partition)."""
        c = await self._start()
        await self._assign(c)
        if not self._tps:
            return {}
        if self.settings.embedded:
            hw = await self._fetch_highwaters(c)
        else:  # Apache Kafka answers ListOffsets correctly
            ends = await c.end_offsets(self._tps)
            hw = {(tp.topic, tp.partition): int(ends[tp]) for tp in self._tps}
        lagged = [tp for tp in self._tps if tp.topic in self.lag_topics]
        committed = {(tp.topic, tp.partition): await c.committed(tp) for tp in lagged}
        starts = {(tp.topic, tp.partition): self._start_offsets[tp] for tp in self._tps}
        result = lag({k: v for k, v in hw.items() if k[0] in self.lag_topics}, committed, starts)
        for (topic, p), n in result.items():
            CONSUMER_LAG.labels(self.group_id, topic, str(p)).set(n)
        for topic, n in topic_sizes(hw, starts).items():
            TOPIC_MESSAGES.labels(topic).set(n)
        self.last = result
        return result

    async def _fetch_highwaters(self, c: AIOKafkaConsumer) -> dict[Partition, int]:
        """Embedded-only: the high watermark of a fetch response (Tansu's ListOffsets is wrong)."""
        for tp in self._tps:
            c.seek(tp, self._next[tp])
        # records (if any) are discarded; what matters is the watermark in the fetch response
        await c.getmany(*self._tps, timeout_ms=max(200, 3 * self.fetch_wait_ms), max_records=len(self._tps))
        hw: dict[Partition, int] = {}
        for tp in self._tps:
            mark = c.highwater(tp)
            if mark is None:  # no fetch response for it yet: keep the previous knowledge
                mark = self._next[tp]
            self._next[tp] = max(self._next[tp], mark)
            hw[(tp.topic, tp.partition)] = self._next[tp]
        return hw

    async def run(self) -> None:
        """Measure every ``interval`` seconds until :meth:`stop`; errors are logged and counted."""
        try:
            while not self._stopping.is_set():
                try:
                    await self.measure()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a broker hiccup must not kill the host process
                    LAG_MONITOR_ERRORS.labels(self.group_id).inc()
                    log.warning("lag measurement failed", group=self.group_id, error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.interval)
        finally:
            await self._close()

    async def stop(self) -> None:
        self._stopping.set()

    async def _close(self) -> None:
        if self._consumer is not None:
            c, self._consumer = self._consumer, None
            await c.stop()

    async def __aenter__(self) -> LagMonitor:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._close()

"""The faust app ``hub-pipeline``: one consume hop per report — decode → validate → decide → send → checkpoint.

Topology (see docs/pipeline.md for the partitioning argument and the records per report):

    hub.intake (ONE partition: the sequencer; key agency:source_ref; written by the gateway and admit)
        └─ agent ``sequence``: validate, then decide() over the in-memory State, per record
              ├─ hub.dlq + one AuditBatch (RECEIVED, REJECTED)      (undecodable / invalid)
              ├─ hub.pipeline.validated (1 partition, key report_id): the record of what was accepted,
              │  produced in the same batch, never consumed by the worker
              ├─ hub.feed.<R> (key incident_id, headers trace_id, item_id)
              ├─ hub.receipts (one Receipt per routed version)
              ├─ hub.dlq (stale versions, internal errors)
              ├─ hub.audit: ONE AuditBatch per input (RECEIVED, VALIDATED + every decision event)
              └─ the faust table ``reports`` (changelog): the batch's state writes, once per key
    hub.intake.agency.<CODE> (Kafka-native agencies, N partitions; only when the directory has any)
        └─ agent ``admit`` (stateless): identity + validation; rejected → hub.dlq + one AuditBatch;
           accepted → forwarded unchanged onto hub.intake (header admitted_from)

Every batch ends in its agent's :class:`~hub.pipeline.shell.checkpoint.Checkpoint`, which owns the order
outputs → acknowledged → state → offsets. The per-record work lives in :mod:`hub.pipeline.shell.steps`.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence
from typing import Any

import faust
import structlog

from hub.directory.agencies import intake_topics
from hub.pipeline.shell.batching import take_batches
from hub.pipeline.shell.checkpoint import Checkpoint
from hub.pipeline.shell.output import BatchProducer, Output
from hub.pipeline.shell.steps import Admitter, Sequencer, pages
from hub.platform.clock import trace_ms
from hub.platform.kafka.clients import faust_settings
from hub.platform.kafka.embedded import patch_faust_fetch_wait
from hub.platform.kafka.topics import INTAKE
from hub.platform.settings import Settings

log = structlog.get_logger("hub.pipeline.shell.app")

APP_ID = "hub-pipeline"
BATCH_MAX = 500  # records one agent decides before its checkpoint (their outputs are acknowledged together)
BATCH_WITHIN_S = 0.01  # how long a batch waits at most to fill (from its first record)
BATCH_QUIET_S = 0.001  # ... and a batch is decided once no record joined it for this long (batching.take_batches)
# RocksDB options of every table. faust's defaults (2 GiB block cache + 500 MiB compressed cache +
# 3 x 64 MiB memtables, per table) let a 10M-key dedup table grow to ~650 MB RSS; these keep it
# near 200 MB (measured by `hub bench`, section dedup; see BENCHMARKS.md).
TABLE_OPTIONS: dict[str, int] = {"block_cache_size": 32 * 2**20, "block_cache_compressed_size": 0,
                                 "write_buffer_size": 16 * 2**20, "max_write_buffer_number": 2}
# The collector's young-generation threshold in the worker process (Python's default is 700): a
# report's decision allocates thousands of short-lived containers, freed by reference counting, yet
# at 700 they trigger a collection every few reports, each also walking what survived before; a
# measured 12-14 % of the decision path's time (BENCHMARKS.md, "the worker's CPU per report"). At 10,000
# it is 2-4 %. Only cyclic garbage waits longer (at most this many container objects).
GC_GEN0_THRESHOLD = 10_000


def tune_gc(gen0: int = GC_GEN0_THRESHOLD) -> tuple[int, int, int]:
    """Raise the collector's young-generation threshold for the worker process (``hub worker``);
    the older generations keep their defaults. Returns the thresholds now in force."""
    _g0, g1, g2 = gc.get_threshold()
    gc.set_threshold(max(gen0, 1), g1, g2)
    return gc.get_threshold()


def create_app(settings: Settings, *, store: str = "memory://", web_port: int | None = None,
               web_bind: str = "127.0.0.1", data_dir: str | None = None) -> faust.App:
    """Build the app. ``store``: ``memory://`` or ``rocksdb://`` (uses rocksdict when installed)."""
    patch_faust_fetch_wait(settings)
    app = faust.App(APP_ID, **faust_settings(settings), store=store, topic_partitions=settings.partitions,
                    topic_replication_factor=settings.replication_factor,  # changelog topics faust creates
                    web_port=web_port or settings.worker_port, web_bind=web_bind, web_enabled=web_port is not None,
                    datadir=data_dir or f"{settings.data_dir}/faust", table_cleanup_interval=600.0)
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    tbl: dict[str, Any] = {"partitions": 1, "schema": faust.Schema(key_type=str, key_serializer="json",
                                                                   value_serializer="json")}
    if store.startswith("rocksdb"):
        tbl["options"] = dict(TABLE_OPTIONS)
    sequencer = Sequencer(settings, {name: app.Table(name, **tbl) for name in Sequencer.TABLES})
    app.on_partitions_revoked.connect(sequencer.forget_state)
    app.on_partitions_assigned.connect(sequencer.forget_state)
    producer = BatchProducer(settings)  # one for the worker; each agent batches into its own Output

    fetched = _trace_fetches(app) if log.is_enabled_for(logging.DEBUG) else None
    if fetched is not None and _gc_timer not in gc.callbacks:
        gc.callbacks.append(_gc_timer)

    @app.agent(app.topic(INTAKE, partitions=1, internal=False, **raw))
    async def sequence_agent(stream: Any) -> None:
        cp = Checkpoint(Output(producer), sequencer.tables)
        async for events in take_batches(stream, BATCH_MAX, BATCH_WITHIN_S, BATCH_QUIET_S):
            taken, cpu, pcpu = time.time(), time.thread_time(), time.process_time()
            state = sequencer.state()  # in memory; rebuilt from the tables after a rebalance
            for event in events:
                sequencer.step(event.message, state, cp)  # validate → decide → state.apply → emit/write
            sequencer.maybe_sweep(state, cp)  # every 10 min: expire correlation keys
            decided, cpu, pcpu = time.time(), time.thread_time() - cpu, time.process_time() - pcpu
            await cp.commit(events, stream.ack)
            sequencer.batch_done()
            if fetched is not None:
                _trace_batch(events, fetched, taken, decided, (cpu, pcpu), cp.moments)
                _GC.update(ms=0.0, collections=0)

    agents: list[Any] = [sequence_agent]
    agency_topics = [t for t in intake_topics(settings) if t != INTAKE]  # the directory, read at start
    if agency_topics:
        admitter = Admitter(settings)

        @app.agent(app.topic(*agency_topics, internal=False, **raw))
        async def admit_agent(stream: Any) -> None:
            cp = Checkpoint(Output(producer))
            async for events in take_batches(stream, BATCH_MAX, BATCH_WITHIN_S, BATCH_QUIET_S):
                for event in events:
                    admitter.step(event.message, cp)  # identity + rules → hub.intake | DLQ + audit
                await cp.commit(events, stream.ack)
                admitter.batch_done()

        agents.append(admit_agent)

    pages(app)
    app.hub_agents = tuple(agents)  # type: ignore[attr-defined]
    return app


def _trace_fetches(app: faust.App) -> dict[tuple[str, int, int], float]:
    """Debug only: when each consumed record reached the worker's event loop (faust's consumer turns the
    fetched records into messages there), by (topic, partition, offset); the agent takes them out."""
    consumer_cls = app.transport.Consumer
    original = consumer_cls._to_message
    if hasattr(original, "hub_fetched"):  # one wrapper per process
        return original.hub_fetched  # type: ignore[no-any-return]
    fetched: dict[tuple[str, int, int], float] = {}

    def to_message(self: Any, tp: Any, record: Any) -> Any:
        if len(fetched) < 100_000:  # bounded even if an agent never takes them
            fetched[(tp.topic, tp.partition, record.offset)] = time.time()
        return original(self, tp, record)

    to_message.hub_fetched = fetched  # type: ignore[attr-defined]
    consumer_cls._to_message = to_message
    return fetched


_GC: dict[str, float] = {"ms": 0.0, "collections": 0, "start": 0.0}


def _gc_timer(phase: str, info: dict[str, Any]) -> None:
    """Debug only: the garbage collector's pauses since the last ``checkpoint`` line."""
    if phase == "start":
        _GC["start"] = time.perf_counter()
    else:
        _GC["ms"] += (time.perf_counter() - _GC["start"]) * 1000
        _GC["collections"] += 1


def _trace_batch(events: Sequence[Any], fetched: dict[tuple[str, int, int], float], taken: float, decided: float,
                 decide_cpu: tuple[float, float], moments: dict[str, float]) -> None:
    """The worker's ``checkpoint`` debug line (``hub bench --only sse`` reads it): per batch, the broker
    timestamp and the moment each record reached the event loop, then the moments the batch was taken
    by the agent, decided, its outputs submitted and acknowledged, its state acknowledged and its
    inputs acknowledged (ms since the epoch); the CPU time of the decisions (the event loop's thread; the whole process's meanwhile); and the garbage collector's pauses since the line before."""
    msgs = [e.message for e in events]
    log.debug("checkpoint", records=len(msgs), first_offset=msgs[0].offset, last_offset=msgs[-1].offset,
              record_ms=[trace_ms(m.timestamp) for m in msgs],
              fetched_ms=[trace_ms(fetched.pop((m.topic, m.partition, m.offset), None)) for m in msgs],
              taken_ms=trace_ms(taken), decided_ms=trace_ms(decided), decide_cpu_ms=trace_ms(decide_cpu[0]),
              decide_process_cpu_ms=trace_ms(decide_cpu[1]), sent_ms=trace_ms(moments.get("sent")),
              outputs_ms=trace_ms(moments.get("outputs")), state_ms=trace_ms(moments.get("state")),
              acked_ms=trace_ms(moments.get("acked")), gc_ms=round(_GC["ms"], 1), gc_collections=_GC["collections"])

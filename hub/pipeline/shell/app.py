"""The faust app ``hub-pipeline``: two short agents, decode → decide → send → checkpoint.

Topology (see docs/pipeline.md for the partitioning argument and the records per report):

    hub.intake + hub.intake.agency.<CODE> (N partitions, key agency:source_ref)
        └─ agent ``validate``  (stateless; scales with intake partitions; agency topics: identity check)
              ├─ hub.dlq + one AuditBatch (RECEIVED, REJECTED)      (undecodable / invalid)
              └─ hub.pipeline.validated (1 partition, key report_id): the intake bytes (re-encoded only
                 when validate changed the report) + RECEIVED/VALIDATED facts in headers;
                 ShareCommands from hub.intake are forwarded unchanged (header kind: share)
                    └─ agent ``process``: decide() over the in-memory State (1 partition)
                          ├─ hub.feed.<R> (key incident_id, headers trace_id, item_id)
                          ├─ hub.receipts (one Receipt per routed version)
                          ├─ hub.dlq (stale versions, internal errors)
                          ├─ hub.audit: ONE AuditBatch per input (every stage's events)
                          └─ the faust tables (changelogs): the batch's state writes, once per key

Every batch ends in its agent's :class:`~hub.pipeline.shell.checkpoint.Checkpoint`, which owns the order
outputs → acknowledged → state → offsets. The per-record work lives in :mod:`hub.pipeline.shell.steps`.
"""

from __future__ import annotations

from typing import Any

import faust

from hub.directory.agencies import intake_topics
from hub.pipeline.shell.checkpoint import Checkpoint
from hub.pipeline.shell.output import BatchProducer, Output
from hub.pipeline.shell.steps import DecodedReports, Processor, Validator, pages
from hub.platform.kafka.clients import faust_settings
from hub.platform.kafka.embedded import patch_faust_fetch_wait
from hub.platform.kafka.topics import VALIDATED
from hub.platform.settings import Settings

APP_ID = "hub-pipeline"
BATCH_MAX = 500  # records one agent decides before its checkpoint (their outputs are acknowledged together)
BATCH_WITHIN_S = 0.01  # how long a batch waits to fill
# RocksDB options of every table. faust's defaults (2 GiB block cache + 500 MiB compressed cache +
# 3 x 64 MiB memtables, per table) let a 10M-key dedup table grow to ~650 MB RSS; these keep it
# near 200 MB (measured by `hub bench`, section dedup; see BENCHMARKS.md).
TABLE_OPTIONS: dict[str, int] = {"block_cache_size": 32 * 2**20, "block_cache_compressed_size": 0,
                                 "write_buffer_size": 16 * 2**20, "max_write_buffer_number": 2}


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
    decoded = DecodedReports()  # validate's decoded reports, taken by process (decode once per worker)
    validator = Validator(settings, decoded)
    processor = Processor(settings, {name: app.Table(name, **tbl) for name in Processor.TABLES}, decoded)
    app.on_partitions_revoked.connect(processor.forget_state)
    app.on_partitions_assigned.connect(processor.forget_state)
    producer = BatchProducer(settings)  # one for the worker; each agent batches into its own Output

    # hub.intake + every Kafka-native agency's own intake topic (hub.directory.agencies, read at start)
    @app.agent(app.topic(*intake_topics(settings), internal=False, **raw))
    async def validate_agent(stream: Any) -> None:
        cp = Checkpoint(Output(producer))
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            for event in events:
                validator.step(event.message, cp)  # decode + rules → validated hop | DLQ + audit
            await cp.commit(events, stream.ack)
            validator.batch_done()

    @app.agent(app.topic(VALIDATED, partitions=1, internal=False, **raw))
    async def process_agent(stream: Any) -> None:
        cp = Checkpoint(Output(producer), processor.tables)
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            state = processor.state()  # in memory; rebuilt from the tables after a rebalance
            for event in events:
                processor.step(event.message, state, cp)  # decode → decide → state.apply → emit/write
            processor.maybe_sweep(state, cp)  # every 10 min: expire correlation keys
            await cp.commit(events, stream.ack)
            processor.batch_done()

    pages(app)
    app.hub_agents = (validate_agent, process_agent)  # type: ignore[attr-defined]
    return app

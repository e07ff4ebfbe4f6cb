"""The per-record work of the worker's agents (hub/pipeline/shell/app.py), between faust and decide().

``sequence`` (hub.intake, the one sequenced partition): one intake record → validate
(:func:`hub.pipeline.core.validate.intake`; a rejection is its dead letter + AuditBatch) → ``decide()``
(pure, over the in-memory State) → ``state.apply(writes)`` (the next input of the batch sees them) →
the records queued on the checkpoint: the record of what was accepted (hub.pipeline.validated), the
feed items (spliced; the unredacted report part is the validated bytes), the Receipt, a dead letter,
and ONE AuditBatch with validation's RECEIVED/VALIDATED followed by the Decision's events; the writes
are staged on the checkpoint, which persists them to the faust table after the batch's outputs were
acknowledged. Each report is consumed once.

``admit`` (the Kafka-native agencies' own topics only): one record → forwarded onto hub.intake, or
dead letter + AuditBatch (:func:`hub.pipeline.core.validate.admit`).

Each agent has its own object (:class:`Sequencer`, :class:`Admitter`): its own encoder and tally.
Metrics are counted per record into the tally and reach Prometheus once per batch, after the
checkpoint (:meth:`Tally.flush`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from hub.directory.agencies import DirectoryCache
from hub.domain.audit_events import audit_event
from hub.domain.codec import codec
from hub.domain.wire import Record as WireRecord
from hub.domain.wire import (
    audit_batch_record,
    dead_letter,
    dead_letter_record,
    feed_headers,
    receipt_record,
    source_position,
)
from hub.pipeline.core.decide import (
    DUPLICATE,
    NEW,
    UPDATE,
    Context,
    Decision,
    ReportInput,
    ShareInput,
    decide,
)
from hub.pipeline.core.state import TABLES, State
from hub.pipeline.core.validate import ACTOR as VALIDATE_ACTOR
from hub.pipeline.core.validate import Message, Validated, admit, intake
from hub.pipeline.shell.checkpoint import Checkpoint
from hub.pipeline.shell.feedcodec import Encoder
from hub.platform import clock, metrics
from hub.platform.kafka.topics import feed
from hub.platform.settings import Settings

log = structlog.get_logger("hub.pipeline")
SWEEP_INTERVAL_S = 600.0  # how often the sequence agent frees expired correlation sightings (State.expire)


def message_of(m: Any) -> Message:
    """A consumed faust Message as plain data."""
    hdrs = m.headers or []
    items = hdrs.items() if isinstance(hdrs, Mapping) else hdrs
    return Message(m.topic, m.partition, m.offset, m.key, m.value,
                   [(str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in items],
                   int(m.timestamp * 1000) if m.timestamp else None)


@dataclass
class Tally:
    """Metric increments of one agent's current batch, as plain data until :meth:`flush`."""

    agent: str
    enc: Encoder
    counts: Counter[tuple[str, tuple[str, ...]]] = field(default_factory=Counter)  # (hub.platform.metrics name, labels)
    received: list[int] = field(default_factory=list)  # received_at (ms) of the batch's routed reports
    seconds: float = 0.0  # time spent in the agent's own step (hub_stage_duration_seconds{stage=agent})
    inputs: int = 0
    first: tuple[float, float] | None = None  # (wall, process CPU) when the first batch with inputs began
    begun: tuple[float, float] | None = None  # the same for the current batch (set by its first step)

    def begin(self) -> None:
        """Called by the first step of a batch: remember when the batch began (wall, CPU)."""
        self.begun = (time.time(), time.process_time())

    def flush(self) -> None:
        if self.inputs:  # the marks the bench's throughput is measured between (first input → last done)
            if self.first is None and self.begun is not None:
                self.first = self.begun
                metrics.child(metrics.PIPELINE_MARK_TIME, self.agent, "first_input").set(self.first[0])
                metrics.child(metrics.PIPELINE_MARK_CPU, self.agent, "first_input").set(self.first[1])
            metrics.child(metrics.PIPELINE_MARK_TIME, self.agent, "last_done").set(time.time())
            metrics.child(metrics.PIPELINE_MARK_CPU, self.agent, "last_done").set(time.process_time())
        self.begun = None
        metrics.child(metrics.PIPELINE_INPUTS, self.agent).inc(self.inputs)
        for (name, labels), count in self.counts.items():
            metrics.child(getattr(metrics, name), *labels).inc(count)
        now = clock.now_ms()  # after the checkpoint: the feed items are acknowledged
        for r in self.received:
            metrics.END_TO_END_SECONDS.observe(max(0.0, (now - r) / 1000))
        if self.inputs:
            metrics.child(metrics.STAGE_SECONDS, self.agent).observe(self.seconds / self.inputs)  # batch mean
        self.counts.clear()
        self.received.clear()
        self.seconds, self.inputs = 0.0, 0
        self.enc.flush_metrics()


class _Agent:
    name = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.codec = codec()
        self.enc = Encoder(self.codec)
        self.tally = Tally(self.name, self.enc)

    def batch_done(self) -> None:
        """Metrics of the batch, now that its outputs are acknowledged."""
        self.tally.flush()


class Admitter(_Agent):
    """One record of a Kafka-native agency's own intake topic → forwarded onto hub.intake, or dead
    letter + AuditBatch (:func:`hub.pipeline.core.validate.admit`). The identity is checked against the
    agency directory (hub.directory.agencies DirectoryCache, re-read at most every HUB_DIRECTORY_REFRESH_MS)."""

    name = "admit"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.directory = DirectoryCache(settings)

    def step(self, m: Any, cp: Checkpoint) -> None:
        t0 = time.perf_counter()
        msg = message_of(m)
        tally = self.tally
        if not tally.inputs:
            tally.begin()
        tally.inputs += 1
        try:
            h = admit(msg, settings=self.settings, now=datetime.now(UTC), enc=self.enc,
                      directory=self.directory.snapshot())
        except Exception as e:  # never die on input: dead letter + REJECTED
            log.exception("admit failed", offset=msg.offset)
            cp.emit_all(_internal_error(msg, e, self.codec, self.enc, tally))
            return
        cp.emit_all(h.records)
        if not h.forwarded:
            _count_rejection(tally, h.validated, msg)
        tally.seconds += time.perf_counter() - t0


def _internal_error(msg: Message, e: Exception, enc_codec: Any, enc: Encoder, tally: Tally) -> list[WireRecord]:
    """The dead letter (stage validate) and REJECTED of a record validation failed on unexpectedly."""
    dl = dead_letter(msg, stage="validate", reason=f"internal error: {e}", now_ms=clock.now_ms())
    ev = audit_event("REJECTED", actor=VALIDATE_ACTOR, reason=dl["reason"][:2000],
                     trace_id=msg.header("trace_id"), unique=source_position(msg))
    enc.counts.update(("DeadLetter", "AuditBatch"))
    tally.counts["DLQ_MESSAGES", ("validate", "internal error")] += 1
    return [dead_letter_record(dl, enc_codec), audit_batch_record([ev], enc_codec)]


def _count_rejection(tally: Tally, out: Validated | None, msg: Message) -> None:
    r = (out.dead_letter if out else None) or {}
    labels = ((out.kind if out else None) or "unknown", (out.agency if out else None) or "unknown",
              (out.reason if out else None) or "invalid")
    tally.counts["REPORTS_REJECTED", labels] += 1
    tally.counts["DLQ_MESSAGES", ("validate", r.get("reason", "").split(":")[0][:40])] += 1
    log.warning("report rejected", reason=r.get("reason"), report_id=r.get("report_id"),
                trace_id=msg.header("trace_id"), offset=msg.offset, partition=msg.partition)


class Sequencer(_Agent):
    """One hub.intake record (the single sequenced partition) → validate → decide() over the in-memory
    State → its records and state writes, all on the same checkpoint: one consume per report."""

    name = "sequence"
    TABLES = TABLES

    def __init__(self, settings: Settings, tables: Mapping[str, Any]) -> None:
        super().__init__(settings)
        self.tables = dict(tables)
        self.ctx = Context.load(settings)
        self._state: State | None = None
        self.now_ms = 0  # the decision (and validation) time: intake record timestamps, never going backwards
        self.swept = time.monotonic()

    async def forget_state(self, *args: Any, **kwargs: Any) -> None:
        """On every rebalance: the next batch rebuilds the State from the (recovered) tables."""
        self._state = None

    def state(self) -> State:
        if self._state is None:
            self._state = State.rebuild({name: t.items() for name, t in self.tables.items()})
            log.info("state rebuilt from the tables", **self._state.sizes())
        return self._state

    def step(self, m: Any, state: State, cp: Checkpoint) -> None:
        t0 = time.perf_counter()
        tally = self.tally
        if not tally.inputs:
            tally.begin()
        tally.inputs += 1
        msg = message_of(m)
        # the record's timestamp (set by the gateway's or the admit step's producer: hub.intake is written
        # only by the hub), so a replay validates and decides identically
        self.now_ms = max(self.now_ms, msg.timestamp_ms or clock.now_ms())
        # "processed first" = the hub.intake order; above every seq held (a deterministic function of the
        # state, so a replay gets the same seq), which keeps rows of the two-hop layout first
        ctx = self.ctx.at(seq=max(msg.offset, state.last_seq + 1), now_ms=self.now_ms)
        try:
            it = intake(msg, settings=self.settings, now=datetime.fromtimestamp(self.now_ms / 1000, UTC),
                        enc=self.enc)
        except Exception as e:  # never die on input: dead letter + REJECTED
            log.exception("validate failed", offset=msg.offset)
            cp.emit_all(_internal_error(msg, e, self.codec, self.enc, tally))
            return
        if it.rejected:
            cp.emit_all(it.rejected)
            _count_rejection(tally, it.validated, it.source)
            tally.seconds += time.perf_counter() - t0
            return
        rep = it.report
        if rep is not None:
            tally.counts["REPORTS_RECEIVED", (rep["kind"], rep["agency"])] += 1
            inp: ReportInput | ShareInput = ReportInput(rep, it.source)
        else:
            inp = ShareInput(it.share or {}, it.source)
        d = decide(inp, state, ctx)  # never raises: an exception inside is an ERROR decision
        if d.error:
            log.error("process failed", offset=msg.offset, report_id=rep["report_id"] if rep else None,
                      trace_id=rep.get("trace_id") if rep else None, error=d.error)
        elif d.verdict == DUPLICATE and rep is not None:
            log.info("duplicate dropped", report_id=rep["report_id"], version=rep["version"],
                     trace_id=rep.get("trace_id"))
        state.apply(d.writes)
        cp.write(d.writes)
        if it.accepted is not None:
            cp.emit(it.accepted)  # the record of what was accepted (hub.pipeline.validated), same batch
        cp.emit_all(self._records(d, rep, it.value, it.audit))
        for c in d.counts:
            tally.counts[c.metric, c.labels] += c.value  # type: ignore[assignment]
        if rep is not None and d.verdict in (NEW, UPDATE):
            tally.received.append(rep["received_at"])
        tally.seconds += time.perf_counter() - t0

    def maybe_sweep(self, state: State, cp: Checkpoint) -> None:
        """Every SWEEP_INTERVAL_S, at a batch boundary: free the memory of correlation sightings no
        view can match any more (``State.expire``: memory only, never a decision or a table write)."""
        if time.monotonic() - self.swept < SWEEP_INTERVAL_S:
            return
        self.swept = time.monotonic()
        ctx = self.ctx.at(seq=0, now_ms=self.now_ms or clock.now_ms())
        dropped = state.expire(ctx.now_ms, ctx.retention_ms)
        log.info("correlation sightings expired", dropped=dropped)

    def _records(self, d: Decision, rep: dict[str, Any] | None, value: bytes | None,
                 validated: list[dict[str, Any]]) -> list[WireRecord]:
        enc = self.enc
        out: list[WireRecord] = []
        if d.feed_items:
            body = enc.report_body(value) if rep is not None else None
            values = enc.feed.encode(d.feed_items, report=rep, body=body)
            trace = rep.get("trace_id") if rep else None
            for it, item in zip(d.feed_items, values, strict=True):
                out.append(WireRecord(feed(it["recipient"]), it["incident_id"].encode(), item,
                                      feed_headers(trace, it["item_id"])))
        if d.receipt is not None:
            same = d.feed_items and rep is not None and d.receipt["report"] == rep
            part = enc.feed.parts.get(False) if same else None
            out.append(receipt_record(d.receipt["receipt_id"], d.receipt["report_id"],
                                      enc.receipts.encode(d.receipt, report_body=part)))
        if d.dead_letter is not None:
            enc.counts["DeadLetter"] += 1
            out.append(dead_letter_record(d.dead_letter, self.codec))
        # validation's RECEIVED/VALIDATED first, then the decision's events: ONE AuditBatch per input
        events = validated + d.audit
        if events:
            out.append(audit_batch_record(events, value=enc.audit.encode(events)))
        return out


def pages(app: Any) -> None:
    """/healthz, /readyz (503 until the tables have recovered), /metrics on the worker's web port."""

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "alive"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        recovered = app.tables.recovery.completed.is_set() and not app.in_recovery
        return web.json({"ready": recovered, "tables_recovered": recovered}, status=200 if recovered else 503)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

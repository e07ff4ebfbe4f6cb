"""The faust app ``hub-pipeline``: the stages of SPEC §2 as thin agents over pure functions.

Topology (see docs/pipeline.md for the partitioning argument):

    hub.intake (N partitions, key agency:source_ref)
        └─ agent ``validate``  (stateless; scales with intake partitions)
              ├─ hub.dlq + audit REJECTED            (undecodable / invalid)
              └─ hub.pipeline.validated (1 partition, key report_id) + audit RECEIVED, VALIDATED
                    └─ agent ``process``: dedup → correlate → enrich → route (tables, 1 partition)
                          ├─ hub.feed.<R> (key incident_id, headers trace_id, item_id)
                          ├─ hub.dlq (stale versions)
                          └─ hub.audit: DUPLICATE / REJECTED / CORRELATED / ENRICHED / ROUTED
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import faust
import structlog
from faust.streams import _current_event  # the context variable behind faust.current_event()

from hub import clock, metrics
from hub.agencies import DirectoryCache, intake_topics
from hub.audit_events import audit_event
from hub.codec import AUDIT_EVENT, DEAD_LETTER, REPORT, codec
from hub.embedded import faust_settings, patch_faust_fetch_wait
from hub.pipeline import correlate, dedup, enrich, route
from hub.pipeline.feedcodec import FeedItemEncoder
from hub.pipeline.parties import PartyIndex, record_names
from hub.pipeline.validate import Message, normalize, validate
from hub.settings import Settings
from hub.topics import AUDIT, DLQ, VALIDATED, feed
from hub.wire import EVENT_ID, audit_key, dead_letter, feed_headers

log = structlog.get_logger("hub.pipeline")
APP_ID = "hub-pipeline"
ACTOR = "pipeline"
KEY_RETENTION_MS = 2 * correlate.WINDOW_MS  # correlation keys older than this (event time) expire
SWEEP_INTERVAL_S = 600.0
BATCH_MAX = 200  # validated reports processed per batch (their outputs are acknowledged together)
BATCH_WITHIN_S = 0.02  # how long a batch waits to fill
STAGE = {s: metrics.STAGE_SECONDS.labels(s) for s in ("validate", "dedup", "correlate", "enrich", "route")}
# RocksDB options of every table. faust's defaults (2 GiB block cache + 500 MiB compressed cache +
# 3 x 64 MiB memtables, per table) let a 10M-key dedup table grow to ~650 MB RSS; these keep it
# near 200 MB (measured by `hub bench`, section dedup; see BENCHMARKS.md).
TABLE_OPTIONS: dict[str, int] = {"block_cache_size": 32 * 2**20, "block_cache_compressed_size": 0,
                                 "write_buffer_size": 16 * 2**20, "max_write_buffer_number": 2}
# Entries each TableCache keeps: a report state is ~1.5 KB as Python objects, so 50,000 ≈ 75 MB
# (200,000 were ≈ 300 MB for the reports cache alone). Hits are recent reports (the no-leak rule
# reads the reports an enrichment references), which a clear-on-full cache of this size still holds.
TABLE_CACHE_ENTRIES = 50_000


def _headers(raw: Any) -> list[tuple[str, bytes]]:
    if not raw:
        return []
    items = raw.items() if isinstance(raw, Mapping) else raw
    return [(str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in items]


class DeliveryGuard:
    """At-least-once across produce failures.

    Records are handed to the producer without a per-record wait; faust flushes the producer before
    it commits consumed offsets. A record whose delivery *failed* would still let that commit go
    through and be lost, so the guard wraps the producer's flush: if any delivery failed since the
    last flush, the worker exits (code 70) before the commit — a restarted worker processes the
    input again from the last committed offsets, and every consumer downstream is idempotent.
    """

    EXIT_CODE = 70

    def __init__(self) -> None:
        self.failures = 0

    def sent(self, fut: Any) -> None:
        if not fut.cancelled() and fut.exception() is not None:
            self.failures += 1
            log.error("produce failed", error=repr(fut.exception()))

    def install(self, producer: Any) -> None:
        original = producer.flush

        async def flush_checked() -> None:
            await original()
            for _ in range(2):  # let the delivery callbacks scheduled by the flush run
                await asyncio.sleep(0)
            if self.failures:
                log.critical("records were not delivered; exiting before offsets are committed",
                             failures=self.failures)
                os._exit(self.EXIT_CODE)

        producer.flush = flush_checked


class TableCache:
    """Read cache and write stage over a faust Table written ONLY by the process agent.

    Every table get on the RocksDB store decodes JSON (and checks the key first): the no-leak rule
    alone reads up to ~100 report states per report. The cache keeps the values this process read
    or wrote (None for missing keys); it is cleared on every rebalance (``create_app`` wires that),
    so a worker that gets the partition back never sees values another worker has since replaced.

    Writes are staged (reads see them) and reach the table -- and so its changelog -- only at
    :meth:`flush`, which the process agent calls once the broker acknowledged the feed items and
    audit events of the batch. A changelog ahead of those outputs would make a worker killed in
    between find the report "already processed" on restart and never finish it (found by
    tests/reliability: a report with some feed items, no ROUTED event, DUPLICATE forever).
    """

    def __init__(self, table: Any, cap: int = TABLE_CACHE_ENTRIES) -> None:
        self.table = table
        self.cap = cap
        self.data: dict[str, Any] = {}
        self.pending: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        if key in self.pending:
            return self.pending[key]
        try:
            return self.data[key]
        except KeyError:
            value = self.table.get(key)
            self._put(key, value)
            return value

    def _put(self, key: str, value: Any) -> None:
        if len(self.data) >= self.cap:
            self.data.clear()  # crude bound; misses fall through to the table
        self.data[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        self.pending[key] = value
        self._put(key, value)

    def flush(self) -> None:
        """Write the staged values to the table (needs a current event: it names the partition)."""
        for key, value in self.pending.items():
            self.table[key] = value
        self.pending.clear()

    def __delitem__(self, key: str) -> None:
        self.flush()
        del self.table[key]
        self.data.pop(key, None)

    def items(self) -> Any:
        return self.table.items()

    def clear(self) -> None:
        """Forget cached and staged values (on rebalance: the uncommitted batch is processed again)."""
        self.data.clear()
        self.pending.clear()


def create_app(settings: Settings, *, store: str = "memory://", web_port: int | None = None,
               web_bind: str = "127.0.0.1", data_dir: str | None = None) -> faust.App:
    """Build the app. ``store``: ``memory://`` or ``rocksdb://`` (uses rocksdict when installed)."""
    patch_faust_fetch_wait(settings)
    app = faust.App(
        APP_ID,
        **faust_settings(settings),
        store=store,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,  # changelog topics faust creates
        web_port=web_port or settings.worker_port,
        web_bind=web_bind,
        web_enabled=web_port is not None,
        datadir=data_dir or f"{settings.data_dir}/faust",
        table_cleanup_interval=600.0,
        # batch what the agents produce: a fetch returns whole batches, so one-message batches
        # would cost one fetch round trip per message downstream
        producer_linger=0.005,
        producer_max_batch_size=256 * 1024,
    )
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    # harden identity: hub.intake + the Kafka-native agencies' intake topics, checked against the directory
    intake = app.topic(*intake_topics(settings), internal=False, **raw)
    agency_directory = DirectoryCache(settings)
    validated = app.topic(VALIDATED, partitions=1, internal=False, **raw)
    feeds = {r: feed(r) for r in settings.recipients}  # produced to directly (see emit)
    tbl: dict[str, Any] = {"partitions": 1, "schema": faust.Schema(key_type=str, key_serializer="json",
                                                                   value_serializer="json")}
    if store.startswith("rocksdb"):
        tbl["options"] = dict(TABLE_OPTIONS)
    reports = TableCache(app.Table("reports", **tbl))  # report_id -> dedup state
    keys = TableCache(app.Table("correlation-keys", **tbl))  # correlation key -> index entries
    incidents = TableCache(app.Table("incidents", **tbl))  # incident_id -> {reports, holders}
    parties = TableCache(app.Table("party-entries", **tbl))  # report_id -> [[party name, seq]] (parties.py)
    caches = (reports, keys, incidents, parties)
    party_index: list[PartyIndex | None] = [None]  # rebuilt from ``parties`` when None

    async def _drop_caches(*args: Any, **kwargs: Any) -> None:
        for cache in caches:
            cache.clear()
        party_index[0] = None

    app.on_partitions_revoked.connect(_drop_caches)
    app.on_partitions_assigned.connect(_drop_caches)
    c = codec()
    feed_encoder = FeedItemEncoder(c)
    data = enrich.refdata()
    guard = DeliveryGuard()
    guard.install(app.producer)

    async def emit(topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]] | None = None) -> Any:
        """Hand one record to the producer (no per-record delivery wait). faust flushes the producer
        before it commits consumed offsets, so a record is delivered before its input is committed
        (at-least-once) — the same guarantee ``Topic.send`` gives, without its per-record layers.
        Returns the delivery future (the process agent waits for a batch's futures before it
        writes the batch's table state)."""
        fut = await app.producer.send(topic, key, value, None, None, headers)
        fut.add_done_callback(guard.sent)
        return fut

    async def send_audit(events: Iterable[Mapping[str, Any]]) -> list[Any]:
        futures = []
        for ev in events:
            futures.append(await emit(AUDIT, audit_key(ev), c.encode(AUDIT_EVENT, ev),
                                      [(EVENT_ID, ev["event_id"].encode())]))
        return futures

    async def send_dead(dl: Mapping[str, Any]) -> None:
        await emit(DLQ, dl["dead_letter_id"].encode(), c.encode(DEAD_LETTER, dl))
        metrics.child(metrics.DLQ_MESSAGES, dl["stage"], dl["reason"].split(":")[0][:40]).inc()

    @app.agent(intake)
    async def validate_agent(stream: Any) -> None:
        async for event in stream.events():
            m = event.message
            msg = Message(m.topic, m.partition, m.offset, m.key, m.value, _headers(m.headers),
                          int(m.timestamp * 1000) if m.timestamp else None)
            t0 = time.perf_counter()
            try:
                out = validate(msg, settings=settings, now=datetime.now(UTC), directory=agency_directory.snapshot())
            except Exception as e:  # never die on input
                log.exception("validate failed", offset=m.offset)
                dl = dead_letter(msg, stage="validate", reason=f"internal error: {e}", now_ms=clock.now_ms())
                await send_dead(dl)
                await send_audit([audit_event("REJECTED", actor=ACTOR, reason=dl["reason"][:2000],
                                              unique=f"{m.topic}/{m.partition}/{m.offset}")])
                continue
            STAGE["validate"].observe(time.perf_counter() - t0)
            await send_audit(out.audit)
            if out.report is None:
                r = out.dead_letter or {}
                metrics.child(metrics.REPORTS_REJECTED, out.kind or "unknown", out.agency or "unknown",
                                                out.reason or "invalid").inc()
                log.warning("report rejected", reason=r.get("reason"), report_id=r.get("report_id"),
                            offset=m.offset, partition=m.partition)
                await send_dead(r)
                continue
            rep = out.report
            metrics.child(metrics.REPORTS_RECEIVED, rep["kind"], rep["agency"]).inc()
            hdrs = [("trace_id", (rep.get("trace_id") or "").encode()),
                    ("source", f"{m.topic}/{m.partition}/{m.offset}".encode())]
            await emit(VALIDATED, rep["report_id"].encode(), c.encode(REPORT, rep), hdrs)

    last_sweep = [time.monotonic()]

    def sweep_keys() -> None:
        """Expire correlation keys whose reports are all older than KEY_RETENTION_MS (event time).
        Runs inside the agent (an event is current, so the changelog partition is known)."""
        horizon = clock.now_ms() - KEY_RETENTION_MS
        removed = 0
        for k, entries in list(keys.items()):
            kept = correlate.sweep(entries or [], horizon)
            if kept is None:
                continue
            if kept:
                keys[k] = kept
            else:
                del keys[k]
                removed += 1
        log.info("correlation keys swept", removed=removed)

    @app.agent(validated)
    async def process_agent(stream: Any) -> None:
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            sent: list[Any] = []
            for event in events:
                m = event.message
                try:
                    sent += await process_one(m)
                except Exception as e:  # never die on input
                    log.exception("process failed", offset=m.offset)
                    msg = Message(m.topic, m.partition, m.offset, m.key, m.value, _headers(m.headers))
                    rid = m.key.decode("utf-8", "replace") if m.key else None
                    dl = dead_letter(msg, stage="process", reason=f"internal error: {e}", now_ms=clock.now_ms(),
                                     report_id=rid)
                    await send_dead(dl)
                    await send_audit([audit_event("REJECTED", report_id=rid, actor=ACTOR,
                                                  reason=dl["reason"][:2000],
                                                  unique=f"{m.topic}/{m.partition}/{m.offset}")])
            # the batch's feed items and audit events are acknowledged: now its state may follow
            # (a crash before this point re-delivers the batch; the deterministic ids absorb repeats)
            results = await asyncio.gather(*sent, return_exceptions=True)
            if any(isinstance(r, BaseException) for r in results):
                # never write state for outputs that did not arrive: exit before any commit, the
                # restarted worker processes the batch again (see DeliveryGuard)
                log.critical("records were not delivered; exiting before the batch's state is written")
                os._exit(DeliveryGuard.EXIT_CODE)
            # table writes need a current event (it names the changelog partition); take_events
            # consumes the stream in the background, so make the batch's last event current here
            token = _current_event.set(weakref.ref(events[-1]))
            try:
                for cache in caches:
                    cache.flush()
                if time.monotonic() - last_sweep[0] > SWEEP_INTERVAL_S:
                    last_sweep[0] = time.monotonic()
                    sweep_keys()
            finally:
                _current_event.reset(token)

    async def process_one(m: Any) -> list[Any]:
        """Process one validated report; returns the delivery futures of its outputs. Its table
        state is staged (see TableCache) and written by the agent once those are acknowledged."""
        rep = normalize(c.decode(m.value, expect=REPORT))
        rid, ver = rep["report_id"], rep["version"]
        blog = log.bind(report_id=rid, trace_id=rep.get("trace_id"), version=ver)
        common = {"report_id": rid, "version": ver, "agency": rep["agency"], "state": rep["reporter_state"],
                  "trace_id": rep.get("trace_id")}
        now_ms = clock.now_ms()
        # ---- dedup
        t0 = time.perf_counter()
        state = reports.get(rid)
        verdict = dedup.classify(rep, state)
        STAGE["dedup"].observe(time.perf_counter() - t0)
        if verdict == dedup.DUPLICATE:
            metrics.child(metrics.REPORTS_DUPLICATE, rep["kind"], rep["agency"]).inc()
            blog.info("duplicate dropped")
            await send_audit([audit_event("DUPLICATE", **common, actor=ACTOR, occurred_at=now_ms,
                                          unique=f"{m.partition}/{m.offset}")])
            return []
        if verdict == dedup.STALE:
            reason = f"stale: version {ver} arrived after version {max(state['versions'])}"
            metrics.child(metrics.REPORTS_REJECTED, rep["kind"], rep["agency"], "stale").inc()
            blog.warning("stale version rejected", reason=reason)
            msg = Message(m.topic, m.partition, m.offset, m.key, m.value, _headers(m.headers))
            await send_dead(dead_letter(msg, stage="dedup", reason=reason, now_ms=now_ms, report_id=rid))
            await send_audit([audit_event("REJECTED", **common, actor=ACTOR, reason=reason,
                                          occurred_at=now_ms, unique=f"{m.partition}/{m.offset}")])
            return []
        # ---- correlate
        t0 = time.perf_counter()
        ckeys = correlate.correlation_keys(rep)
        index = {k: keys.get(k) or [] for k in ckeys}
        incident_id, matches = correlate.find_incident(rep, index, state.get("incident_id") if state else None)
        opened = incident_id == correlate.new_incident_id(rid)
        inc = incidents.get(incident_id) or {"reports": [], "holders": []}
        entry = correlate.index_entry(rep, incident_id, m.offset)
        horizon = rep["event_time"] - 2 * correlate.WINDOW_MS
        for k in ckeys:
            keys[k] = correlate.add_to_index(index[k], entry, horizon)
        STAGE["correlate"].observe(time.perf_counter() - t0)
        audits = []
        if not opened:
            metrics.child(metrics.REPORTS_CORRELATED, rep["kind"], rep["agency"]).inc()
            audits.append(audit_event(
                "CORRELATED", **common, actor=ACTOR, occurred_at=now_ms,
                reason=f"shares {', '.join(sorted({x['key'] for x in matches})) or 'identifiers'} with "
                       f"{len(matches)} report(s) within 7 days",
                detail={"incident_id": incident_id,
                        "matched": ",".join(sorted({x['report_id'] for x in matches}))}))
        # ---- enrich
        t0 = time.perf_counter()
        if party_index[0] is None:
            party_index[0] = PartyIndex.rebuild(parties.items())
            log.info("party index rebuilt", blocks=len(party_index[0].blocks))
        names = [p["name"] for p in rep.get("parties") or []]
        enrichment = enrich.enrich(rep, matches=matches, incident_reports=inc["reports"],
                                   party_candidates=party_index[0].candidates(names), data=data)
        STAGE["enrich"].observe(time.perf_counter() - t0)
        audits.append(audit_event("ENRICHED", **common, actor=ACTOR, occurred_at=now_ms,
                                  detail={"risk_score": enrichment["risk_score"],
                                          "watchlist_hits": len(enrichment["watchlist_hits"]),
                                          "entity_links": len(enrichment["entity_links"])}))
        # ---- route
        t0 = time.perf_counter()
        refs = {r["report_id"] for f in ("prior_reports", "also_reported_by", "entity_links")
                for r in enrichment[f] if r.get("report_id")}
        allowed = {}
        for ref in refs:
            st = reports.get(ref) or {}
            allowed[ref] = {*st.get("recipients", []), *([st["state"]] if st.get("state") else [])}
        items = route.feed_items(rep, enrichment, incident_id=incident_id, settings=settings,
                                 earlier_recipients=state["recipients"] if state else [],
                                 incident_holders=inc["holders"], allowed=allowed, routed_at=now_ms)
        STAGE["route"].observe(time.perf_counter() - t0)
        sent = []
        for it, value in zip(items, feed_encoder.encode(items), strict=True):
            sent.append(await emit(feeds[it["recipient"]], incident_id.encode(), value,
                                   feed_headers(rep.get("trace_id"), it["item_id"])))
            metrics.child(metrics.REPORTS_ROUTED, rep["kind"], it["recipient"], it["delivery"]).inc()
        who = {it["recipient"]: f"{it['delivery']}: {it['routing']['reason']}" for it in items}
        audits.append(audit_event(
            "ROUTED", **common, actor=ACTOR, occurred_at=now_ms, recipients=list(who),
            reason=f"TLP {rep['tlp']}: " + ("; ".join(f"{r} {w}" for r, w in who.items()) or "no recipients"),
            detail={"incident_id": incident_id, "redacted": ",".join(
                it["recipient"] for it in items if it["routing"]["redacted"])}))
        sent += await send_audit(audits)
        metrics.END_TO_END_SECONDS.observe(max(0.0, (clock.now_ms() - rep["received_at"]) / 1000))
        # ---- state: staged; written once this batch's outputs are acknowledged (process_agent)
        recips = [it["recipient"] for it in items]
        reports[rid] = dedup.accept(rep, state, incident_id=incident_id, recipients=recips)
        ref = {k: entry[k] for k in ("report_id", "agency", "state", "kind", "event_time", "incident_id")}
        inc_reports = [r for r in inc["reports"] if r["report_id"] != rid] + [ref]
        incidents[incident_id] = {"reports": inc_reports[-200:],
                                  "holders": sorted({*inc["holders"], *recips, rep["reporter_state"]})}
        if names:
            parties[rid] = record_names(parties.get(rid), names, m.offset)
            for name in names:
                party_index[0].add(rid, name)
        blog.info("routed", incident_id=incident_id, recipients=recips, verdict=verdict,
                  risk_score=enrichment["risk_score"])
        return sent

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "alive"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        recovered = app.tables.recovery.completed.is_set() and not app.in_recovery
        body = {"ready": recovered, "tables_recovered": recovered}
        return web.json(body, status=200 if recovered else 503)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    app.hub_agents = (validate_agent, process_agent)  # type: ignore[attr-defined]
    return app

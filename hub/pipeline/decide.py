"""The pipeline's decision core: dedup → correlate → enrich → route as ONE pure function.

``decide(inp, state, ctx) -> Decision`` takes one input of ``hub.pipeline.validated`` (a validated
report, or a share command), a read-only view of the state (:class:`hub.pipeline.state.StateView`)
and the context (settings, reference data, id key, sequence number, now), and returns everything
the shell has to do: the feed items (recipient order), the Receipt for a routed version, the audit
events (stage order), the dead letter, metric increments as plain data, and the state writes.

Pure: no Kafka, no faust, no clock, no I/O. Nothing is written unless the whole decision
succeeded: the writes are returned, never applied here, and an exception anywhere inside becomes a
Decision with verdict ``ERROR`` (dead letter + audit REJECTED "internal error: …", no writes) --
the shell never dies on input.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from hub.audit_events import audit_event
from hub.pipeline import correlate, dedup, enrich, route
from hub.pipeline.enrich import RefData
from hub.pipeline.parties import record_names
from hub.pipeline.state import INCIDENTS, KEYS, PARTIES, REPORTS, StateView, Writes
from hub.settings import Settings
from hub.wire import Source, dead_letter

ACTOR = "pipeline"
INCIDENT_REPORTS_CAP = 200  # newest member refs kept per incident
KEY_RETENTION_MS = 2 * correlate.WINDOW_MS  # correlation keys older than this (event time) expire

# verdicts
NEW, UPDATE, DUPLICATE, STALE, ERROR = dedup.NEW, dedup.UPDATE, dedup.DUPLICATE, dedup.STALE, "ERROR"


@dataclass(frozen=True)
class ReportInput:
    """A validated report: ``report`` in its normalized Avro form (``validate.normalize``: int
    millisecond timestamps), ``source`` the consumed record (position, key, raw bytes, headers:
    what a dead letter keeps)."""

    report: Mapping[str, Any]
    source: Source


@dataclass(frozen=True)
class ShareInput:
    """A decoded ShareCommand (release v2) and the record it came in."""

    command: Mapping[str, Any]
    source: Source


Input = ReportInput | ShareInput


@dataclass(frozen=True)
class Context:
    """What a decision may depend on besides the input and the state. ``seq``: the input's offset on
    hub.pipeline.validated (defines "processed first"); ``now_ms``: the processing time."""

    settings: Settings
    refdata: RefData
    id_key: bytes
    seq: int = 0
    now_ms: int = 0

    def at(self, seq: int, now_ms: int) -> Context:
        """This context for the input at ``seq``, processed at ``now_ms``."""
        return replace(self, seq=seq, now_ms=now_ms)

    @classmethod
    def load(cls, settings: Settings, *, id_key: bytes | None = None, refdata: RefData | None = None) -> Context:
        """The context of a worker: reads the reference data files and the id key (``hub.keys``) once;
        call at start-up, then :meth:`at` per input."""
        from hub import keys

        return cls(settings, refdata or enrich.refdata(), id_key if id_key is not None else keys.id_key(settings))


class Count(NamedTuple):
    """One metric increment: ``metric`` names a counter in :mod:`hub.metrics` (e.g.
    ``"REPORTS_ROUTED"``), ``labels`` its label values in the counter's label order."""

    metric: str
    labels: tuple[str, ...]
    value: float = 1.0


@dataclass
class Decision:
    verdict: str  # NEW | UPDATE | DUPLICATE | STALE | ERROR (| SHARED for share inputs)
    feed_items: list[dict[str, Any]] = field(default_factory=list)  # FeedItem dicts, recipient order
    receipt: dict[str, Any] | None = None  # Receipt (v2) of a routed version / a share
    audit: list[dict[str, Any]] = field(default_factory=list)  # AuditEvent dicts, stage order
    dead_letter: dict[str, Any] | None = None  # DeadLetter dict (stale versions, errors)
    counts: list[Count] = field(default_factory=list)
    writes: Writes = field(default_factory=dict)
    error: str | None = None  # the traceback of an ERROR decision (for the shell's log)


def decide(inp: Input, state: StateView, ctx: Context) -> Decision:
    """The decision for one input. Never raises on input: failures become an ERROR decision."""
    try:
        if isinstance(inp, ShareInput):
            raise NotImplementedError("share commands are not handled yet")
        return _report(inp, state, ctx)
    except Exception as e:  # never die on input; nothing of the failed decision is written
        return failed(inp, ctx, f"internal error: {e}", error=traceback.format_exc())


def failed(inp: Input, ctx: Context, reason: str, error: str | None = None) -> Decision:
    """The ERROR decision for an input that could not be processed: dead letter (stage ``process``)
    and audit REJECTED; no state writes. The shell may use it for inputs it cannot decode."""
    src = inp.source
    rid = _report_id_of(inp)
    dl = dead_letter(src, stage="process", reason=reason, now_ms=ctx.now_ms, report_id=rid)
    ev = audit_event("REJECTED", report_id=rid, actor=ACTOR, reason=dl["reason"][:2000], occurred_at=ctx.now_ms,
                     unique=f"{src.topic}/{src.partition}/{src.offset}")
    return Decision(ERROR, audit=[ev], dead_letter=dl, counts=[_dlq_count(dl)], error=error)


def _report_id_of(inp: Input) -> str | None:
    body = inp.command if isinstance(inp, ShareInput) else inp.report
    rid = body.get("report_id") if isinstance(body, Mapping) else None
    if rid:
        return str(rid)
    key = inp.source.key
    return key.decode("utf-8", "replace") if key else None


def _dlq_count(dl: Mapping[str, Any]) -> Count:
    return Count("DLQ_MESSAGES", (dl["stage"], dl["reason"].split(":")[0][:40]))


def _report(inp: ReportInput, state: StateView, ctx: Context) -> Decision:
    rep, src, now_ms, seq = inp.report, inp.source, ctx.now_ms, ctx.seq
    rid, ver = rep["report_id"], rep["version"]
    common = {"report_id": rid, "version": ver, "agency": rep["agency"], "state": rep["reporter_state"],
              "trace_id": rep.get("trace_id")}
    unique = f"{src.partition}/{src.offset}"
    # ---- dedup
    st = state.get(REPORTS, rid)
    verdict = dedup.classify(rep, st)
    if verdict == DUPLICATE:
        return Decision(DUPLICATE, audit=[audit_event("DUPLICATE", **common, actor=ACTOR, occurred_at=now_ms,
                                                      unique=unique)],
                        counts=[Count("REPORTS_DUPLICATE", (rep["kind"], rep["agency"]))])
    if verdict == STALE:
        reason = f"stale: version {ver} arrived after version {max(st['versions'])}"
        dl = dead_letter(src, stage="dedup", reason=reason, now_ms=now_ms, report_id=rid)
        return Decision(STALE, dead_letter=dl,
                        audit=[audit_event("REJECTED", **common, actor=ACTOR, reason=reason, occurred_at=now_ms,
                                           unique=unique)],
                        counts=[Count("REPORTS_REJECTED", (rep["kind"], rep["agency"], "stale")), _dlq_count(dl)])
    writes: Writes = {REPORTS: {}, KEYS: {}, INCIDENTS: {}, PARTIES: {}}
    counts: list[Count] = []
    audits: list[dict[str, Any]] = []
    # ---- correlate
    ckeys = correlate.correlation_keys(rep)
    index = {k: state.get(KEYS, k) or [] for k in ckeys}
    incident_id, matches = correlate.find_incident(rep, index, st.get("incident_id") if st else None)
    opened = incident_id == correlate.new_incident_id(rid)
    inc = state.get(INCIDENTS, incident_id) or {"reports": [], "holders": []}
    entry = correlate.index_entry(rep, incident_id, seq)
    horizon = rep["event_time"] - KEY_RETENTION_MS
    for k in ckeys:
        writes[KEYS][k] = correlate.add_to_index(index[k], entry, horizon)
    if not opened:
        counts.append(Count("REPORTS_CORRELATED", (rep["kind"], rep["agency"])))
        audits.append(audit_event(
            "CORRELATED", **common, actor=ACTOR, occurred_at=now_ms,
            reason=f"shares {', '.join(sorted({x['key'] for x in matches})) or 'identifiers'} with "
                   f"{len(matches)} report(s) within 7 days",
            detail={"incident_id": incident_id, "matched": ",".join(sorted({x["report_id"] for x in matches}))}))
    # ---- enrich
    names = [p["name"] for p in rep.get("parties") or []]
    enrichment = enrich.enrich(rep, matches=matches, incident_reports=inc["reports"],
                               party_candidates=state.party_candidates(names), data=ctx.refdata)
    audits.append(audit_event("ENRICHED", **common, actor=ACTOR, occurred_at=now_ms,
                              detail={"risk_score": enrichment["risk_score"],
                                      "watchlist_hits": len(enrichment["watchlist_hits"]),
                                      "entity_links": len(enrichment["entity_links"])}))
    # ---- route (no leak through enrichment: a reference survives only for those allowed to see it)
    refs = {r["report_id"] for f in ("prior_reports", "also_reported_by", "entity_links")
            for r in enrichment[f] if r.get("report_id")}
    allowed = {}
    for ref in refs:
        rs = state.get(REPORTS, ref) or {}
        allowed[ref] = {*rs.get("recipients", []), *([rs["state"]] if rs.get("state") else [])}
    items = route.feed_items(rep, enrichment, incident_id=incident_id, settings=ctx.settings,
                             earlier_recipients=st["recipients"] if st else [],
                             incident_holders=inc["holders"], allowed=allowed, routed_at=now_ms)
    _share_enrichments(items)
    for it in items:
        counts.append(Count("REPORTS_ROUTED", (rep["kind"], it["recipient"], it["delivery"])))
    who = {it["recipient"]: f"{it['delivery']}: {it['routing']['reason']}" for it in items}
    audits.append(audit_event(
        "ROUTED", **common, actor=ACTOR, occurred_at=now_ms, recipients=list(who),
        reason=f"TLP {rep['tlp']}: " + ("; ".join(f"{r} {w}" for r, w in who.items()) or "no recipients"),
        detail={"incident_id": incident_id,
                "redacted": ",".join(it["recipient"] for it in items if it["routing"]["redacted"])}))
    # ---- state writes (applied by the caller, persisted once the outputs are acknowledged)
    recips = [it["recipient"] for it in items]
    writes[REPORTS][rid] = dedup.accept(rep, st, incident_id=incident_id, recipients=recips)
    ref = {k: entry[k] for k in ("report_id", "agency", "state", "kind", "event_time", "incident_id")}
    inc_reports = [r for r in inc["reports"] if r["report_id"] != rid] + [ref]
    writes[INCIDENTS][incident_id] = {"reports": inc_reports[-INCIDENT_REPORTS_CAP:],
                                      "holders": sorted({*inc["holders"], *recips, rep["reporter_state"]})}
    if names:
        writes[PARTIES][rid] = record_names(state.get(PARTIES, rid), names, seq)
    return Decision(verdict, feed_items=items, receipt=receipt(rep, incident_id, items, now_ms), audit=audits,
                    counts=counts, writes={t: w for t, w in writes.items() if w})


def _share_enrichments(items: Sequence[dict[str, Any]]) -> None:
    """Items whose (filtered) enrichments are equal share one enrichment object, so an encoder can
    encode each distinct enrichment once (key by ``id(item["enrichment"])``)."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for it in items:
        enr = it["enrichment"]
        key = tuple(tuple(r.get("report_id") for r in enr.get(f) or ())
                    for f in ("prior_reports", "also_reported_by", "entity_links"))
        it["enrichment"] = seen.setdefault(key, enr)


def receipt(rep: Mapping[str, Any], incident_id: str, items: Sequence[Mapping[str, Any]], routed_at: int,
            *, receipt_id: str | None = None) -> dict[str, Any]:
    """The Receipt (v2) of a routed version: the report as sent, the reporting state's incident id,
    every recipient with its delivery kind, reason and redaction."""
    return {
        "receipt_id": receipt_id or f"{rep['report_id']}:{rep['version']}",
        "report_id": rep["report_id"], "version": rep["version"], "agency": rep["agency"],
        "state": rep["reporter_state"], "incident_id": incident_id, "report": dict(rep),
        "recipients": [{"recipient": it["recipient"], "delivery": it["delivery"],
                        "reason": it["routing"]["reason"], "redacted": it["routing"]["redacted"]} for it in items],
        "routed_at": routed_at,
    }


def sweep(state: StateView, ctx: Context) -> Writes:
    """Expiry of the correlation index: keys whose entries are all older than KEY_RETENTION_MS (event
    time, relative to ``ctx.now_ms``) are deleted, others lose their expired entries. The shell runs it
    now and then and applies/persists the writes like a decision's."""
    horizon = ctx.now_ms - KEY_RETENTION_MS
    out: dict[str, Any] = {}
    for k, entries in state.items(KEYS):
        kept = correlate.sweep(entries or [], horizon)
        if kept is not None:
            out[k] = kept or None
    return {KEYS: out} if out else {}

"""The pipeline's decision core: dedup → correlate → enrich → route as ONE pure function.

``decide(inp, state, ctx) -> Decision`` takes one input of the sequencer, ``hub.intake`` (a report
version the same step validated, or a granted share), a read-only view of the state
(:class:`hub.pipeline.core.state.StateView`) and the context (settings, reference data, id key,
sequence number, processing time), and returns everything the shell has to do: feed items
(recipient order), the Receipt, audit events (stage order), the dead letter, metric increments as
plain data, and the state writes.

Pure: no Kafka, no faust, no clock, no I/O. Nothing is written unless the whole decision
succeeded: writes are returned, never applied here, and an exception anywhere inside becomes a
Decision with verdict ``ERROR`` (dead letter + audit REJECTED "internal error: …", no writes).

**Non-interference (SPEC §5).** What a recipient R receives depends only on the report versions R
may see: those routed to R, sent by R's state, or shared with R. Every derived value is computed
*per view* (a view = a state or the centre) from the versions that view may see:

* a report, in R's view, is its newest version R may see (identifiers, event time, kind);
* R's incident for a report: kept if R already saw the report (an update keeps its incident);
  else the incident, in R's view, of the earliest-processed report R may see that shares an
  identifier within the window; else a new one. Incident ids are the keyed hash (``HUB_ID_KEY``)
  of the report that opened the incident in that view, so views that see the same opening
  report share the id, and the id reveals nothing;
* delivery: UPDATE if R received an earlier version, CORRELATED if R's incident already has
  another member in R's view, else NEW (SHARED for shares);
* enrichment: prior reports, also-reported-by, entity links, the "also reported by N other
  agencies" risk points and every ReportRef (kind, event time, incident id) from R's view; every
  cap applied after that filter (the newest ``KEY_CAP`` sightings per key, the newest
  ``MEMBER_CAP`` incident members (hub.pipeline.core.state), ``MAX_REFS`` refs, and the entity-link caps of
  :mod:`hub.pipeline.core.parties`);
* expiry: an index entry can match for ``2 × HUB_CORRELATION_WINDOW_DAYS`` after the version was
  processed (``ctx.now_ms`` of that input), never relative to the incoming report's event time;
* the Receipt (for the reporting agency) shows NEW/UPDATE/SHARED, never CORRELATED: whether a
  recipient already holds a related report depends on reports the provider may not see.

Sequence numbers only order things; they never appear in outputs.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import attrgetter
from types import MappingProxyType
from typing import Any, NamedTuple

from hub.domain.audit_events import audit_event
from hub.domain.wire import Source, dead_letter, source_position
from hub.pipeline.core import correlate, enrich, route
from hub.pipeline.core.enrich import MAX_REFS, RefData
from hub.pipeline.core.parties import MAX_LINKED_PARTIES, MAX_LINKS, NameRow, NameRows, bits_of
from hub.pipeline.core.state import (
    MEMBER_CAP,
    REPORTS,
    Grant,
    IncidentGroup,
    Rec,
    StateView,
    Version,
    Views,
    Writes,
    to_json,
)
from hub.pipeline.core.validate import normalize
from hub.platform.keys import keyed_id
from hub.platform.settings import Settings

ACTOR = "pipeline"
_SEQ = attrgetter("seq")

# verdicts
NEW, UPDATE, DUPLICATE, STALE, ERROR = "NEW", "UPDATE", "DUPLICATE", "STALE", "ERROR"
SHARED, REJECTED = "SHARED", "REJECTED"


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
    """What a decision may depend on besides the input and the state. ``seq``: the input's position in
    the sequencer's order (defines "processed first"; the worker passes the hub.intake offset, raised
    above every seq the state holds -- ``State.last_seq`` --, so state written under the two-hop layout,
    whose seqs were hub.pipeline.validated offsets, still comes first); ``now_ms``: the processing time
    (must not go backwards from one input to the next: correlation entries expire by it)."""

    settings: Settings
    refdata: RefData
    id_key: bytes
    seq: int = 0
    now_ms: int = 0

    def at(self, seq: int, now_ms: int) -> Context:
        """This context for the input at ``seq``, processed at ``now_ms``."""
        return Context(self.settings, self.refdata, self.id_key, seq, now_ms)  # dataclasses.replace is slower

    @classmethod
    def load(cls, settings: Settings, *, id_key: bytes | None = None, refdata: RefData | None = None) -> Context:
        """The context of a worker: reads the reference data files and the id key (``hub.platform.keys``) once;
        call at start-up, then :meth:`at` per input."""
        from hub.platform import keys

        enrich.preload_hs_codes()
        return cls(settings, refdata or enrich.refdata(), id_key if id_key is not None else keys.id_key(settings))

    @property
    def window_ms(self) -> int:
        return correlate.window_ms(self.settings.correlation_window_days)

    @property
    def retention_ms(self) -> int:
        return correlate.retention_ms(self.settings.correlation_window_days)


class Count(NamedTuple):
    """One metric increment: ``metric`` names a counter in :mod:`hub.platform.metrics` (e.g.
    ``"REPORTS_ROUTED"``), ``labels`` its label values in the counter's label order."""

    metric: str
    labels: tuple[str, ...]
    value: float = 1.0


@dataclass
class Decision:
    verdict: str  # NEW | UPDATE | DUPLICATE | STALE | ERROR; shares: SHARED | DUPLICATE | REJECTED
    feed_items: list[dict[str, Any]] = field(default_factory=list)  # FeedItem dicts, recipient order
    receipt: dict[str, Any] | None = None  # Receipt (v2) of a routed version / a share
    audit: list[dict[str, Any]] = field(default_factory=list)  # AuditEvent dicts, stage order
    dead_letter: dict[str, Any] | None = None  # DeadLetter dict (stale versions, errors)
    counts: list[Count] = field(default_factory=list)
    writes: Writes = field(default_factory=dict)
    error: str | None = None  # the traceback of an ERROR decision (for the shell's log)


@lru_cache(maxsize=1 << 16)
def incident_id(key: bytes, opener: str) -> str:
    """The id of the incident opened by report ``opener`` (keyed: reveals nothing without the key)."""
    return keyed_id(key, "I-", opener)


def decide(inp: Input, state: StateView, ctx: Context) -> Decision:
    """The decision for one input. Never raises on input: failures become an ERROR decision."""
    try:
        if isinstance(inp, ShareInput):
            return _share(inp, state, ctx)
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
                     unique=source_position(src))
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


def link_names(report: Mapping[str, Any]) -> tuple[str, ...]:
    """The party names of a report that are linked and indexed: the first MAX_LINKED_PARTIES
    distinct ones, in report order."""
    out: dict[str, None] = {}
    for p in report.get("parties") or []:
        out.setdefault(p["name"], None)
        if len(out) >= MAX_LINKED_PARTIES:
            break
    return tuple(out)


def dedup_verdict(version: int, accepted: Sequence[int]) -> str:
    """Dedup (SPEC §4.1, §4.2) of a report version against the versions of the report accepted so
    far: NEW (none yet), DUPLICATE (accepted before), STALE (lower than an accepted one, arriving
    after it), else UPDATE."""
    if not accepted:
        return NEW
    if version in accepted:
        return DUPLICATE
    if version < max(accepted):
        return STALE
    return UPDATE


# --------------------------------------------------------------------------- what each view sees
class _Match(NamedTuple):
    """Another report matching in some view: its id, its record, and the version that view sees."""

    report_id: str
    rec: Rec
    version: Version


class _Look:
    """Report X (``rid``) as the views in ``views`` see it, for one version's identifiers."""

    def __init__(self, state: StateView, ctx: Context, rid: str, rec: Rec | None, keys: Sequence[str],
                 event_time: int, views: int) -> None:
        self.state, self.ctx, self.rid, self.rec, self.views = state, ctx, rid, rec, views
        self.matches: dict[int, list[_Match]] = {}  # view -> the reports matching X in it
        self.keys_matched: set[str] = set()
        self._match(keys, event_time)
        self.have = rec.seen() if rec else 0
        self.opener: dict[int, str] = {}  # view -> the report that opened X's incident in that view
        for view in bits_of(views):
            self.opener[view] = self._opener(view)

    def _match(self, keys: Sequence[str], event_time: int) -> None:
        """The reports sharing an identifier with X within the window, per view: the version the
        view sees must carry the identifier, and its routing or share must not have expired."""
        horizon = self.ctx.now_ms - self.ctx.retention_ms
        window = self.ctx.window_ms
        keyset = set(keys)
        candidates: dict[str, int] = {}  # report -> the views in which one of its sightings may match
        for k in keys:
            for other, vis in self.state.sightings(k, self.views, horizon):
                if other != self.rid:
                    candidates[other] = candidates.get(other, 0) | vis
        for other, other_views in candidates.items():
            other_rec = self.state.report(other)
            if other_rec is None:
                continue
            for group in other_rec.view_groups(other_views):
                seen = group.version
                if group.processed_at < horizon or abs(seen.event_time - event_time) > window:
                    continue
                common = keyset.intersection(seen.keys)
                if not common:
                    continue
                self.keys_matched |= common
                match = _Match(other, other_rec, seen)
                for view in bits_of(group.views):
                    self.matches.setdefault(view, []).append(match)

    def _opener(self, view: int) -> str:
        """X's incident in ``view``: kept if the view saw X already, else the incident of the
        earliest-processed match in the view, else X's own."""
        if view & self.have and self.rec is not None:
            return self.rec.opener(view) or self.rid
        matches = self.matches.get(view)
        if not matches:
            return self.rid
        first = min(matches, key=lambda m: m.rec.join_seq(view))
        return first.rec.opener(view) or first.report_id

    def incidents(self) -> tuple[IncidentGroup, ...]:
        """X's record's incident groups after this decision (views new to X get theirs)."""
        groups: dict[str | None, int] = dict(self.rec.incidents) if self.rec else {}
        for view in bits_of(self.views & ~self.have):
            opener = None if self.opener[view] == self.rid else self.opener[view]
            groups[opener] = groups.get(opener, 0) | view
        return tuple(IncidentGroup(opener, views) for opener, views in groups.items())

    def members(self, views: int) -> dict[int, list[tuple[str, Rec]]]:
        """Per view: the other members of X's incident in that view, newest first (the newest
        MEMBER_CAP of the view; the opening report counts while it fits)."""
        out: dict[int, list[tuple[str, Rec]]] = {view: [] for view in bits_of(views)}
        by_opener: dict[str, int] = {}
        for view in out:
            by_opener[self.opener[view]] = by_opener.get(self.opener[view], 0) | view
        for opener, opener_views in by_opener.items():
            for other, vis in self.state.joiners(opener, opener_views):
                if other != self.rid:
                    other_rec = self.state.report(other)
                    if other_rec is not None:
                        for view in bits_of(vis):
                            out[view].append((other, other_rec))
            if opener != self.rid:
                opener_rec = self.state.report(opener)
                if opener_rec is not None:
                    own = 0  # the views in which the opener is in its own incident
                    for group in opener_rec.incidents:
                        if group.opener is None:
                            own |= group.views
                    for view in bits_of(opener_views & own):
                        if len(out[view]) < MEMBER_CAP:
                            out[view].append((opener, opener_rec))
        return out


class _Refs:
    """ReportRef dicts, one object per (report, view version, incident) so equal refs are shared."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.cache: dict[tuple[str, int, str], dict[str, Any]] = {}

    def get(self, other: str, other_rec: Rec, seen: Version | None, view: int) -> dict[str, Any]:
        """The ref to report ``other`` as ``view`` sees it (``seen``: that version, when known)."""
        if seen is None:
            seen = other_rec.view_groups(view)[0].version
        opener = other_rec.opener(view) or other
        k = (other, seen.number, opener)
        r = self.cache.get(k)
        if r is None:
            r = self.cache[k] = {"report_id": other, "agency": other_rec.agency, "state": other_rec.state,
                                 "kind": seen.kind, "event_time": seen.event_time,
                                 "incident_id": incident_id(self.key, opener)}
        return r


class _Party(NamedTuple):
    """A party name of the report (the ``index``-th linked one), its candidate names (shared by
    every view, or per view) and the candidates that scored."""

    index: int
    name: str
    candidates: list[str] | dict[int, list[str]]
    scores: Mapping[str, float]

    def allows(self, view: int, matched: str) -> bool:
        """Is ``matched`` among this party's scored candidates in ``view``?"""
        cand = self.candidates
        return matched in self.scores and (isinstance(cand, list) or matched in cand.get(view, ()))


class _Hit(NamedTuple):
    """A party whose name scored against a matched name."""

    party: int  # _Party.index
    name: str
    score: float


def _links(state: StateView, rid: str, names: Sequence[str], views: int) -> dict[int, list[dict[str, Any]]]:
    """Entity links per view: each party name (the first MAX_LINKED_PARTIES) against the view's
    newest MAX_NAME_CANDIDATES candidate names (scored once for all views), then the view's newest
    reports with each matching name; the first MAX_LINKS links (most similar, then most recent first)."""
    out: dict[int, list[dict[str, Any]]] = {view: [] for view in bits_of(views)}
    if not names or not views:
        return out
    parties = _scored_parties(state, names, views)
    if not parties:
        return out
    linker = _Linker(state.names.names, rid, parties)
    for view in out:
        out[view] = linker.links(view)
    return out


def _scored_parties(state: StateView, names: Sequence[str], views: int) -> list[_Party]:
    """The party names with candidates that scored, each pool scored once for all ``views``."""
    parties = []
    for i, name in enumerate(names):
        cand = state.names.candidates(name, views)
        pool = cand if isinstance(cand, list) else sorted({n for v in cand.values() for n in v})
        scores = _scores(name, tuple(pool))
        if scores:
            parties.append(_Party(i, name, cand, scores))
    return parties


@lru_cache(maxsize=1 << 14)
def _scores(name: str, pool: tuple[str, ...]) -> Mapping[str, float]:
    """:func:`hub.pipeline.core.enrich.scored_names`, remembered: a pure function of the party name and
    the candidate names, so a hit is exactly what scoring again would give (the same party name against
    the same pool recurs from report to report: ~97 % of the calls of a simulator run). Read-only."""
    return MappingProxyType(enrich.scored_names(name, pool))


class _Linker:
    """The entity links of one report's scored parties, view by view; equal links are one dict
    (so views with equal links can share their enrichment)."""

    def __init__(self, index: Mapping[str, NameRows], rid: str, parties: list[_Party]) -> None:
        self.index, self.rid, self.parties = index, rid, parties
        self.shared_pool = all(isinstance(p.candidates, list) for p in parties)  # no per-view candidates
        self.by_index = {p.index: p for p in parties}
        self.by_name: dict[str, list[_Hit]] = {}  # matched name -> the parties it scored for
        for p in parties:
            for m, sc in p.scores.items():
                self.by_name.setdefault(m, []).append(_Hit(p.index, p.name, round(sc, 1)))
        self.matched = sorted(self.by_name)
        self.by_level = _by_level(self.by_name)  # per score, highest first: name -> its parties at that score
        self.made: dict[tuple[int, str, str], dict[str, Any]] = {}

    def names_in(self, view: int) -> list[str]:
        """The matched names that may link in ``view`` (those among some party's candidates in it)."""
        if self.shared_pool:
            return self.matched
        ok = {m for p in self.parties
              for m in (p.scores if isinstance(p.candidates, list) else p.candidates.get(view, ()))
              if m in p.scores}
        return [m for m in self.matched if m in ok]

    def links(self, view: int) -> list[dict[str, Any]]:
        """The view's first MAX_LINKS links, the most similar first, then the most recent (the report
        whose name became visible to the view last), then by matched name and party: one link per
        party of this report and report of the view carrying a name that matched it, by its best
        matching name (never the report itself). Exact with the newest KEPT_ROWS rows per name: a
        (party, name) pair's links all have the same score, so its links among the first MAX_LINKS
        are its newest ones, skipping at most one row per link taken before (the same report by a
        better name of the party) and the report itself."""
        rows: list[NameRow] = []
        index = self.index
        if self.shared_pool:
            by_level = self.by_level
            for m in self.matched:
                rows += index[m].newest(view)
        else:
            hits = {}
            for m in self.names_in(view):
                ok = [hit for hit in self.by_name[m] if self.by_index[hit.party].allows(view, m)]
                if ok:
                    hits[m] = ok
                    rows += index[m].newest(view)
            by_level = _by_level(hits)
        if not rows:
            return []
        rows.sort(key=_SEQ, reverse=True)  # newest first; stable: equal seqs stay in name order
        links: list[dict[str, Any]] = []
        done: set[tuple[int, str]] = set()
        rid, made = self.rid, self.made
        for _level, at in by_level:
            for _seq, other, _views, name in rows:
                hits_at = at.get(name)
                if hits_at is None or other == rid:
                    continue  # no party scored this name at this level; or the report itself
                for party, party_name, score in hits_at:
                    pair = (party, other)
                    if pair in done:
                        continue  # the report names the party twice: its best name only
                    done.add(pair)
                    k = (party, name, other)
                    lk = made.get(k)
                    if lk is None:
                        lk = made[k] = {"name": party_name, "matched_name": name, "score": score,
                                        "report_id": other, "watchlist": None}
                    links.append(lk)
                    if len(links) == MAX_LINKS:
                        return links
        return links


def _by_level(hits: Mapping[str, Sequence[_Hit]]) -> list[tuple[float, dict[str, list[_Hit]]]]:
    """``hits`` (matched name -> the parties it scored for) by score, highest first: per score, the
    matched names with a party at that score -> those parties' hits, in ``hits`` order."""
    levels: dict[float, dict[str, list[_Hit]]] = {}
    for m, hs in hits.items():
        for hit in hs:
            levels.setdefault(hit.score, {}).setdefault(m, []).append(hit)
    return sorted(levels.items(), key=lambda lv: lv[0], reverse=True)


class _Enricher:
    """The enrichment of one version for each view, sharing what is equal."""

    def __init__(self, rep: Mapping[str, Any], look: _Look, ctx: Context, state: StateView,
                 names: Sequence[str], views: int) -> None:
        self.rep, self.look, self.ctx = rep, look, ctx
        self.own = enrich.own_parts(rep, ctx.refdata)
        self.refs = _Refs(ctx.id_key)
        self.members = look.members(views)
        self.links = _links(state, look.rid, names, views)
        self._parts = enrich.risk_parts(rep, totals=self.own["substance_totals"], hits=self.own["watchlist_hits"],
                                        data=ctx.refdata)
        self._risk: dict[int, tuple[int, list[str]]] = {}
        self._shared: dict[tuple[Any, ...], dict[str, Any]] = {}

    def risk(self, others: int) -> tuple[int, list[str]]:
        r = self._risk.get(others)
        if r is None:
            r = self._risk[others] = enrich.risk_from(self._parts, others)
        return r

    def for_view(self, view: int) -> dict[str, Any]:
        agency = self.rep["agency"]
        prior = {m.report_id: self.refs.get(m.report_id, m.rec, m.version, view)
                 for m in self.look.matches.get(view, ())}
        priors = sorted(prior.values(), key=lambda r: (r["event_time"], r["report_id"]))[-MAX_REFS:]
        also_all = [(other, other_rec) for other, other_rec in self.members[view] if other_rec.agency != agency]
        others = len({other_rec.agency for _other, other_rec in also_all})
        also = sorted((self.refs.get(other, other_rec, None, view) for other, other_rec in also_all),
                      key=lambda r: (r["event_time"], r["report_id"]))[-MAX_REFS:]
        links = self.links.get(view, [])
        sig = (tuple(map(id, priors)), tuple(map(id, also)), tuple(map(id, links)), others)
        enr = self._shared.get(sig)
        if enr is None:
            score, reasons = self.risk(others)
            enr = self._shared[sig] = {
                "risk_score": score, "risk_reasons": reasons, **self.own, "entity_links": links,
                "prior_reports": priors, "also_reported_by": also}
        return enr


# --------------------------------------------------------------------------- report versions
def _report(inp: ReportInput, state: StateView, ctx: Context) -> Decision:
    rep, src, now_ms, seq = inp.report, inp.source, ctx.now_ms, ctx.seq
    rid, ver, agency, reporter_state = rep["report_id"], rep["version"], rep["agency"], rep["reporter_state"]
    common = {"report_id": rid, "version": ver, "agency": agency, "state": reporter_state,
              "trace_id": rep.get("trace_id")}
    unique = f"{src.partition}/{src.offset}"
    # ---- dedup
    rec = state.report(rid)
    verdict = dedup_verdict(ver, [v.number for v in rec.versions] if rec else ())
    if verdict == DUPLICATE:
        return Decision(DUPLICATE, audit=[audit_event("DUPLICATE", **common, actor=ACTOR, occurred_at=now_ms,
                                                      unique=unique)],
                        counts=[Count("REPORTS_DUPLICATE", (rep["kind"], agency))])
    if verdict == STALE:
        assert rec is not None
        reason = f"stale: version {ver} arrived after version {max(v.number for v in rec.versions)}"
        dl = dead_letter(src, stage="dedup", reason=reason, now_ms=now_ms, report_id=rid)
        return Decision(STALE, dead_letter=dl,
                        audit=[audit_event("REJECTED", **common, actor=ACTOR, reason=reason, occurred_at=now_ms,
                                           unique=unique)],
                        counts=[Count("REPORTS_REJECTED", (rep["kind"], agency, "stale")), _dlq_count(dl)])
    views = state.views
    why = route.recipients(rep, ctx.settings)
    rmask = views.mask(why)
    sbit = views.bit(reporter_state)
    keys = tuple(correlate.correlation_keys(rep)[:correlate.MAX_KEYS])
    names = link_names(rep)
    # ---- correlate (per view)
    look = _Look(state, ctx, rid, rec, keys, rep["event_time"], rmask | sbit)  # the recipients and the reporter
    correlated = any(o != rid for o in look.opener.values())
    counts: list[Count] = []
    audits: list[dict[str, Any]] = []
    reporter_incident = incident_id(ctx.id_key, look.opener[sbit])
    if correlated:
        matched = sorted({m.report_id for ms in look.matches.values() for m in ms})
        counts.append(Count("REPORTS_CORRELATED", (rep["kind"], agency)))
        detail = {"incident_id": reporter_incident, "matched": ",".join(matched)}
        if len(set(look.opener.values())) > 1:
            detail["views"] = _views_detail(look.opener, views, ctx.id_key)
        audits.append(audit_event(
            "CORRELATED", **common, actor=ACTOR, occurred_at=now_ms,
            reason=f"shares {', '.join(sorted(look.keys_matched)) or 'identifiers'} with {len(matched)} "
                   f"report(s) within {ctx.settings.correlation_window_days} days", detail=detail))
    # ---- enrich (per recipient view)
    en = _Enricher(rep, look, ctx, state, names, rmask)
    received = rec.received() if rec else 0

    def delivery(view: int) -> str:
        return UPDATE if view & received else ("CORRELATED" if en.members[view] else NEW)

    items = _feed_items(rep, ver, why, delivery, sorted(why), look, en, ctx, views)
    counts += [Count("REPORTS_ROUTED", (rep["kind"], it["recipient"], it["delivery"])) for it in items]
    enrs = [it["enrichment"] for it in items]
    if enrs:
        risk_score = max(e["risk_score"] for e in enrs)
    else:  # no recipients: the score of the report alone
        risk_score, _reasons = en.risk(0)
    audits.append(audit_event("ENRICHED", **common, actor=ACTOR, occurred_at=now_ms, detail={
        "risk_score": risk_score,
        "watchlist_hits": len(en.own["watchlist_hits"]),
        "entity_links": max((len(e["entity_links"]) for e in enrs), default=0)}))
    # ---- route
    who = {it["recipient"]: f"{it['delivery']}: {it['routing']['reason']}" for it in items}
    audits.append(audit_event(
        "ROUTED", **common, actor=ACTOR, occurred_at=now_ms, recipients=list(who),
        reason=f"TLP {rep['tlp']}: " + ("; ".join(f"{r} {w}" for r, w in who.items()) or "no recipients"),
        detail={"incident_id": reporter_incident,
                "redacted": ",".join(it["recipient"] for it in items if it["routing"]["redacted"])}))
    # ---- state: this version, who may see it, the incident of each view new to the report
    version = Version(ver, rep["kind"], rep["event_time"], keys, names, seq, now_ms, rmask)
    new = Rec(agency, reporter_state, sbit, (rec.versions if rec else ()) + (version,), rec.shares if rec else (),
              look.incidents())
    return Decision(verdict, feed_items=items, receipt=receipt(rep, reporter_incident, items, now_ms),
                    audit=audits, counts=counts, writes={REPORTS: {rid: to_json(new, views)}})


def _feed_items(rep: Mapping[str, Any], version: int, reasons: Mapping[str, str], delivery: Callable[[int], str],
                recipients: list[str], look: _Look, en: _Enricher, ctx: Context, views: Views,
                provenance: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The FeedItem of ``version`` of report ``rep`` for each recipient of ``reasons`` (recipient ->
    routing reason; in that order): the report as sent (redacted for partners), the delivery kind
    (``delivery(view)``), and the incident and enrichment of the recipient's own view.
    ``recipients``: what the item lists as routed to; ``provenance``: a share's, copied to each item."""
    rid = look.rid
    partners = set(ctx.settings.partners)
    full, redacted = dict(rep), None
    items = []
    for r, reason in reasons.items():
        view = views.bit(r)
        is_partner = r in partners
        if is_partner and redacted is None:
            redacted = route.redact(rep)
        item = {
            "item_id": f"{rid}:{version}:{r}", "recipient": r, "delivery": delivery(view),
            "incident_id": incident_id(ctx.id_key, look.opener[view]),
            "report": redacted if is_partner else full, "enrichment": en.for_view(view),
            "routing": {"recipients": recipients, "reason": reason, "redacted": is_partner},
            "routed_at": ctx.now_ms}
        if provenance is not None:
            item["provenance"] = dict(provenance)
        items.append(item)
    return items


def _views_detail(opener: Mapping[int, str], views: Any, key: bytes) -> str:
    groups: dict[str, list[str]] = {}
    for view, o in opener.items():
        groups.setdefault(incident_id(key, o), []).append(views.code_of[view])
    return "; ".join(f"{i}: {','.join(sorted(c))}" for i, c in sorted(groups.items()))


def receipt(rep: Mapping[str, Any], incident: str, items: Sequence[Mapping[str, Any]], routed_at: int,
            *, receipt_id: str | None = None) -> dict[str, Any]:
    """The Receipt (v2): the report as sent, the reporting state's incident id, every recipient with
    its delivery kind (CORRELATED shown as NEW: see the module docstring), reason and redaction."""
    return {
        "receipt_id": receipt_id or f"{rep['report_id']}:{rep['version']}",
        "report_id": rep["report_id"], "version": rep["version"], "agency": rep["agency"],
        "state": rep["reporter_state"], "incident_id": incident, "report": dict(rep),
        "recipients": [{"recipient": it["recipient"],
                        "delivery": NEW if it["delivery"] == "CORRELATED" else it["delivery"],
                        "reason": it["routing"]["reason"], "redacted": it["routing"]["redacted"]} for it in items],
        "routed_at": routed_at,
    }


# --------------------------------------------------------------------------- shares (SPEC §13)
def _share(inp: ShareInput, state: StateView, ctx: Context) -> Decision:
    cmd, src, now_ms = inp.command, inp.source, ctx.now_ms
    prov = cmd["provenance"]
    rid, ver, request = cmd["report_id"], int(cmd["version"]), prov["request_id"]
    rep = _normalized(cmd["report"])
    rec = state.report(rid)
    version = rec.version(ver) if rec else None
    problem = None
    if rec is None or version is None:
        problem = f"share {request}: version {ver} of {rid} was never routed"
    elif rep.get("report_id") != rid or rep.get("version") != ver or rep.get("reporter_state") != rec.state:
        problem = f"share {request}: the report in the command is not version {ver} of {rid}"
    common = {"report_id": rid, "version": ver, "agency": rep.get("agency"), "state": rep.get("reporter_state"),
              "trace_id": rep.get("trace_id")}
    if problem is not None:
        dl = dead_letter(src, stage="share", reason=problem, now_ms=now_ms, report_id=rid)
        return Decision(REJECTED, dead_letter=dl, counts=[_dlq_count(dl)],
                        audit=[audit_event("REJECTED", **common, actor=ACTOR, reason=problem, occurred_at=now_ms,
                                           unique=source_position(src))])
    assert rec is not None and version is not None
    views = state.views
    valid = set(ctx.settings.recipients)
    named = sorted({s for s in cmd["to_states"] if s in valid and s != rec.state})
    already = version.recipients | rec.sbit  # the views that hold this version
    for g in rec.shares:
        if g.version == ver:
            already |= g.views
    targets = views.mask(named) & ~already
    if not targets:
        return Decision(DUPLICATE, audit=[audit_event(
            "DUPLICATE", **common, actor=ACTOR, occurred_at=now_ms, unique=f"{src.partition}/{src.offset}",
            reason=f"share {request}: every named state already holds version {ver}")])
    look = _Look(state, ctx, rid, rec, version.keys, version.event_time, targets)
    en = _Enricher(rep, look, ctx, state, version.names, targets)
    reason = f"shared with the provider's consent (request {request})"
    items = _feed_items(rep, ver, dict.fromkeys(views.codes(targets), reason), lambda _view: SHARED, named,
                        look, en, ctx, views, provenance=prov)
    counts = [Count("REPORTS_ROUTED", (rep["kind"], it["recipient"], SHARED)) for it in items]
    incident = incident_id(ctx.id_key, rec.opener(rec.sbit) or rid)
    detail = {"request_id": request, "incident_id": incident,
              "redacted": ",".join(it["recipient"] for it in items if it["routing"]["redacted"])}
    if prov.get("conditions"):
        detail["conditions"] = prov["conditions"]
    audit = audit_event(
        "SHARED", **common, actor=ACTOR, occurred_at=now_ms, recipients=[it["recipient"] for it in items],
        unique=request, detail=detail,
        reason=f"request {request} by {prov['requested_by']} ({prov['requested_state']}), granted by "
               f"{prov['granted_by']}: shared with {', '.join(it['recipient'] for it in items)}")
    grant = Grant(ctx.seq, now_ms, ver, targets)
    new = Rec(rec.agency, rec.state, rec.sbit, rec.versions, (*rec.shares, grant), look.incidents())
    return Decision(SHARED, feed_items=items, audit=[audit], counts=counts,
                    receipt=receipt(rep, incident, items, now_ms, receipt_id=f"{rid}:{ver}:share:{request}"),
                    writes={REPORTS: {rid: to_json(new, views)}})


def _normalized(report: Mapping[str, Any]) -> dict[str, Any]:
    return normalize(dict(report))


"""Where a feed item's time goes between its feed record and an SSE subscriber (pure).

The sse section runs `hub sink` and `hub gateway` with debug lines on; this module joins them:

* the sink's ``projection batch`` line (projection ``feeds``): per batch, the moments it was fetched,
  asked for the SQLite writer gate, held it, committed and sent its wake-up, and the cursors it stored
  (``{recipient: [first, last]}``);
* the gateway's ``feed page sent`` line: per page of one stream, the moments the stream's feed last
  moved (the wake-up seen), the page read started and ended, DELIVERED was acknowledged by the broker,
  and the events were handed to the server;

with, per report, the broker timestamp of its first feed record and the moment the bench's SSE client
parsed it (``(state, cursor)`` of that event). Each step's p50/p99 over every report found in both
logs. The steps are consecutive moments, so a report's steps add up to its feed record → SSE time;
percentiles of steps do not add up to the percentile of the sum.

The worker's part (intake record → feed record) has its own breakdown, from the worker's ``checkpoint``
line alone (:func:`worker_breakdown`): per batch of the sequencing agent, every record's intake record
timestamp and the moment it reached the worker's event loop, then the batch's moments (taken by the
agent, decided, outputs submitted / acknowledged, state acknowledged, inputs acknowledged); steps per
record in :data:`WORKER_STEPS`. Record timestamps are CreateTime: set by the producing client when it
appends the record to a batch (before its linger and the produce round trip), so the feed record's
timestamp is taken inside the ``submit`` step, and the intake record's just after the sender's send.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from hub.tools.bench.pipeline import percentile

# moments: "record" = the feed record's broker timestamp, "seen" = the bench's SSE client parsed it
SINK = ("polled_ms", "fetched_ms", "gate_asked_ms", "gate_held_ms", "committed_ms", "woken_ms")
GATEWAY = ("woke_ms", "read_start_ms", "read_ms", "audited_ms", "sent_ms")
STEPS = (  # (short name, what it is, from moment, to moment)
    ("busy", "feed record written → the feed consumer asks for it (busy with the batch before)", "record",
     "asked"),
    ("fetch", "asked → fetched (broker fetch wait, event loop)", "asked", "fetched_ms"),
    ("decode", "fetched → writer gate asked", "fetched_ms", "gate_asked_ms"),
    ("gate", "SQLite writer gate wait", "gate_asked_ms", "gate_held_ms"),
    ("txn", "feed transaction (insert + commit)", "gate_held_ms", "committed_ms"),
    ("notify", "commit → wake-up sent", "committed_ms", "woken_ms"),
    ("wake", "wake-up sent → seen by the gateway", "woken_ms", "woke_ms"),
    ("resume", "wake-up seen → stream starts its page read", "woke_ms", "read_start_ms"),
    ("read", "page read (store + decoration)", "read_start_ms", "read_ms"),
    ("audit", "DELIVERED audit acknowledged by the broker", "read_ms", "audited_ms"),
    ("send", "events handed to the server", "audited_ms", "sent_ms"),
    ("client", "server → SSE client parsed the event", "sent_ms", "seen"),
)

WORKER_STEPS = (  # (short name, what it is, from moment, to moment) of one intake record in the worker
    ("fetch", "intake record created (its producer's timestamp) → in the worker's event loop (the sender's "
     "linger and produce round trip, the broker fetch, faust's consumer thread, the loop busy)", "record", "fetched"),
    ("busy", "→ the agent is done with the batch before (its checkpoint)", "fetched", "free"),
    ("take", "→ taken by the agent (take_events' buffer and its `within` timer)", "free", "taken_ms"),
    ("decide", "validate + decide the batch", "taken_ms", "decided_ms"),
    ("submit", "outputs built and handed to the producer (the feed record's timestamp is taken here)",
     "decided_ms", "sent_ms"),
    ("outputs", "outputs acknowledged by the broker", "sent_ms", "outputs_ms"),
    ("state", "state changelog produced and acknowledged, applied", "outputs_ms", "state_ms"),
    ("ack", "inputs acknowledged to faust", "state_ms", "acked_ms"),
)
WORKER = ("taken_ms", "decided_ms", "sent_ms", "outputs_ms", "state_ms", "acked_ms")


def worker_moments(worker_lines: Iterable[dict[str, Any]]) -> list[dict[str, float]]:
    """Per intake record of the sequencing agent: every moment of :data:`WORKER_STEPS` (ms since the
    epoch). ``free`` is when the agent finished the batch before (its inputs acknowledged), or the
    record's own arrival if that was later. Batches without every moment (an empty checkpoint has no
    ``sent_ms``) and records without a fetch moment are left out."""
    out: list[dict[str, float]] = []
    prev_done: float | None = None
    for d in sorted(worker_lines, key=lambda x: float(x.get("taken_ms") or 0)):
        done = d.get("acked_ms")
        if any(d.get(k) is None for k in WORKER):
            prev_done = float(done) if done is not None else prev_done
            continue
        batch = {k: float(d[k]) for k in WORKER}
        for rec, got in zip(d.get("record_ms") or (), d.get("fetched_ms") or (), strict=False):
            if rec is None or got is None:
                continue
            m = {"record": float(rec), "fetched": float(got)} | batch
            m["free"] = max(m["fetched"], prev_done if prev_done is not None else m["fetched"])
            m["free"] = min(m["free"], m["taken_ms"])
            out.append(m)
        prev_done = float(done)  # type: ignore[arg-type]
    return out


def worker_breakdown(worker_lines: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """p50/p99 (ms) of each of :data:`WORKER_STEPS` over the traced intake records, and the batch sizes."""
    ls = list(worker_lines)
    per = worker_moments(ls)
    sizes = [float(d.get("records") or 0) for d in ls]
    steps = []
    for name, what, a, b in WORKER_STEPS:
        d = [m[b] - m[a] for m in per]
        steps.append({"step": name, "what": what, "p50_ms": _r(percentile(d, 50)), "p99_ms": _r(percentile(d, 99)),
                      "max_ms": _r(max(d) if d else None)})
    total = [m["acked_ms"] - m["record"] for m in per]
    return {"records": len(per), "batches": len(ls), "batch_records_p50": percentile(sizes, 50),
            "batch_records_max": max(sizes) if sizes else None,
            "record_to_acked_p50_ms": _r(percentile(total, 50)), "record_to_acked_p99_ms": _r(percentile(total, 99)),
            "steps": steps}


def lines(text: str, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``event`` (other lines, and lines that are not JSON, are skipped)."""
    out = []
    for raw in text.splitlines():
        if event.encode() not in raw.encode() or not raw.startswith("{"):
            continue
        try:
            d = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if d.get("event") == event:
            out.append(d)
    return out


class _Ranges:
    """Per state, the log lines by the cursor range they cover (ranges of one state do not overlap)."""

    def __init__(self) -> None:
        self._by: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}

    def add(self, state: str, first: int, last: int, line: dict[str, Any]) -> None:
        self._by.setdefault(state, []).append((first, last, line))

    def find(self, state: str, cursor: int) -> dict[str, Any] | None:
        rs = self._by.get(state)
        if not rs:
            return None
        if not getattr(self, "_sorted", False):
            for v in self._by.values():
                v.sort(key=lambda x: x[0])
            self._sorted = True
        i = bisect.bisect_right([r[0] for r in rs], cursor) - 1
        if i >= 0 and rs[i][0] <= cursor <= rs[i][1]:
            return rs[i][2]
        return None


def moments(records: Mapping[str, float], seen: Mapping[str, float], where: Mapping[str, tuple[str, int]],
            sink_lines: Iterable[dict[str, Any]], gateway_lines: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per report: every moment of :data:`STEPS` (ms since the epoch); reports missing from a log are left out."""
    sink, gw = _Ranges(), _Ranges()
    for d in sink_lines:
        if d.get("projection") == "feeds":
            for state, (first, last) in (d.get("cursors") or {}).items():
                sink.add(state, int(first), int(last), d)
    for d in gateway_lines:
        if d.get("state") is not None and d.get("first") is not None:
            gw.add(d["state"], int(d["first"]), int(d["last"]), d)
    out: dict[str, dict[str, float]] = {}
    for rid, (state, cursor) in where.items():
        if rid not in records or rid not in seen:
            continue
        s, g = sink.find(state, cursor), gw.find(state, cursor)
        if s is None or g is None or any(s.get(k) is None for k in SINK) or any(g.get(k) is None for k in GATEWAY):
            continue
        m = {"record": records[rid], "seen": seen[rid]} | {k: float(s[k]) for k in SINK} | {
            k: float(g[k]) for k in GATEWAY}
        m["asked"] = max(m["record"], m["polled_ms"])  # a poll that began before the record was written waited for it
        out[rid] = m
    return out


def breakdown(per_report: Mapping[str, Mapping[str, float]],
              probe: tuple[Mapping[str, float], Mapping[str, float]] | None = None) -> dict[str, Any]:
    """p50/p99 (ms) of each step over the reports, and how many reports were traced. ``probe``: (feed
    record time, when a bare consumer of the same topics got it) per report -- what a fetch costs
    with nothing else in the consumer's process (p50/p99 as ``bare_fetch``)."""
    out: dict[str, Any] = {}
    if probe is not None:
        records, got = probe
        d = [got[r] - records[r] for r in got if r in records]
        out["bare_fetch"] = {"p50_ms": _r(percentile(d, 50)), "p99_ms": _r(percentile(d, 99))}
    steps = []
    for name, what, a, b in STEPS:
        d = [m[b] - m[a] for m in per_report.values()]
        steps.append({"step": name, "what": what, "p50_ms": _r(percentile(d, 50)), "p99_ms": _r(percentile(d, 99)),
                      "max_ms": _r(max(d) if d else None)})
    return {"reports": len(per_report), "steps": steps} | out


def _r(v: float | None) -> float | None:
    return round(v, 1) if v is not None else None

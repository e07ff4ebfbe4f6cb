"""Helpers for the decide() tests: a fake consumed record, a context, and a runner that applies the
writes of each decision like the shell does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.domain.codec import REPORT, codec
from hub.pipeline.core import enrich
from hub.pipeline.core.decide import Context, Decision, Input, ReportInput, ShareInput, decide
from hub.pipeline.core.state import State
from hub.platform.kafka.topics import VALIDATED
from tests.conftest import TEST_ID_KEY, hub_settings

SETTINGS = hub_settings()
T0 = 1_800_000_000_000  # a fixed processing time base (ms)


@dataclass
class Src:
    """A consumed record of hub.pipeline.validated, as decide() sees it."""

    offset: int
    key: bytes | None = None
    value: bytes | None = b""
    topic: str = VALIDATED
    partition: int = 0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def context(**overrides: Any) -> Context:
    s = hub_settings(**overrides) if overrides else SETTINGS
    return Context(s, enrich.refdata(), TEST_ID_KEY)


def report_input(rep: Mapping[str, Any], offset: int = 0, *, encode: bool = False) -> ReportInput:
    value = codec().encode(REPORT, rep) if encode else b"raw"
    return ReportInput(rep, Src(offset, rep["report_id"].encode(), value))


def share_input(command: Mapping[str, Any], offset: int = 0) -> ShareInput:
    return ShareInput(command, Src(offset, command["report_id"].encode(), b"share"))


class Runner:
    """Feeds inputs through decide() in order, applying each decision's writes (the shell's loop)."""

    def __init__(self, ctx: Context | None = None, state: State | None = None) -> None:
        self.ctx = ctx or context()
        self.state = state or State()
        self.seq = 0
        self.persisted: dict[str, dict[str, Any]] = {}  # what the shell's tables would hold

    def step(self, item: Mapping[str, Any] | Input, now_ms: int | None = None) -> Decision:
        inp = item if isinstance(item, (ReportInput, ShareInput)) else report_input(item, self.seq)
        ctx = self.ctx.at(self.seq, T0 + self.seq * 1000 if now_ms is None else now_ms)
        d = decide(inp, self.state, ctx)
        self.state.apply(d.writes)
        for table, changes in d.writes.items():
            rows = self.persisted.setdefault(table, {})
            for k, v in changes.items():
                if v is None:
                    rows.pop(k, None)
                else:
                    rows[k] = v
        self.seq += 1
        return d

    def run(self, items: Iterable[Mapping[str, Any] | Input]) -> list[Decision]:
        return [self.step(x) for x in items]

    def rebuilt(self) -> State:
        return State.rebuild({t: rows.items() for t, rows in self.persisted.items()})


# ---------------------------------------------------------------- non-interference (SPEC §5)
Event = Mapping[str, Any] | Input  # a report dict or a ready Input (e.g. a ShareInput)


def run_events(events: list[tuple[Event, int]], ctx: Context | None = None) -> list[Decision]:
    """Decide ``(event, now_ms)`` pairs in order on a fresh state (seq = position in this run)."""
    run = Runner(ctx)
    return [run.step(ev, now) for ev, now in events]


def _strip(value: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k != "routed_at"}


def view_of(decisions: list[Decision], recipient: str) -> list[dict[str, Any]]:
    """What ``recipient`` receives: its feed items and the receipts of its own reports, in order,
    without processing timestamps."""
    out = []
    for d in decisions:
        out += [_strip(it) for it in d.feed_items if it["recipient"] == recipient]
        if d.receipt is not None and d.receipt["state"] == recipient:
            out.append(_strip(d.receipt))
    return out


def visible_to(events: list[tuple[Event, int]], decisions: list[Decision], recipient: str) -> list[int]:
    """Positions of the inputs ``recipient`` may see, judged by the full run: report versions routed
    to it, sent by its state, or shared with it (rejected versions count as not receivable), and the
    shares that reached it or concern its own reports."""
    shared: set[tuple[str, int]] = set()
    for d in decisions:
        for it in d.feed_items:
            if it["delivery"] == "SHARED" and it["recipient"] == recipient:
                shared.add((it["report"]["report_id"], it["report"]["version"]))
    keep = []
    for i, ((ev, _now), d) in enumerate(zip(events, decisions, strict=True)):
        if isinstance(ev, ShareInput):
            cmd = ev.command
            if cmd["report"]["reporter_state"] == recipient or any(it["recipient"] == recipient
                                                                   for it in d.feed_items):
                keep.append(i)
            continue
        rep = ev.report if isinstance(ev, ReportInput) else ev
        if d.verdict not in ("NEW", "UPDATE"):
            continue
        if rep["reporter_state"] == recipient or any(it["recipient"] == recipient for it in d.feed_items) or (
                rep["report_id"], rep["version"]) in shared:
            keep.append(i)
    return keep


def check_noninterference(events: list[tuple[Event, int]], ctx: Context | None = None,
                          recipients: Iterable[str] | None = None, stats: dict[str, int] | None = None) -> int:
    """For every recipient: its view of the full sequence equals its view of the sequence without
    what it may not see. Returns the number of recipients compared (whose filtered run differs);
    ``stats`` (optional) counts verdicts, delivery kinds and items with links/refs of the full run."""
    ctx = ctx or context()
    full = run_events(events, ctx)
    if stats is not None:
        for d in full:
            stats[f"verdict {d.verdict}"] = stats.get(f"verdict {d.verdict}", 0) + 1
            for it in d.feed_items:
                stats[f"item {it['delivery']}"] = stats.get(f"item {it['delivery']}", 0) + 1
                for f in ("entity_links", "prior_reports", "also_reported_by"):
                    if it["enrichment"][f]:
                        stats[f"with {f}"] = stats.get(f"with {f}", 0) + 1
    compared = 0
    for r in recipients or ctx.settings.recipients:
        keep = visible_to(events, full, r)
        if len(keep) == len(events):
            continue
        part = run_events([events[i] for i in keep], ctx)
        assert view_of(part, r) == view_of(full, r), f"what {r} receives depends on reports it may not see"
        compared += 1
    return compared

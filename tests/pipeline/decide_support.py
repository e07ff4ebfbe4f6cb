"""Helpers for the decide() tests: a fake consumed record, a context, and a runner that applies the
writes of each decision like the shell does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.codec import REPORT, codec
from hub.pipeline import enrich
from hub.pipeline.decide import Context, Decision, Input, ReportInput, ShareInput, decide
from hub.pipeline.state import State
from hub.topics import VALIDATED
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

"""The ``audit`` projection: ``hub.audit`` (AuditEvent and AuditBatch records) → the HMAC chain.

Its own consumer (group ``hub-sink-audit``) and transaction: the chain's order is the order in which
this one consumer stores the events, as before; ``hub audit verify`` checks it. A rebuild (``hub
projection rebuild audit``) writes a NEW chain from the topic: the old anchor file no longer matches
it, so the rebuild moves it aside (``<file>.before-rebuild-<time>``) and anchors the new head.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import ClassVar

from hub.audit.store import DDL, AuditStore
from hub.platform import metrics
from hub.platform.db import Database
from hub.platform.settings import Settings
from hub.projections.base import Projection, Sorted


class AuditProjection(Projection):
    name: ClassVar[str] = "audit"
    inputs: ClassVar[frozenset[str]] = frozenset({"audit"})
    dead_letters_of: ClassVar[frozenset[str]] = frozenset({"audit"})

    def __init__(self, db: Database, settings: Settings) -> None:
        super().__init__(db, settings)
        self.store = AuditStore(db, settings)
        self._added: list[dict[str, object]] = []

    def write(self, batch: Sorted) -> int:
        self._added = self.store.store(batch.audit_events)
        return len(self._added)

    def after_commit(self) -> None:
        added, self._added = self._added, []
        for stage, n in Counter(str(row["stage"]) for row in added).items():
            metrics.AUDIT_STORED.labels(stage).inc(n)
        if added:
            metrics.AUDIT_SINK_LAG.set(max(0.0, time.time() - int(added[-1]["occurred_at"]) / 1000))  # type: ignore[call-overload]

    def tables(self) -> list[str]:
        return ["audit_log", "audit_head", "audit_meta"]

    def reset(self) -> None:
        anchors = self.store.anchor_file
        if anchors.exists():
            anchors.rename(anchors.with_name(f"{anchors.name}.before-rebuild-{int(time.time())}"))
        super().reset()

    def recreate(self) -> None:
        self.db.migrate(DDL)
        self.store = AuditStore(self.db, self.settings)  # a new store: marks the fresh chain current

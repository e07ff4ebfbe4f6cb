"""The ``provider`` projection: ``hub.audit`` and ``hub.receipts`` → the provider's read model (SPEC §13).

Its own consumer (group ``hub-sink-provider``) and transaction. After each commit it wakes the
gateway's agency event streams (channel ``hub_provider``, payload: the newest change cursor of each
agency the batch touched).
"""

from __future__ import annotations

from typing import ClassVar

import structlog

from hub.platform.db import Database
from hub.platform.settings import Settings
from hub.projections import wake
from hub.projections.base import Projection, Sorted
from hub.provider.store import READ_MODEL_DDL, ReceiptStore

log = structlog.get_logger(__name__)


class ProviderProjection(Projection):
    name: ClassVar[str] = "provider"
    inputs: ClassVar[frozenset[str]] = frozenset({"audit", "receipts"})
    dead_letters_of: ClassVar[frozenset[str]] = frozenset({"receipts"})
    sqlite_slice: ClassVar[int] = 200

    def __init__(self, db: Database, settings: Settings) -> None:
        super().__init__(db, settings)
        self.store = ReceiptStore(db)
        self.notifier = wake.Notifier(db, wake.PROVIDER)
        self._heads: dict[str, int] = {}

    def write(self, batch: Sorted) -> int:
        heads: dict[str, int] = {}
        n = self.store.apply(batch.audit_events, batch.receipts, heads=heads)
        self.notifier.in_transaction(heads)
        self._heads = heads
        if n:
            log.debug("provider changes projected", changes=n)
        return n

    def after_commit(self) -> None:
        heads, self._heads = self._heads, {}
        self.notifier.after_commit(heads)

    def tables(self) -> list[str]:
        return ["provider_pending", "provider_cursor", "provider_changes", "provider_recipients", "provider_events",
                "provider_versions", "provider_reports"]

    def recreate(self) -> None:
        self.db.migrate(READ_MODEL_DDL)

    def close(self) -> None:
        self.notifier.close()

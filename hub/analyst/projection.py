"""The ``analyst`` projection: ``hub.feed.*`` and ``hub.receipts`` → the analyst tables (SPEC §14).

Its own consumer (group ``hub-sink-analyst``) and transactions: the search index and the statistics
may lag the officers' feed (``GET /v1/projections`` says by how much); they never hold it back. On
SQLite its transactions take at most :attr:`sqlite_slice` records, so the feed store's commit waits
at most one short slice for the database's single writer lock.
"""

from __future__ import annotations

from typing import ClassVar

import orjson

from hub.analyst.extract import from_item, from_receipt
from hub.analyst.store import DDL, PG_DDL, AnalystStore
from hub.platform.db import Database
from hub.platform.settings import Settings
from hub.projections.base import Projection, Sorted


class AnalystProjection(Projection):
    name: ClassVar[str] = "analyst"
    inputs: ClassVar[frozenset[str]] = frozenset({"feed", "receipts"})
    sqlite_slice: ClassVar[int] = 100

    def __init__(self, db: Database, settings: Settings) -> None:
        super().__init__(db, settings)
        self.store = AnalystStore(db)

    def write(self, batch: Sorted) -> int:
        # the item's JSON as the feed store writes it (built once, when the record was decoded), kept as
        # the document's body
        texts = [r["item"] for r in batch.feed()]
        docs = [from_item(orjson.loads(t), t) for t in texts] + [from_receipt(r) for r in batch.receipts]
        self.store.apply(docs)
        return len(docs)

    def tables(self) -> list[str]:
        if self.db.dialect == "sqlite":
            fts = [r["name"] for r in self.db.query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE 'analyst\\_fts\\_%' ESCAPE '\\' "
                "OR name LIKE 'analyst\\_terms\\_%' ESCAPE '\\') AND sql LIKE 'CREATE VIRTUAL TABLE%'")]
        else:
            fts = []
        return [*fts, "analyst_docs", "analyst_versions", "analyst_incidents", "analyst_facts", "analyst_stats",
                "analyst_name_terms"]

    def recreate(self) -> None:
        self.db.migrate(DDL)
        if self.db.dialect == "postgresql":
            self.db.migrate(PG_DDL)
        self.store = AnalystStore(self.db)  # fresh caches: the name terms it remembered are gone

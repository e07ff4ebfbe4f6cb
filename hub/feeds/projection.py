"""The ``feeds`` projection: ``hub.feed.*`` → ``feed_items``, and nothing else in its transaction.

The officer's item is stored by this consumer alone (group ``hub-sink-feeds``), so it never waits
for the audit chain, the search index or the provider's read model. After each commit it wakes the
gateway's open streams (:mod:`hub.projections.wake`, channel ``hub_feed``) with the newest cursor of
every recipient the batch touched.

On SQLite its transaction touches only the feed file (:func:`hub.feeds.store.feed_database`): its
``db`` is that file, so its writer gate, its progress row and its wake-up directory are the feed
file's own, and no analyst or provider write to the main file holds it back.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import structlog

from hub.feeds.store import DDL, FeedStore
from hub.platform.db import Database
from hub.platform.settings import Settings
from hub.projections import wake
from hub.projections.base import Projection, Sorted

log = structlog.get_logger(__name__)


class FeedProjection(Projection):
    name: ClassVar[str] = "feeds"
    inputs: ClassVar[frozenset[str]] = frozenset({"feed"})
    dead_letters_of: ClassVar[frozenset[str]] = frozenset({"feed"})
    urgent: ClassVar[bool] = True  # first through the process's SQLite writer gate

    def __init__(self, db: Database, settings: Settings) -> None:
        store = FeedStore(db)  # its db: the feed file (SQLite), ``db`` itself (PostgreSQL)
        super().__init__(store.db, settings)
        self.store = store
        self.notifier = wake.Notifier(self.db, wake.FEED)
        self._heads: dict[str, int] = {}
        self._cursors: dict[str, list[int]] = {}
        self._woken = 0.0

    def write(self, batch: Sorted) -> int:
        added = self.store.add_rows(batch.feed())
        heads: dict[str, int] = {}
        firsts: dict[str, int] = {}
        for r in added:
            heads[r["recipient"]] = max(heads.get(r["recipient"], 0), r["seq"])
            firsts.setdefault(r["recipient"], r["seq"])
        self.notifier.in_transaction(heads)  # PostgreSQL: NOTIFY, delivered at commit
        self._heads = heads
        self._cursors = {k: [firsts[k], heads[k]] for k in heads}
        if added:  # one line per batch, not per row (a structlog line costs about as much as the row)
            log.info("feed items stored", items=len(added), cursors=heads)
        return len(added)

    def after_commit(self) -> None:
        heads, self._heads = self._heads, {}
        self.notifier.after_commit(heads)  # SQLite: a datagram to every listening gateway
        self._woken = time.time()

    def trace(self) -> dict[str, Any]:
        # the wake-up's moment, and {recipient: [first, last]} stored
        return super().trace() | {"woken_ms": round(self._woken * 1000, 1), "cursors": self._cursors}

    def tables(self) -> list[str]:
        return ["feed_items"]  # feed_acks are the officers' acknowledgements, written by the gateway

    def recreate(self) -> None:
        self.db.migrate(DDL)

    def close(self) -> None:
        self.notifier.close()

"""The STIX objects of each state's TAXII collection, derived from its feed (SPEC §15).

``stix_objects`` holds, per collection (= recipient state), every STIX object its feed items map to
(:mod:`hub.interop.stix`), each object version once, in feed order: ``(seq, pos)`` = the feed cursor
of the item that first brought the object and its position among that item's objects. It is a cache of
a pure function of the state's own feed, filled on demand (:meth:`StixStore.sync`, before every read)
from ``feed_items`` rows after the collection's ``stix_progress`` -- nothing else is read, so what a
collection serves obeys SPEC §5 exactly as the feed does. Rows are only appended after the highest
``seq`` already mapped, so a TAXII ``next`` token (``seq.pos``) never skips or repeats an object.
Two gateways syncing at once compute the same rows; the unique keys keep one copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from hub.interop import stix
from hub.platform.db import Database

DDL = [
    """CREATE TABLE IF NOT EXISTS stix_objects (
        collection TEXT NOT NULL,
        seq {bigint} NOT NULL,
        pos INTEGER NOT NULL,
        stix_id TEXT NOT NULL,
        type TEXT NOT NULL,
        version TEXT NOT NULL,
        version_ms {bigint} NOT NULL,
        added_ms {bigint} NOT NULL,
        content INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        report_id TEXT NOT NULL,
        report_version INTEGER NOT NULL,
        agency TEXT NOT NULL,
        delivery TEXT NOT NULL,
        trace_id TEXT,
        object TEXT NOT NULL,
        PRIMARY KEY (collection, seq, pos),
        UNIQUE (collection, stix_id, version)
    )""",
    "CREATE INDEX IF NOT EXISTS stix_objects_id ON stix_objects (collection, stix_id, version_ms)",
    """CREATE TABLE IF NOT EXISTS stix_progress (
        collection TEXT PRIMARY KEY,
        seq {bigint} NOT NULL
    )""",
]
BATCH = 500  # feed items mapped per transaction
COLUMNS = ("collection", "seq", "pos", "stix_id", "type", "version", "version_ms", "added_ms", "content", "item_id",
           "report_id", "report_version", "agency", "delivery", "trace_id", "object")
VERSION_WORDS = ("first", "last", "all")


@dataclass(frozen=True)
class Query:
    """What a TAXII request asks of a collection (already validated)."""

    after: tuple[int, int] = (0, -1)  # (seq, pos) of the last object seen (``next``)
    added_after_ms: int | None = None
    types: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)  # words of VERSION_WORDS and/or STIX timestamps
    spec_versions: tuple[str, ...] = ()
    limit: int = 100


class StixStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate(DDL)

    # -- filling ------------------------------------------------------------------------------
    def sync(self, collection: str) -> int:
        """Map the collection's feed items not mapped yet; the number of items mapped."""
        done = 0
        while True:
            n = self._sync_batch(collection)
            done += n
            if n < BATCH:
                return done

    def _behind(self, collection: str) -> bool:
        """Whether the feed has items the collection has not mapped (a read, no write lock)."""
        row = self.db.one("SELECT seq FROM stix_progress WHERE collection = ?", (collection,))
        progress = int(row["seq"]) if row else 0
        return self.db.one("SELECT seq FROM feed_items WHERE recipient = ? AND seq > ? LIMIT 1",
                           (collection, progress)) is not None

    def _sync_batch(self, collection: str) -> int:
        if not self._behind(collection):
            return 0
        with self.db.transaction():
            row = self.db.one("SELECT seq FROM stix_progress WHERE collection = ?", (collection,))
            progress = int(row["seq"]) if row else 0
            items = self.db.query("SELECT seq, stored_at, item FROM feed_items WHERE recipient = ? AND seq > ? "
                                  "ORDER BY seq LIMIT ?", (collection, progress, BATCH))
            if not items:
                return 0
            mapped = [(r, orjson.loads(r["item"])) for r in items]
            full = [(r, it, stix.item_objects(it)) for r, it in mapped]
            ids = sorted({o["id"] for _, _, objs in full for o in objs})
            held: dict[str, stix.Held] = {}
            for h in self.db.query_in("SELECT stix_id, version, object FROM stix_objects WHERE collection = ? "
                                      "AND stix_id IN ({marks})", ids, (collection,)):
                created = orjson.loads(h["object"])["created"]
                old = held.get(h["stix_id"])
                held[h["stix_id"]] = stix.Held(created, (old.versions if old else frozenset()) | {h["version"]})
            rows: list[list[Any]] = []
            for r, it, objs in full:
                rep = it["report"]
                for pos, obj in enumerate(stix.admit(objs, held)):
                    version = stix.version_of(obj)
                    rows.append([collection, int(r["seq"]), pos, obj["id"], obj["type"], version, stix.ts_ms(version),
                                 int(r["stored_at"]), int(stix.content_of(obj)), it["item_id"], rep["report_id"],
                                 int(rep["version"]), rep["agency"], it["delivery"], rep.get("trace_id"),
                                 orjson.dumps(obj).decode()])
            self.db.executemany(
                f"INSERT INTO stix_objects ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
                "ON CONFLICT DO NOTHING", rows)
            top = int(items[-1]["seq"])
            if row:
                self.db.execute("UPDATE stix_progress SET seq = ? WHERE collection = ? AND seq < ?",
                                (top, collection, top))
            else:
                self.db.execute("INSERT INTO stix_progress (collection, seq) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                (collection, top))
            return len(items)

    # -- reading ------------------------------------------------------------------------------
    def _where(self, collection: str, q: Query) -> tuple[str, list[Any]]:
        sql = ["o.collection = ?", "(o.seq > ? OR (o.seq = ? AND o.pos > ?))"]
        params: list[Any] = [collection, q.after[0], q.after[0], q.after[1]]
        if q.added_after_ms is not None:
            sql.append("o.added_ms > ?")
            params.append(q.added_after_ms)
        if q.types:
            sql.append(f"o.type IN ({','.join('?' * len(q.types))})")
            params += q.types
        if q.ids:
            sql.append(f"o.stix_id IN ({','.join('?' * len(q.ids))})")
            params += q.ids
        if q.spec_versions and stix.SPEC not in q.spec_versions:
            sql.append("1 = 0")
        if "all" not in q.versions:
            alts = []
            if "last" in q.versions:
                alts.append("NOT EXISTS (SELECT 1 FROM stix_objects n WHERE n.collection = o.collection "
                            "AND n.stix_id = o.stix_id AND n.version_ms > o.version_ms)")
            if "first" in q.versions:
                alts.append("NOT EXISTS (SELECT 1 FROM stix_objects n WHERE n.collection = o.collection "
                            "AND n.stix_id = o.stix_id AND n.version_ms < o.version_ms)")
            stamps = [stix.ts_ms(v) for v in q.versions if v not in VERSION_WORDS]
            if stamps:
                alts.append(f"o.version_ms IN ({','.join('?' * len(stamps))})")
                params += stamps
            sql.append("(" + " OR ".join(alts) + ")")
        return " AND ".join(sql), params

    def page(self, collection: str, q: Query) -> tuple[list[dict[str, Any]], bool]:
        """Rows (with ``object`` JSON text) matching ``q`` after ``q.after``, in collection order, at most
        ``q.limit``; and whether there are more."""
        where, params = self._where(collection, q)
        rows = self.db.query(f"SELECT o.* FROM stix_objects o WHERE {where} ORDER BY o.seq, o.pos LIMIT ?",
                             (*params, q.limit + 1))
        return rows[:q.limit], len(rows) > q.limit

    def versions(self, collection: str, stix_id: str, q: Query) -> tuple[list[dict[str, Any]], bool]:
        """The versions of one object in the order the collection got them, with ``(seq, pos)`` after
        ``q.after``."""
        where, params = self._where(collection, Query(after=q.after, added_after_ms=q.added_after_ms, ids=(stix_id,),
                                                      versions=("all",), spec_versions=q.spec_versions))
        rows = self.db.query(f"SELECT o.seq, o.pos, o.version, o.added_ms FROM stix_objects o WHERE {where} "
                             "ORDER BY o.seq, o.pos LIMIT ?", (*params, q.limit + 1))
        return rows[:q.limit], len(rows) > q.limit

    def holds(self, collection: str, stix_id: str) -> bool:
        return self.db.one("SELECT 1 AS x FROM stix_objects WHERE collection = ? AND stix_id = ? LIMIT 1",
                           (collection, stix_id)) is not None

    def everything(self, collection: str) -> list[dict[str, Any]]:
        """Every object version of a collection, in order (for tests and tools)."""
        return [orjson.loads(r["object"]) for r in self.db.query(
            "SELECT object FROM stix_objects WHERE collection = ? ORDER BY seq, pos", (collection,))]


def rows_objects(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [orjson.loads(r["object"]) for r in rows]

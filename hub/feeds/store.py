"""Feed store (SPEC §8): routed feed items per recipient, deduplicated by their deterministic id.

The ``feeds`` projection (:mod:`hub.feeds.projection`, run by ``hub sink``) inserts every FeedItem it
consumes from ``hub.feed.<RECIPIENT>``;
``item_id`` (``report_id:version:recipient``) is UNIQUE, so a redelivery inside the hub is stored —
and therefore shown — once. Each recipient's items get ``seq`` 1, 2, 3, … in insertion order: that
number is the officer's resumable cursor (SSE ``id`` / ``Last-Event-ID``, ``?after=``).
Rows are only ever appended by one writer transaction at a time, so a reader that has seen ``seq``
N never later finds a new item with ``seq`` ≤ N (no gap on resume).

A FeedItem becomes a row by :func:`hub.domain.feedjson.to_row` (pure, shared with the projections'
decoding step); :func:`view` turns a row into the API view; :class:`FeedStore` is the thin database shell.

On SQLite the store lives in a file of its own (:meth:`hub.platform.db.Database.feed_database`,
``hub.feed.db`` beside ``hub.db``), so the officers' feed never waits for another projection's
write; :func:`feed_database` opens it and, once, moves ``feed_items`` / ``feed_acks`` (and the
``feeds`` projection's progress row) out of a main file that still has them (:func:`move_tables`).
"""

from __future__ import annotations

import operator
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

from hub.domain.feedjson import plain, to_row
from hub.platform.clock import now_ms
from hub.platform.db import Database
from hub.projections import progress

DDL = [
    """CREATE TABLE IF NOT EXISTS feed_items (
        recipient TEXT NOT NULL,
        seq {bigint} NOT NULL,
        item_id TEXT NOT NULL UNIQUE,
        report_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        incident_id TEXT NOT NULL,
        delivery TEXT NOT NULL,
        kind TEXT NOT NULL,
        tlp TEXT NOT NULL,
        routed_at {bigint} NOT NULL,
        stored_at {bigint} NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (recipient, seq)
    )""",
    "CREATE INDEX IF NOT EXISTS feed_items_report ON feed_items (recipient, report_id, version)",
    """CREATE TABLE IF NOT EXISTS feed_acks (
        recipient TEXT NOT NULL,
        report_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        actor TEXT NOT NULL,
        acked_at {bigint} NOT NULL,
        PRIMARY KEY (recipient, report_id, version)
    )""",
]


ACK_COLUMNS = ("recipient", "report_id", "version", "actor", "acked_at")
PROGRESS_COLUMNS = ("name", "records", "added", "last_record_ms", "backlog", "updated_at")
_MOVED: set[str] = set()  # main files whose feed tables this process has checked (and moved)
_MOVE_LOCK = threading.Lock()


def feed_database(db: Database) -> Database:
    """The feed store's database for the main database ``db`` (SQLite: the feed file, its tables
    created and any left in the main file moved there; PostgreSQL: ``db`` itself, tables created)."""
    fdb = db.feed_database()
    fdb.migrate(DDL)
    if fdb is not db:
        progress.migrate(fdb)
        with _MOVE_LOCK:
            if db.path not in _MOVED:
                move_tables(db.path, fdb.path)
                _MOVED.add(db.path)
    return fdb


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction on a plain sqlite3 connection (autocommit mode): committed, or rolled back
    on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def move_tables(main_path: str, feed_path: str) -> bool:
    """Move ``feed_items``, ``feed_acks`` and the ``feeds`` progress row of an older main SQLite file
    into the feed file (which has its tables already). Two transactions: copy (``INSERT OR IGNORE``:
    the rows are keyed, so a copy repeated after an interruption adds nothing), then drop from the
    main file -- interrupted anywhere, nothing is lost and the next start finishes it. Returns
    whether there was anything to move."""
    conn = sqlite3.connect(feed_path, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("ATTACH DATABASE ? AS old", (main_path,))
        old = {r[0] for r in conn.execute("SELECT name FROM old.sqlite_master WHERE type = 'table' AND name IN "
                                          "('feed_items', 'feed_acks', 'projection_progress')")}
        if not old & {"feed_items", "feed_acks"}:
            return False
        with _immediate(conn):  # copy
            for table, cols in (("feed_items", INSERT_COLUMNS), ("feed_acks", ACK_COLUMNS)):
                if table in old:
                    c = ", ".join(cols)
                    conn.execute(f"INSERT OR IGNORE INTO main.{table} ({c}) SELECT {c} FROM old.{table}")
            if "projection_progress" in old:
                c = ", ".join(PROGRESS_COLUMNS)
                conn.execute(f"INSERT OR IGNORE INTO main.projection_progress ({c}) SELECT {c} "
                             "FROM old.projection_progress WHERE name = 'feeds'")
        with _immediate(conn):  # then drop
            conn.execute("DROP TABLE IF EXISTS old.feed_items")
            conn.execute("DROP TABLE IF EXISTS old.feed_acks")
            if "projection_progress" in old:
                conn.execute("DELETE FROM old.projection_progress WHERE name = 'feeds'")
        return True
    finally:
        conn.close()


INSERT_COLUMNS = ("recipient", "seq", "item_id", "report_id", "version", "incident_id", "delivery", "kind", "tlp",
                  "routed_at", "stored_at", "item")
_VALUES = operator.itemgetter(*INSERT_COLUMNS)  # a row's values in INSERT_COLUMNS order, as a tuple
LOOKUP_CHUNK = 500  # ids per IN (...) lookup (SQLite's default limit of bound variables is 999+)


def view(row: Mapping[str, Any], acked: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The API view of a stored row: cursor, the item itself and its acknowledgement (if any)."""
    item = orjson.loads(row["item"])
    return {"cursor": int(row["seq"]), "item_id": row["item_id"], "report_id": row["report_id"],
            "version": int(row["version"]), "incident_id": row["incident_id"], "delivery": row["delivery"],
            "item": item,
            "acknowledged": ({"by": acked["actor"], "at": plain(datetime.fromtimestamp(acked["acked_at"] / 1000, UTC))}
                             if acked else None)}


class FeedStore:
    def __init__(self, db: Database) -> None:
        """``db``: the main database; the store reads and writes its own (:func:`feed_database`)."""
        self.db = feed_database(db)

    def add(self, items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Insert items not stored yet (by item_id), in order. Returns the rows actually added, with seq.

        Rows (JSON) are built only for new items, so a replayed batch costs the lookup alone."""
        return self._insert(list(items), to_row)

    def add_rows(self, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """:meth:`add` for items already turned into rows (:func:`to_row`: what the ``feeds``
        projection gets from decoding). The rows added get their ``seq`` and ``stored_at``."""
        return self._insert(list(rows), lambda r: r)

    def _insert(self, items: list[Any], row: Any) -> list[dict[str, Any]]:
        """One transaction: one lookup of the known ids per 500 items, one ``MAX(seq)`` per
        recipient of the new items (one query), one ``executemany`` (SQLite) or one ``COPY``
        (PostgreSQL)."""
        if not items:
            return []
        with self.db.transaction():
            ids = list(dict.fromkeys(i["item_id"] for i in items))
            known: set[str] = set()
            for n in range(0, len(ids), LOOKUP_CHUNK):
                chunk = ids[n:n + LOOKUP_CHUNK]
                known |= {r["item_id"] for r in self.db.query(
                    f"SELECT item_id FROM feed_items WHERE item_id IN ({','.join('?' * len(chunk))})", chunk)}
            fresh: list[Any] = []
            for it in items:
                if it["item_id"] not in known:
                    known.add(it["item_id"])
                    fresh.append(it)
            if not fresh:
                return []
            rows = [row(i) for i in fresh]
            recipients = sorted({r["recipient"] for r in rows})
            tops = self.db.query(
                f"SELECT recipient, MAX(seq) AS m FROM feed_items WHERE recipient IN ({','.join('?' * len(recipients))}) "
                "GROUP BY recipient", recipients)
            next_seq = {r: 0 for r in recipients} | {t["recipient"]: int(t["m"] or 0) for t in tops}
            now = now_ms()
            for r in rows:
                next_seq[r["recipient"]] += 1
                r["seq"] = next_seq[r["recipient"]]
                r["stored_at"] = now
            if self.db.dialect == "postgresql":  # COPY: one stream of rows instead of a bind per row
                with self.db.connection().cursor() as cur, cur.copy(
                        f"COPY feed_items ({', '.join(INSERT_COLUMNS)}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(_VALUES(r))
            else:
                self.db.executemany(
                    "INSERT INTO feed_items (recipient, seq, item_id, report_id, version, incident_id, delivery, "
                    "kind, tlp, routed_at, stored_at, item) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    list(map(_VALUES, rows)))
        return rows

    def page(self, recipient: str, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Items of one recipient with cursor > ``after``, oldest first (API views)."""
        rows = self.db.query(
            "SELECT seq, item_id, report_id, version, incident_id, delivery, item FROM feed_items "
            "WHERE recipient = ? AND seq > ? ORDER BY seq LIMIT ?", (recipient, after, limit))
        if not rows:
            return []
        acks = self.acks(recipient, {r["report_id"] for r in rows})
        return [view(r, acks.get((r["report_id"], int(r["version"])))) for r in rows]

    def acks(self, recipient: str, report_ids: set[str]) -> dict[tuple[str, int], dict[str, Any]]:
        ids = sorted(report_ids)
        marks = ",".join("?" * len(ids))
        rows = self.db.query(
            f"SELECT report_id, version, actor, acked_at FROM feed_acks WHERE recipient = ? AND report_id IN ({marks})",
            (recipient, *ids))
        return {(r["report_id"], int(r["version"])): r for r in rows}

    def latest(self, recipient: str, report_id: str) -> dict[str, Any] | None:
        """The newest version of a report in a recipient's feed (for acknowledgements)."""
        return self.db.one(
            "SELECT seq, item_id, report_id, version, incident_id, routed_at FROM feed_items "
            "WHERE recipient = ? AND report_id = ? ORDER BY version DESC LIMIT 1", (recipient, report_id))

    def acknowledge(self, recipient: str, report_id: str, version: int, actor: str, at_ms: int) -> bool:
        """Record an acknowledgement; False when this version was already acknowledged."""
        with self.db.transaction():
            if self.db.one("SELECT 1 AS x FROM feed_acks WHERE recipient = ? AND report_id = ? AND version = ?",
                           (recipient, report_id, version)):
                return False
            self.db.execute("INSERT INTO feed_acks (recipient, report_id, version, actor, acked_at) "
                            "VALUES (?, ?, ?, ?, ?)", (recipient, report_id, version, actor, at_ms))
            return True

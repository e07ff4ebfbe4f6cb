"""SQLite: the feed store in a file of its own (``hub.db`` → ``hub.feed.db``).

Its writers and the main file's writers never wait for each other (each side tried with
``busy_timeout = 0``: a lock it had to wait for raises at once), readers of the main file still find
``feed_items`` / ``feed_acks`` by their plain names (read-only), and an older main file's feed tables
are moved over once, safely if interrupted."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.feeds import store as feed_store
from hub.feeds.projection import FeedProjection
from hub.feeds.store import DDL, FeedStore, feed_database, move_tables
from hub.platform.db import DIALECT_TYPES, Database, feed_path
from hub.projections import progress
from hub.projections.base import Sorted, writer_gate
from tests.conftest import hub_settings
from tests.feeds.test_feedstore import it


def in_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a fresh thread (its own connections) and return its result or raise its error."""
    out: list[Any] = []
    err: list[BaseException] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:
            err.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join(30)  # a hang guard: with busy_timeout 0 nothing here waits for a lock
    assert not t.is_alive(), "the other writer waited"
    if err:
        raise err[0]
    return out[0]


def no_wait(db: Database) -> Database:
    """This thread's connection to ``db`` raises at once on a lock held by another connection."""
    db.connection().execute("PRAGMA busy_timeout = 0")
    return db


@pytest.fixture()
def db(tmp_path: Path) -> Any:
    d = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    d.migrate(["CREATE TABLE IF NOT EXISTS other (x INTEGER)"])  # a main-file table (as the analyst's)
    yield d
    d.close()


def test_the_feed_file_sits_beside_the_main_file(tmp_path: Path, db: Database) -> None:
    assert feed_path(str(tmp_path / "hub.db")) == str(tmp_path / "hub.feed.db")
    assert feed_path("/x/hub") == "/x/hub.feed.db"
    fs = FeedStore(db)
    assert fs.db.path == str(tmp_path / "hub.feed.db") and fs.db is db.feed_database()
    assert writer_gate(fs.db) is not writer_gate(db)  # a gate of its own
    assert Database("sqlite:///:memory:").feed_database().path == ":memory:"
    assert {r["name"] for r in db.query("SELECT name FROM main.sqlite_master")} & {"feed_items", "feed_acks"} == set()


def test_the_feed_commits_while_the_main_file_is_being_written(db: Database) -> None:
    projection = FeedProjection(db, hub_settings())
    assert projection.db is db.feed_database()
    with db.transaction():  # an analyst's slice: the main file's write lock held, uncommitted
        db.execute("INSERT INTO other VALUES (1)")
        added = in_thread(lambda: (no_wait(projection.db), projection.apply(Sorted(feed_items=[it("UZ", "A")])))[1])
        assert added == 1
    # a reader of the main file sees the item by its plain table name
    assert db.one("SELECT COUNT(*) AS n FROM feed_items")["n"] == 1
    assert {v["projection"] for v in progress.read(db)} == {"feeds"}
    projection.close()


def test_the_main_file_commits_while_the_feed_file_is_being_written(db: Database) -> None:
    fs = FeedStore(db)
    with fs.db.transaction():  # the feed projection's transaction, uncommitted
        fs.add([it("UZ", "A")])
        progress.record(fs.db, "feeds", records=1, added=1, last_record_ms=None, backlog=0)

        def main_write() -> int:
            no_wait(db)
            with db.transaction():  # BEGIN IMMEDIATE: the read-only feed file takes no write lock
                db.execute("INSERT INTO other VALUES (2)")
                # and the main file's connection reads the feed file inside its own write
                return db.one("SELECT COUNT(*) AS n FROM feed_items")["n"]

        assert in_thread(main_write) == 0  # the feed's write is not committed yet
        assert fs.acknowledge("UZ", it("UZ", "A")["report"]["report_id"], 1, "officer:x", 1) is True
    assert db.one("SELECT COUNT(*) AS n FROM other")["n"] == 1
    assert db.one("SELECT COUNT(*) AS n FROM feed_acks")["n"] == 1


def test_the_main_files_connections_cannot_write_the_feed_tables(db: Database) -> None:
    FeedStore(db)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.execute("INSERT INTO feed_acks (recipient, report_id, version, actor, acked_at) VALUES ('UZ', 'R', 1, 'a', 1)")


def old_main_file(path: Path, items: list[dict[str, Any]]) -> None:
    """A main file as before the split: feed tables and the feeds progress row in it."""
    con = sqlite3.connect(path, isolation_level=None)
    for ddl in DDL + progress.DDL:
        con.execute(ddl.format(**DIALECT_TYPES["sqlite"]))
    for seq, item in enumerate(items, 1):
        con.execute("INSERT INTO feed_items (recipient, seq, item_id, report_id, version, incident_id, delivery, kind, "
                    "tlp, routed_at, stored_at, item) VALUES (?, ?, ?, ?, 1, ?, 'full', 'report', 'AMBER', 1, 1, '{}')",
                    (item["recipient"], seq, item["item_id"], item["report"]["report_id"], item["incident_id"]))
    con.execute("INSERT INTO feed_acks VALUES ('UZ', ?, 1, 'officer:x', 5)", (items[0]["report"]["report_id"],))
    con.execute("INSERT INTO projection_progress VALUES ('feeds', 7, 7, 1, 0, 9), ('analyst', 3, 3, 1, 0, 9)")
    con.close()


def test_an_older_main_files_feed_tables_are_moved_once(tmp_path: Path) -> None:
    items = [it("UZ", f"R{i}") for i in range(3)]
    old_main_file(tmp_path / "hub.db", items)
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    fs = FeedStore(db)
    assert [v["item_id"] for v in fs.page("UZ")] == [i["item_id"] for i in items]
    assert fs.page("UZ")[0]["acknowledged"]["by"] == "officer:x"
    names = {r["name"] for r in db.query("SELECT name FROM main.sqlite_master WHERE type = 'table'")}
    assert "feed_items" not in names and "feed_acks" not in names
    assert {v["projection"]: v["records"] for v in progress.read(db)} == {"analyst": 3, "feeds": 7}
    assert [r["name"] for r in db.query("SELECT name FROM main.projection_progress")] == ["analyst"]
    # the next item continues the recipient's cursors (no seq reused)
    assert fs.add([it("UZ", "next")])[0]["seq"] == 4
    db.close()


def test_a_move_interrupted_after_the_copy_is_finished_by_the_next_start(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    items = [it("UZ", f"R{i}") for i in range(3)]
    main = tmp_path / "hub.db"
    old_main_file(main, items)
    feed = Database(f"sqlite:///{feed_path(str(main))}", feed_file=True)
    feed.migrate(DDL + progress.DDL)
    real_connect = sqlite3.connect

    class Interrupted(Exception):
        pass

    def dies_at_drop(*args: Any, **kwargs: Any) -> Any:
        con = real_connect(*args, **kwargs)

        class Con:  # the process dies at the second BEGIN (the drop), after the copy committed
            begins = 0

            def execute(self, sql: str, *a: Any) -> Any:
                if sql == "BEGIN IMMEDIATE":
                    Con.begins += 1
                    if Con.begins == 2:
                        raise Interrupted
                return con.execute(sql, *a)

            def close(self) -> None:
                con.close()
        return Con()

    monkeypatch.setattr(feed_store.sqlite3, "connect", dies_at_drop)
    with pytest.raises(Interrupted):
        move_tables(str(main), feed.path)
    monkeypatch.setattr(feed_store.sqlite3, "connect", real_connect)
    assert feed.one("SELECT COUNT(*) AS n FROM feed_items")["n"] == 3  # copied
    con = real_connect(main)
    assert con.execute("SELECT COUNT(*) FROM feed_items").fetchone()[0] == 3  # not dropped yet
    con.close()
    # the next start: copies again (nothing new), then drops
    assert move_tables(str(main), feed.path) is True
    assert feed.one("SELECT COUNT(*) AS n FROM feed_items")["n"] == 3
    assert feed.one("SELECT COUNT(*) AS n FROM feed_acks")["n"] == 1
    assert move_tables(str(main), feed.path) is False  # nothing left to move
    db = Database(f"sqlite:///{main}")
    assert feed_database(db).one("SELECT COUNT(*) AS n FROM feed_items")["n"] == 3
    assert db.one("SELECT COUNT(*) AS n FROM feed_items")["n"] == 3  # read through the attached file
    db.close()
    feed.close()

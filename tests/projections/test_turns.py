"""SQLite: the officers' feed has a database file and so a writer gate of its own; a neighbour in the
same sink process (the analyst) holding its gate turn -- decoding, or in the middle of its write
transaction on the main file -- does not hold the feed's decoding, write or commit back at all."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from hub.platform.db import Database
from hub.projections import base
from hub.projections.base import classify, writer_gate
from hub.projections.registry import build
from hub.sink import write
from hub.tools.bench.projections import records
from tests.conftest import hub_settings


def _finished(thread: threading.Thread) -> None:
    thread.start()
    thread.join(30)  # a hang guard, not a timing assertion: the feed does not wait for the neighbour at all
    assert not thread.is_alive(), "the feed waited for its neighbour"


@pytest.fixture()
def two(tmp_path: Path) -> tuple[Any, Any, list[Any]]:
    settings = hub_settings()
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    feeds, analyst = build(["feeds", "analyst"], db, settings)
    analyst.sqlite_slice = analyst.decode_slice = 10  # its batch of feed records takes several turns
    recs = [r for r in records(20, settings) if r.topic.startswith("hub.feed.")]
    assert len(recs) > 3 * analyst.sqlite_slice
    feeds.decode_slice = len(recs)  # the feed's own batch: one turn
    yield feeds, analyst, recs
    for p in (feeds, analyst):
        p.close()
    db.close()


def test_the_feed_decodes_while_a_neighbour_holds_its_turn(two: tuple[Any, Any, list[Any]],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    feeds, analyst, recs = two
    gate = writer_gate(feeds.db)
    assert gate is not None and gate is not writer_gate(analyst.db)  # a file, and so a gate, of its own
    turns: list[str] = []
    feed_out: list[Any] = []
    feed_thread = threading.Thread(target=lambda: feed_out.append(feeds.decode(recs)))

    def traced(part: list[Any]) -> Any:
        who = "feeds" if threading.current_thread() is feed_thread else "analyst"
        turns.append(who)
        if who == "analyst" and len(turns) == 1:  # the feed's batch arrives during the neighbour's first slice
            _finished(feed_thread)
        return classify(part)

    monkeypatch.setattr(base, "classify", traced)
    out = analyst.decode(recs)
    slices = -(-len(recs) // analyst.decode_slice)
    # the feed decoded its whole batch inside the neighbour's first slice
    assert turns == ["analyst", "feeds"] + ["analyst"] * (slices - 1)
    # decoding in slices changes nothing of what is decoded
    whole = classify(recs)
    assert out.feed_rows == whole.feed_rows == feed_out[0].feed_rows and not out.dead_letters


def test_the_feed_commits_while_a_neighbour_holds_its_write_transaction(two: tuple[Any, Any, list[Any]]) -> None:
    feeds, analyst, recs = two
    order: list[str] = []
    errors: list[BaseException] = []
    feed_batch, analyst_batch = classify(recs[:5]), classify(recs)

    def feed_write() -> None:
        try:
            feeds.db.connection().execute("PRAGMA busy_timeout = 0")  # a held lock raises at once
            write(feeds, feed_batch)
        except BaseException as exc:
            errors.append(exc)

    feed_thread = threading.Thread(target=feed_write)
    analyst_write, feed_after_commit = analyst.write, feeds.after_commit

    def analyst_slice(batch: Any) -> int:
        order.append("analyst")
        if len(order) == 1:  # the feed's batch arrives while the neighbour holds its first transaction
            assert analyst.db.connection().in_transaction
            _finished(feed_thread)
        return analyst_write(batch)

    def feed_committed() -> None:
        order.append("feeds committed")
        feed_after_commit()

    analyst.write, feeds.after_commit = analyst_slice, feed_committed
    write(analyst, analyst_batch)
    assert errors == []
    slices = -(-len(recs) // analyst.sqlite_slice)
    assert order == ["analyst", "feeds committed"] + ["analyst"] * (slices - 1)
    assert feeds.db.one("SELECT COUNT(*) AS n FROM feed_items")["n"] == 5

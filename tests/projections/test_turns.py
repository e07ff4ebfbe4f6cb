"""One projection's CPU work at a time in a sink process, the feed's first (SQLite): decoding takes
turns through the writer gate slice by slice, so the officers' feed waits at most one slice of a
neighbour -- for its decoding as for its transaction -- however long the neighbour's batch is."""

from __future__ import annotations

import threading
import time
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


def _wait_queued(gate: base.WriterGate, urgent: int) -> None:
    deadline = time.monotonic() + 10  # a hang guard, not a timing assertion
    while len(gate._urgent) < urgent and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(gate._urgent) >= urgent


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


def test_the_feed_decodes_between_two_slices_of_a_neighbours_decoding(two: tuple[Any, Any, list[Any]],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    feeds, analyst, recs = two
    gate = writer_gate(feeds.db)
    assert gate is not None and gate is writer_gate(analyst.db)
    turns: list[str] = []
    feed_out: list[Any] = []
    feed_thread = threading.Thread(target=lambda: feed_out.append(feeds.decode(recs)))

    def traced(part: list[Any]) -> Any:
        who = "feeds" if threading.current_thread() is feed_thread else "analyst"
        turns.append(who)
        if who == "analyst" and len(turns) == 1:  # the feed's batch arrives during the neighbour's first slice
            feed_thread.start()
            _wait_queued(gate, 1)
        return classify(part)

    monkeypatch.setattr(base, "classify", traced)
    out = analyst.decode(recs)
    feed_thread.join(10)
    slices = -(-len(recs) // analyst.decode_slice)
    # the feed got the very next turn, not the end of the neighbour's batch
    assert turns == ["analyst", "feeds"] + ["analyst"] * (slices - 1)
    # decoding in slices changes nothing of what is decoded
    whole = classify(recs)
    assert out.feed_rows == whole.feed_rows == feed_out[0].feed_rows and not out.dead_letters


def test_the_feed_commits_between_two_slices_of_a_neighbours_long_write(two: tuple[Any, Any, list[Any]]) -> None:
    feeds, analyst, recs = two
    gate = writer_gate(feeds.db)
    assert gate is not None
    order: list[str] = []
    feed_batch, analyst_batch = classify(recs[:5]), classify(recs)
    feed_thread = threading.Thread(target=write, args=(feeds, feed_batch))
    analyst_write, feed_after_commit = analyst.write, feeds.after_commit

    def analyst_slice(batch: Any) -> int:
        order.append("analyst")
        if len(order) == 1:  # the feed's batch arrives while the neighbour holds its first transaction
            feed_thread.start()
            _wait_queued(gate, 1)
        return analyst_write(batch)

    def feed_committed() -> None:
        order.append("feeds committed")
        feed_after_commit()

    analyst.write, feeds.after_commit = analyst_slice, feed_committed
    write(analyst, analyst_batch)
    feed_thread.join(10)
    slices = -(-len(recs) // analyst.sqlite_slice)
    assert order == ["analyst", "feeds committed"] + ["analyst"] * (slices - 1)
    assert feeds.db.one("SELECT COUNT(*) AS n FROM feed_items")["n"] == 5

"""The feeds projection's row shortcut (:mod:`hub.domain.feedrow`): the parts a report's items share
decoded once. It must give exactly the row the generic decoding gives (the codec, then ``to_row``),
store exactly the same ``feed_items`` rows, never accept what the codec rejects, and leave
redelivery idempotent. Runs without Kafka: the records are what the worker's encoder writes for
simulator reports (:func:`hub.tools.bench.projections.records`)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hub.domain import feedrow
from hub.domain.codec import FEED_ITEM, HEADER_LEN, DecodeError, codec
from hub.domain.feedjson import to_row
from hub.feeds import store
from hub.feeds.projection import FeedProjection
from hub.platform.db import FEED_PAGE_SIZE, Database
from hub.platform.kafka.topics import FEED_PREFIX
from hub.projections.base import classify
from hub.sink import write
from hub.tools.bench.projections import Record, records
from tests.conftest import hub_settings


@pytest.fixture(scope="module")
def feed_recs() -> list[Record]:
    return [r for r in records(150, hub_settings()) if r.topic.startswith(FEED_PREFIX)]


def generic(data: bytes) -> dict[str, Any] | None:
    try:
        return to_row(codec().decode(data, expect=FEED_ITEM))
    except DecodeError:
        return None


@pytest.mark.parametrize("order", ["production", "recipient", "shuffled"])
def test_rows_are_the_generic_decodings_rows(feed_recs: list[Record], order: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    recs = list(feed_recs)
    if order == "recipient":
        recs.sort(key=lambda r: (r.topic, r.offset))
    elif order == "shuffled":
        random.Random(3).shuffle(recs)
    # small bounds, so the caches are emptied and refilled during the run too
    monkeypatch.setattr(feedrow, "MAX_REPORTS", 40)
    monkeypatch.setattr(feedrow, "MAX_SHARED_ELEMENTS", 64)
    monkeypatch.setattr(feedrow, "MAX_TAILS", 16)
    rows = feedrow.FeedRows(codec())
    reads = 0
    read = rows._read

    def counting(schema: Any, data: bytes, pos: int) -> Any:
        nonlocal reads
        reads += 1
        return read(schema, data, pos)

    monkeypatch.setattr(rows, "_read", counting)
    answered = 0
    for r in recs:
        got = rows.row(r.value)  # None: left to the codec (few parts shared lately)
        if got is not None:
            answered += 1
            assert got == generic(r.value)
    assert rows.enabled
    assert len(recs) > 500
    if order == "production":  # a report's items one after another: each answered, its Report part read once
        assert answered == len(recs)
        reports = {to_row(codec().decode(r.value))["report_id"] for r in recs}
        assert rows._report_count < 2 * len(reports)
    else:
        assert answered >= feedrow.PROBE


def test_never_accepts_what_the_codec_rejects(feed_recs: list[Record]) -> None:
    """Corrupted records (a byte changed, cut short, bytes appended, another framing): the shortcut
    gives no row, or the codec's row for those very bytes -- never a row the codec would not give.
    The caches are warm with the intact records, so a corrupted copy meets parts seen before."""
    rows = feedrow.FeedRows(codec())
    rng = random.Random(11)
    sample = feed_recs[:120]
    for r in sample:
        rows.row(r.value)
    tried = answered = 0
    for r in sample:
        data = r.value
        variants = [data[:rng.randrange(1, len(data))], data + b"\x00", data + b"\x02x", b"\x00" + data[1:],
                    data[:2] + b"\x00" * 8 + data[HEADER_LEN:]]
        for _ in range(6):
            i = rng.randrange(HEADER_LEN, len(data))
            variants.append(data[:i] + bytes([rng.randrange(256)]) + data[i + 1:])
        for v in variants:
            tried += 1
            got = rows.row(v)
            if got is not None:
                answered += 1
                assert got == generic(v)
    assert rows.enabled and tried > 1000 and answered > 0


def test_bad_records_are_dead_lettered_as_before(feed_recs: list[Record]) -> None:
    good = feed_recs[0]
    cut = Record(good.topic, 0, 1, good.key, good.value[:-3], good.timestamp)
    wrong = next(r for r in feed_recs if r.topic != good.topic)
    moved = Record(good.topic, 0, 2, wrong.key, wrong.value, wrong.timestamp)  # another recipient's item
    batch = classify([good, cut, moved])
    assert [r["item_id"] for r in batch.feed_rows] == [to_row(codec().decode(good.value))["item_id"]]
    with pytest.raises(DecodeError) as cut_error:
        codec().decode(cut.value, expect=FEED_ITEM)
    # the codec's own words for the cut record (the shortcut gave no row: the codec decoded it)
    assert [d["reason"] for d in batch.dead_letters] == [
        f"{cut_error.value.problem}: {cut_error.value}",
        f"wrong_recipient: undecodable message (wrong_recipient): recipient {wrong.topic.removeprefix(FEED_PREFIX)} "
        f"on topic {good.topic}"]


def stored(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT * FROM feed_items ORDER BY recipient, seq").fetchall()
    finally:
        conn.close()


def test_stored_rows_are_byte_identical_and_redelivery_changes_nothing(
        feed_recs: list[Record], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same records through the projection twice: with the shortcut, and with the generic
    decoding only (the shortcut off). Every column of every ``feed_items`` row is the same (the
    clock held, so ``stored_at`` too); a redelivery of every record adds and changes nothing."""
    settings = hub_settings()
    monkeypatch.setattr(store, "now_ms", lambda: 1_780_000_000_000)

    def run(name: str, shortcut: bool) -> Path:
        rows = feedrow.FeedRows(codec())
        rows.enabled = shortcut
        monkeypatch.setattr(feedrow, "_rows", rows)
        db = Database(f"sqlite:///{tmp_path / name / 'hub.db'}")
        proj = FeedProjection(db, settings)
        try:
            for i in range(0, len(feed_recs), 500):
                write(proj, classify(feed_recs[i:i + 500]))
        finally:
            proj.close()
            db.close()
        return tmp_path / name / "hub.feed.db"

    before = stored(run("generic", shortcut=False))
    after_path = run("spliced", shortcut=True)
    after = stored(after_path)
    assert len(after) == len(feed_recs)
    assert after == before
    assert all(isinstance(row[-1], str) for row in after)

    # redelivered: every record again (other batch boundaries), nothing added or changed
    db = Database(f"sqlite:///{tmp_path / 'spliced' / 'hub.db'}")
    proj = FeedProjection(db, settings)
    try:
        for i in range(0, len(feed_recs), 333):
            assert write(proj, classify(feed_recs[i:i + 333])) == 0
    finally:
        proj.close()
        db.close()
    assert stored(after_path) == after


def test_a_new_feed_file_has_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    new = Database(f"sqlite:///{tmp_path / 'new' / 'hub.db'}")
    try:
        assert new.feed_database().query("PRAGMA page_size")[0]["page_size"] == FEED_PAGE_SIZE
    finally:
        new.close()
    old_feed = tmp_path / "old" / "hub.feed.db"
    old_feed.parent.mkdir()
    conn = sqlite3.connect(old_feed)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    old = Database(f"sqlite:///{tmp_path / 'old' / 'hub.db'}")
    try:
        fdb = store.feed_database(old)
        assert fdb.query("PRAGMA page_size")[0]["page_size"] == 4096
        assert fdb.query("SELECT COUNT(*) AS n FROM feed_items")[0]["n"] == 0
    finally:
        old.close()

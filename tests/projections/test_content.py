"""The projections store, from the records on their topics, exactly what they stored before the
decoding was streamlined (issue 20): each feed item's JSON built once, right after its decoding, and
the decoded item dropped; a receipt's JSON written by orjson instead of a recursive copy; the index
text of repeated texts remembered. The reference is the previous path, kept here: decoded FeedItems
and Receipts handed to the projections (the store and the index building the JSON from them), the
previous ``receipt_json`` and ``joined``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from hub.analyst import extract
from hub.analyst.text import tokens
from hub.domain.codec import FEED_ITEM, RECEIPT, codec
from hub.domain.feedjson import jsonable
from hub.platform.db import Database
from hub.platform.kafka.topics import RECEIPTS
from hub.projections.base import Sorted, classify
from hub.projections.registry import build
from hub.sink import write
from hub.tools.bench.projections import Record, records
from tests.analyst.test_batching import dump
from tests.conftest import hub_settings
from tests.helpers import fresh_pg_database

NAMES = ("feeds", "analyst")  # the projections that read feed items and receipts


def previous_receipt_json(receipt: Mapping[str, Any]) -> dict[str, Any]:
    as_item = jsonable({"routed_at": receipt["routed_at"], "report": receipt["report"], "enrichment": {}})
    out = {k: v for k, v in receipt.items() if k not in ("report", "routed_at")}
    return {**out, "report": as_item["report"], "routed_at": as_item["routed_at"]}


def previous_joined(parts: list[str]) -> str:
    return " ".join(t for p in parts for t in tokens(p))


def chunks(recs: Sequence[Record], n: int) -> Iterator[Sequence[Record]]:
    for i in range(0, len(recs), n):
        yield recs[i:i + n]


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'before.db'}", f"sqlite:///{tmp_path / 'after.db'}"
    server = str(request.getfixturevalue("pg_server"))
    return fresh_pg_database(server, "content_before"), fresh_pg_database(server, "content_after")


def test_rows_built_at_decoding_store_what_the_decoded_items_stored(urls: tuple[str, str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    settings = hub_settings()
    # what the pipeline's decision core makes of simulator reports: rich enrichment, partner redaction
    recs = [r for r in records(60, settings) if r.topic.startswith("hub.feed.") or r.topic == RECEIPTS]
    c = codec()
    before_url, after_url = urls

    with monkeypatch.context() as m:  # the previous path
        m.setattr(extract, "receipt_json", previous_receipt_json)
        m.setattr(extract, "joined", previous_joined)
        db = Database(before_url)
        projections = build(NAMES, db, settings)
        for part in chunks(recs, 100):
            decoded = Sorted(feed_items=[c.decode(r.value, expect=FEED_ITEM) for r in part if r.topic != RECEIPTS],
                             receipts=[c.decode(r.value, expect=RECEIPT) for r in part if r.topic == RECEIPTS])
            for p in projections:
                write(p, decoded)
        db.close()

    db = Database(after_url)
    projections = build(NAMES, db, settings)
    for part in chunks(recs, 100):
        batch = classify(part)
        assert not batch.feed_items and not batch.dead_letters
        assert len(batch.feed_rows) == sum(1 for r in part if r.topic != RECEIPTS)
        for p in projections:
            write(p, batch)
    stored = dump(after_url)
    assert stored == dump(before_url)
    assert len(stored["feed_items"]) == sum(1 for r in recs if r.topic != RECEIPTS) > 100
    assert any("sent" in row for row in stored["analyst_docs"])  # the receipts' documents too

    # the stored JSON is the item's JSON data as before (jsonable: timestamps as RFC 3339 strings)
    items = {r["item_id"]: r["item"] for r in db.query("SELECT item_id, item FROM feed_items")}
    for r in recs[:200]:
        if r.topic != RECEIPTS:
            item = c.decode(r.value, expect=FEED_ITEM)
            assert orjson.loads(items[item["item_id"]]) == jsonable(item)

    # a redelivery (every record again) writes nothing new
    for part in chunks(recs, 100):
        for p in projections:
            write(p, classify(part))
    assert dump(after_url) == stored
    db.close()


def test_receipt_json_is_the_previous_data_in_the_same_order() -> None:
    settings = hub_settings()
    c = codec()
    receipts = [c.decode(r.value, expect=RECEIPT) for r in records(40, settings) if r.topic == RECEIPTS]
    assert receipts
    for rc in receipts:
        new, old = extract.receipt_json(rc), previous_receipt_json(rc)
        assert new == old
        assert orjson.dumps(new) == orjson.dumps(old)  # the analyst stores orjson.dumps of the body
        assert isinstance(new["routed_at"], str) and isinstance(new["report"]["event_time"], str)

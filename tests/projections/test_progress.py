"""Where each projection is: the lag arithmetic, the progress rows written with the batches, and
``GET /v1/projections`` through the real gateway (the analyst page can say search lags the feed)."""

from __future__ import annotations

from pathlib import Path

import httpx

from hub.analyst.projection import AnalystProjection
from hub.directory.officers import Officers
from hub.feeds.projection import FeedProjection
from hub.platform.db import Database
from hub.platform.kafka.embedded import EmbeddedBroker, free_port
from hub.projections import progress
from hub.projections.base import Sorted
from hub.sink import write
from tests.conftest import broker_settings
from tests.factories import feed_item, report
from tests.helpers import ThreadGateway


def test_lag_is_zero_when_caught_up_else_the_age_of_the_newest_record() -> None:
    assert progress.lag_seconds(1_000, 0, 60_000) == 0.0
    assert progress.lag_seconds(1_000, None, 60_000) == 0.0
    assert progress.lag_seconds(1_000, 25, 61_000) == 60.0
    assert progress.lag_seconds(None, 3, 61_000) == float("inf")
    assert progress.lag_seconds(70_000, 3, 61_000) == 0.0  # a clock behind the record's: never negative


def test_the_endpoint_says_how_far_search_is_behind_the_feed(broker: EmbeddedBroker, tmp_path: Path) -> None:
    s = broker_settings(broker, data_dir=str(tmp_path / "hub"), gateway_port=free_port())
    db = Database(s.db_url)
    items = [feed_item(item_id=f"{r['report_id']}:1:UZ", recipient="UZ", report=r)
             for r in (report(source_ref=f"P{i}") for i in range(3))]
    write(FeedProjection(db, s), Sorted(feed_items=items), last_record_ms=progress.now_ms() - 500, backlog=0)
    # the analyst projection is 40 s behind, with records still waiting
    write(AnalystProjection(db, s), Sorted(feed_items=items[:1]), last_record_ms=progress.now_ms() - 40_000,
          backlog=2)
    token = Officers(db, s).add("reader", "UZ")
    gw = ThreadGateway(s).start()
    try:
        url = f"http://127.0.0.1:{s.gateway_port}/v1/projections"
        assert httpx.get(url).status_code == 401
        got = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 200, got.text
        by = {p["projection"]: p for p in got.json()["projections"]}
        assert by["feeds"]["lag_seconds"] == 0.0 and by["feeds"]["records"] == 3 and by["feeds"]["rows_added"] == 3
        assert 39 <= by["analyst"]["lag_seconds"] <= 600 and by["analyst"]["backlog"] == 2
        assert by["analyst"]["behind_feed_seconds"] == by["analyst"]["lag_seconds"]
        assert by["analyst"]["running"] and by["analyst"]["records"] == 1
    finally:
        gw.stop()

"""The collection store (hub/interop/store.py) on SQLite and PostgreSQL: it maps exactly the state's
feed, incrementally, once per object version even with two gateways syncing at once, and its queries
(paging, filters, versions) answer the same on both databases."""

from __future__ import annotations

import threading
from typing import Any

from hub.feeds.store import FeedStore
from hub.interop import stix
from hub.interop.store import Query, StixStore
from hub.platform.db import Database
from hub.sink import Sink, Sorted
from tests.conftest import hub_settings
from tests.interop import world
from tests.interop.test_stix import collection as expected

STATES = ("KZ", "UZ", "AF", "CARICC")


def test_sync_maps_the_feed_incrementally_and_once(db_url: str) -> None:
    items = world.feed_items()
    half = len(items) // 2
    db = Database(db_url)
    try:
        FeedStore(db)
        sink = Sink(hub_settings(), db=db)
        sink.write(Sorted(feed_items=items[:half]))
        stores = [StixStore(Database(db_url)) for _ in range(2)]
        errors: list[BaseException] = []

        def run(s: StixStore) -> None:
            try:
                for state in STATES:
                    s.sync(state)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        sink.write(Sorted(feed_items=items[half:]))  # the feed grows: the next sync maps the rest only
        store = StixStore(db)
        mapped = {s: store.sync(s) for s in STATES}
        assert all(n > 0 for n in mapped.values())
        assert {s: store.sync(s) for s in STATES} == dict.fromkeys(STATES, 0)
        for state in STATES:
            assert store.everything(state) == expected(world.items_of(state)), state
        rows = db.query("SELECT collection, stix_id, version, COUNT(*) AS n FROM stix_objects "
                        "GROUP BY collection, stix_id, version HAVING COUNT(*) > 1")
        assert rows == []
        for s in stores:
            s.db.close()
    finally:
        db.close()


def _ids(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["stix_id"], r["version"]) for r in rows]


def test_queries_page_and_filter(db_url: str) -> None:
    db = Database(db_url)
    try:
        FeedStore(db)
        Sink(hub_settings(), db=db).write(Sorted(feed_items=world.feed_items()))
        store = StixStore(db)
        store.sync("UZ")
        every = expected(world.items_of("UZ"))
        rows, more = store.page("UZ", Query(versions=("all",), limit=10_000))
        assert not more and _ids(rows) == [(o["id"], stix.version_of(o)) for o in every]
        paged: list[dict[str, Any]] = []
        q = Query(versions=("all",), limit=6)
        while True:
            page, more = store.page("UZ", q)
            paged += page
            if not more:
                break
            q = Query(after=(int(page[-1]["seq"]), int(page[-1]["pos"])), versions=("all",), limit=6)
        assert _ids(paged) == _ids(rows)
        reports = [o for o in every if o["type"] == "report"]
        multi = sorted({o["id"] for o in reports if sum(x["id"] == o["id"] for x in reports) > 1})
        assert multi
        mine = [o for o in reports if o["id"] == multi[0]]
        for versions, want in ((("last",), [mine[-1]]), (("first",), [mine[0]]), (("first", "last"), [mine[0], mine[-1]]),
                               ((mine[0]["modified"],), [mine[0]])):
            got, _ = store.page("UZ", Query(ids=(multi[0],), versions=versions))
            assert [r["version"] for r in got] == [o["modified"] for o in want], versions
        only, _ = store.page("UZ", Query(types=("location",), limit=10_000))
        assert {r["type"] for r in only} == {"location"} and len(only) == sum(o["type"] == "location" for o in every)
        later, _ = store.page("UZ", Query(added_after_ms=max(int(r["added_ms"]) for r in rows), limit=10_000))
        assert later == []
        v, more = store.versions("UZ", multi[0], Query(limit=100))
        assert not more and [r["version"] for r in v] == [o["modified"] for o in mine]
        assert store.holds("UZ", multi[0]) and not store.holds("KZ", "report--00000000-0000-4000-8000-000000000000")
    finally:
        db.close()

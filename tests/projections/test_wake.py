"""Push, not poll (issue 20): a committed feed batch wakes the gateway's streams at once — PostgreSQL
NOTIFY, a same-host datagram on SQLite — and a rolled-back one wakes nobody. The watchers' fallback
re-check is set to an hour here, so only the wake-up can deliver."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.feeds.http import FeedWatch
from hub.feeds.projection import FeedProjection
from hub.feeds.store import FeedStore
from hub.platform.db import Database
from hub.projections import wake
from hub.projections.base import Sorted
from hub.provider.projection import ProviderProjection
from hub.sink import write
from tests.conftest import hub_settings
from tests.factories import feed_item, report
from tests.provider.conftest import batch, receipt, stage, uz_report

HOUR = 3600.0


def item(state: str, ref: str) -> dict:
    rep = report(source_ref=ref)
    return feed_item(item_id=f"{rep['report_id']}:1:{state}", recipient=state, report=rep)


def test_a_committed_batch_wakes_the_streams_of_its_feeds_only(db_url: str, tmp_path: Path) -> None:
    settings = hub_settings(data_dir=str(tmp_path / "hub"))
    db = Database(db_url)
    projection = FeedProjection(db, settings)

    async def go() -> None:
        watch = FeedWatch(FeedStore(Database(db_url)), fallback=HOUR)
        assert watch.pushed
        watch.start()
        await asyncio.wait_for(watch.heads.listener.listening.wait(), 30)
        uz = asyncio.create_task(watch.wait("UZ", 0, HOUR))
        kz = asyncio.create_task(watch.wait("KZ", 0, 1.0))
        await asyncio.sleep(0.1)
        assert not uz.done()
        await asyncio.to_thread(write, projection, Sorted(feed_items=[item("UZ", "W1"), item("UZ", "W2")]))
        assert await asyncio.wait_for(uz, 30) is True  # woken by the commit (the fallback is an hour away)
        assert await kz is False  # another feed's stream stays asleep
        assert watch.heads.heads["UZ"] == 2
        # a batch whose transaction rolls back wakes nobody
        broken = Sorted(feed_items=[item("UZ", "W3")])
        with pytest.raises(RuntimeError), projection.db.transaction():  # its own (SQLite: the feed file)
            projection.write(broken)
            raise RuntimeError("rolled back")
        assert await watch.wait("UZ", 2, 1.0) is False
        await asyncio.to_thread(write, projection, broken)  # the replay commits and wakes
        assert await asyncio.wait_for(watch.wait("UZ", 2, HOUR), 30) is True
        assert watch.heads.heads["UZ"] == 3
        await watch.close()

    asyncio.run(go())
    projection.close()


def test_the_provider_projection_wakes_the_agency_event_streams(db_url: str, tmp_path: Path) -> None:
    settings = hub_settings(data_dir=str(tmp_path / "hub"))
    db = Database(db_url)
    projection = ProviderProjection(db, settings)
    rep = uz_report()

    async def go() -> None:
        heads = wake.Heads(Database(db_url), wake.PROVIDER)
        heads.start()
        await asyncio.wait_for(heads.listener.listening.wait(), 30)
        waiting = asyncio.create_task(heads.wait(rep["agency"], 0, HOUR))
        await asyncio.to_thread(write, projection, batch(
            stage("RECEIVED", rep, 1_000, actor="agency:UZ-CUSTOMS", detail={"source_ref": rep["source_ref"]}),
            receipt(rep, [("KZ", "NEW")], at=2_000)))
        assert await asyncio.wait_for(waiting, 30) is True
        assert heads.heads[rep["agency"]] >= 2
        await heads.close()

    asyncio.run(go())
    projection.close()


def test_a_gateway_that_is_gone_is_forgotten_by_the_writer(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    d = wake.wake_dir(db, wake.FEED)
    assert d is not None
    d.mkdir(parents=True, exist_ok=True)
    import socket

    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(d / "1-dead.sock"))
    dead.close()  # bound, then its process died: the file stays
    n = wake.Notifier(db, wake.FEED)
    n.after_commit({"UZ": 1})
    assert not (d / "1-dead.sock").exists()
    n.close()
